"""Base class of the single-head attention layers (Bahdanau, Luong).

It owns the package's call convention, masking and dropout; a subclass only says
how a query and a key are scored.
"""

import keras
from keras import ops

from layers import core
from layers.validation import check_rate


def _one_head(x):
    """`(batch, T, d)` -> `(batch, T, 1, d)`: the layout of the multi-head core."""
    return ops.expand_dims(x, 2)


class SingleHeadAttention(keras.layers.Layer):
    """Attention with one head: ``context_i = sum_j softmax_j(score(q_i, k_j)) v_j``.

    Subclasses implement ``score(query, key) -> (batch, T_q, T_k)``. Those whose
    score is a scaled dot product ``s * q'.k`` also implement
    ``dot_product_terms(query, key) -> (q', k, s)``, which enables the fused
    kernel when weights are not requested and dropout is inactive.

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

    def __init__(self, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_rate(dropout=dropout)
        self.dropout = dropout
        self.supports_masking = True
        self._dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def score(self, query, key):
        """Unnormalized scores `(batch, T_q, T_k)`."""
        terms = self.dot_product_terms(query, key)
        if terms is None:
            raise NotImplementedError(f"{type(self).__name__} must implement `score`.")
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
        else:
            scores = ops.expand_dims(self.score(query, key), 1)
            context, weights = core.attend(
                scores, _one_head(value), mask, dropout=self._dropout_layer, training=training
            )
        context = ops.squeeze(context, 2)
        if return_attention_scores:
            return context, ops.squeeze(weights, 1)
        return context

    def compute_mask(self, query, value, key=None, query_mask=None, value_mask=None, **kwargs):
        return query_mask

    def compute_output_shape(self, query_shape, value_shape, key_shape=None, **kwargs):
        return tuple(query_shape[:-1]) + (value_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout}
