"""Multiplicative (Luong) attention: dot, general, scaled and concat scores."""

import math

import keras
from keras import ops

from layers.additive import additive_scores
from layers.base import SingleHeadAttention

SCORE_MODES = ("dot", "general", "scaled", "concat")


@keras.saving.register_keras_serializable(package="layers")
class DotProductAttention(SingleHeadAttention):
    """Luong attention with the score functions of Luong et al. (2015), Eq. 8.

    * ``dot``:     ``score(q, k) = q^T k``
    * ``general``: ``score(q, k) = q^T W k``
    * ``scaled``:  ``score(q, k) = q^T k / sqrt(d_k)`` (Vaswani et al., 2017)
    * ``concat``:  ``score(q, k) = v^T tanh(W [q; k])``, computed as
      ``v^T tanh(W_q q + W_k k)`` with ``W = [W_q, W_k]``.

    Then ``a_ij = softmax_j(score(q_i, k_j))`` and ``c_i = sum_j a_ij v_j``.
    `dot`, `general` and `scaled` use the fused kernel when the weights are not
    requested, dropout is inactive and the values are as wide as the keys.

    Paper: Luong, Pham, Manning, "Effective Approaches to Attention-based Neural
    Machine Translation", EMNLP 2015.

    Args:
        score_mode: one of `"dot"`, `"general"`, `"scaled"`, `"concat"`.
        units: hidden width of the `concat` score (required for it, unused otherwise).
        dropout: dropout rate on the attention weights.
        kernel_initializer: initializer of `W` (and `v`).

    Call arguments and returns: see `layers.base.SingleHeadAttention`; scores
    come back as `(batch, T_q, T_k)` (single head, no heads axis).

    Example:

    >>> layer = DotProductAttention(score_mode="general")
    >>> decoder_states = keras.random.normal((2, 5, 16))
    >>> encoder_states = keras.random.normal((2, 7, 16))
    >>> tuple(layer(decoder_states, encoder_states).shape)
    (2, 5, 16)
    """

    def __init__(self, score_mode="dot", units=None, dropout=0.0, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(dropout=dropout, **kwargs)
        if score_mode not in SCORE_MODES:
            raise ValueError(f"`score_mode` must be one of {SCORE_MODES}; received score_mode={score_mode!r}.")
        if score_mode == "concat" and (not isinstance(units, int) or units < 1):
            raise ValueError(f"score_mode='concat' needs a positive integer `units`; received units={units!r}.")
        self.score_mode = score_mode
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, query_shape, value_shape=None, key_shape=None):
        key_shape = key_shape or value_shape
        query_dim, key_dim = query_shape[-1], key_shape[-1]
        if self.score_mode in ("dot", "scaled") and query_dim != key_dim:
            raise ValueError(
                f"score_mode={self.score_mode!r} needs queries and keys of one width; received "
                f"query width {query_dim} and key width {key_dim}. Use 'general' or 'concat' for different widths."
            )
        if self.score_mode == "general":
            self.kernel = self.add_weight(
                name="kernel", shape=(query_dim, key_dim), initializer=self.kernel_initializer
            )
        if self.score_mode == "concat":
            self.query_kernel = self.add_weight(
                name="query_kernel", shape=(query_dim, self.units), initializer=self.kernel_initializer
            )
            self.key_kernel = self.add_weight(
                name="key_kernel", shape=(key_dim, self.units), initializer=self.kernel_initializer
            )
            self.scorer = self.add_weight(name="scorer", shape=(self.units,), initializer=self.kernel_initializer)

    def dot_product_terms(self, query, key):
        if self.score_mode == "dot":
            return query, key, 1.0
        if self.score_mode == "scaled":
            return query, key, 1.0 / math.sqrt(key.shape[-1])
        if self.score_mode == "general":
            return ops.matmul(query, self.kernel), key, 1.0
        return None

    def project_key(self, key):
        return ops.matmul(key, self.key_kernel) if self.score_mode == "concat" else key

    def score_projected(self, query, projected_key):
        if self.score_mode != "concat":
            return super().score_projected(query, projected_key)
        return additive_scores(ops.matmul(query, self.query_kernel), projected_key, self.scorer)

    def get_config(self):
        return {
            **super().get_config(),
            "score_mode": self.score_mode,
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
