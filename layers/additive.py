"""Additive (Bahdanau) attention."""

import keras
from keras import ops

from layers.base import SingleHeadAttention
from layers.validation import check_positive_int


def additive_scores(query_features, key_features, scorer):
    """``e_ij = v^T tanh(a_i + b_j)`` for projected queries ``a`` and keys ``b``.

    Args:
        query_features: `(batch, T_q, units)`, e.g. `W_q q`.
        key_features: `(batch, T_k, units)`, e.g. `W_k k`.
        scorer: the vector `v` of shape `(units,)`.

    Returns:
        `(batch, T_q, T_k)` scores.
    """
    hidden = ops.tanh(ops.expand_dims(query_features, 2) + ops.expand_dims(key_features, 1))
    return ops.einsum("btsu,u->bts", hidden, scorer)


@keras.saving.register_keras_serializable(package="layers")
class AdditiveAttention(SingleHeadAttention):
    """Additive attention with learned projections (Bahdanau et al., 2015).

    ``e_ij = v^T tanh(W_q q_i + W_k k_j + b)``, ``a_ij = softmax_j(e_ij)``,
    ``c_i = sum_j a_ij v_j``.

    Unlike `keras.layers.AdditiveAttention`, which scores ``sum(scale * tanh(q + k))``
    with no projections, `W_q`, `W_k` and `v` are learned, as in the paper (with
    a bias `b`, as in common implementations), so queries and keys may have
    different widths.

    Paper: Bahdanau, Cho, Bengio, "Neural Machine Translation by Jointly
    Learning to Align and Translate", ICLR 2015 (Appendix A.1.2).

    Args:
        units: width of the hidden layer of the alignment model (`n'` in the paper).
        use_bias: add the bias `b` inside the `tanh`.
        dropout: dropout rate on the attention weights.
        kernel_initializer: initializer of `W_q`, `W_k` and `v`.

    Call arguments and returns: see `layers.base.SingleHeadAttention`; scores
    come back as `(batch, T_q, T_k)` (single head, no heads axis).

    Example:

    >>> layer = AdditiveAttention(units=32)
    >>> decoder_states = keras.random.normal((2, 5, 16))
    >>> encoder_states = keras.random.normal((2, 7, 24))
    >>> context, weights = layer(decoder_states, encoder_states,
    ...                          return_attention_scores=True)
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 5, 24), (2, 5, 7))
    """

    def __init__(self, units, use_bias=True, dropout=0.0, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(dropout=dropout, **kwargs)
        check_positive_int(units=units)
        self.units = units
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, query_shape, value_shape=None, key_shape=None):
        key_shape = key_shape or value_shape
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(query_shape[-1], self.units), initializer=self.kernel_initializer
        )
        self.key_kernel = self.add_weight(
            name="key_kernel", shape=(key_shape[-1], self.units), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer="zeros") if self.use_bias else None
        )
        self.scorer = self.add_weight(name="scorer", shape=(self.units,), initializer=self.kernel_initializer)

    def project_key(self, key):
        return ops.matmul(key, self.key_kernel)

    def score_projected(self, query, projected_key):
        query_features = ops.matmul(query, self.query_kernel)
        if self.bias is not None:
            query_features = query_features + self.bias
        return additive_scores(query_features, projected_key, self.scorer)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
