"""Base class of the single-head attention layers (Bahdanau, Luong).

It owns the package's call convention, masking and dropout; a subclass only says
how a query and a key are scored.
"""

import keras
from keras import ops

from layers import core
from layers.symbolic import TracedOutputSpec
from layers.validation import check_rate


def _one_head(x):
    """`(batch, T, d)` -> `(batch, T, 1, d)`: the layout of the multi-head core."""
    return ops.expand_dims(x, 2)


class SingleHeadAttention(TracedOutputSpec, keras.layers.Layer):
    """Attention with one head: ``context_i = sum_j softmax_j(score(q_i, k_j)) v_j``.

    Subclasses whose score is a scaled dot product ``s * q'.k`` implement
    ``dot_product_terms(query, key) -> (q', k, s)``, which also enables the
    fused kernel when weights are not requested and dropout is inactive; the
    others implement ``score_projected(query, projected_key) -> (batch, T_q, T_k)``.
    Those that transform the keys (Bahdanau's ``W_k k``) do it in
    ``project_key``, so a recurrent decoder that attends over the same keys at
    every step projects them once (``attend_projected``).

    Args:
        dropout: dropout rate on the attention weights (training only).

    Call arguments:
        query: `(batch, T_q, d_q)`.
        value: `(batch, T_k, d_v)`.
        key: `(batch, T_k, d_k)`; defaults to `value`.
        query_mask: `(batch, T_q)` boolean; padded queries get zero weights.
            Taken from the implicit Keras mask of `query` when not given.
        value_mask: `(batch, T_k)` boolean; padded keys get zero weight. Taken
            from the implicit Keras mask of `value` when not given.
        attention_mask: `(batch, T_q, T_k)` boolean, False where query `i` may
            not attend to key `j`.
        use_causal_mask: forbid attention to later positions.
        return_attention_scores: also return the attention weights.
        training: Python bool; enables dropout.

    Returns:
        `context` of shape `(batch, T_q, d_v)`, and with
        `return_attention_scores=True` the weights `(batch, T_q, T_k)` (single
        head: no heads axis). Rows of the weights sum to 1, or are all 0 where the
        query is padded or may attend to no key.
    """

    # What the weights are, for `zoo.attention_maps`: single-head, `(batch, T_q, T_k)`.
    attention_kinds = ("alignment",)

    def __init__(self, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_rate(dropout=dropout)
        self.dropout = dropout
        self.supports_masking = True
        self._dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def project_key(self, key):
        """The part of the score that depends on the keys only; identity unless overridden."""
        return key

    def score_projected(self, query, projected_key):
        """Unnormalized scores `(batch, T_q, T_k)` from keys already passed through `project_key`."""
        terms = self.dot_product_terms(query, projected_key)
        if terms is None:
            raise NotImplementedError(f"{type(self).__name__} must implement `score_projected` or `dot_product_terms`.")
        q, k, scale = terms
        return ops.einsum("btd,bsd->bts", q, k) * ops.cast(scale, q.dtype)

    def dot_product_terms(self, query, key):
        return None

    def call(
        self,
        query,
        value,
        key=None,
        *,
        query_mask=None,
        value_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        core.check_sequences(query, value, key)
        key = value if key is None else key
        mask = core.combine_masks(
            query,
            key,
            query_mask=query_mask,
            value_mask=value_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
        )
        terms = self.dot_product_terms(query, key)
        if terms is not None:
            q, k, scale = terms
            context, weights = core.scaled_dot_product(
                _one_head(q),
                _one_head(k),
                _one_head(value),
                mask,
                scale=scale,
                dropout=self._dropout_layer,
                training=training,
                return_attention_scores=return_attention_scores,
            )
            context = ops.squeeze(context, 2)
            weights = None if weights is None else ops.squeeze(weights, 1)
        else:
            context, weights = self.attend_projected(query, value, self.project_key(key), mask, training=training)
        return (context, weights) if return_attention_scores else context

    def attend_projected(self, query, value, projected_key, mask=None, training=None):
        """`(context, weights)` for keys already passed through `project_key` (explicit path).

        Args:
            query: `(batch, T_q, d_q)`; value: `(batch, T_k, d_v)`;
            projected_key: `project_key(key)`; mask: boolean, broadcastable to
            `(batch, T_q, T_k)` (see `layers.core.combine_masks`), or `None`.

        Returns:
            `(batch, T_q, d_v)` context and `(batch, T_q, T_k)` weights.
        """
        scores = ops.expand_dims(self.score_projected(query, projected_key), 1)
        context, weights = core.attend(scores, _one_head(value), mask, dropout=self._dropout_layer, training=training)
        return ops.squeeze(context, 2), ops.squeeze(weights, 1)

    def compute_mask(self, query, previous_mask=None):
        """The output keeps the query's implicit mask (Keras passes the first input's)."""
        return previous_mask

    def compute_output_shape(self, query_shape, value_shape, key_shape=None, **kwargs):
        return tuple(query_shape[:-1]) + (value_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout}
