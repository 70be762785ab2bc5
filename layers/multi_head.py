"""Multi-head scaled dot-product attention."""

import math

import keras
from keras import ops

from layers import core
from layers.validation import check_positive_int, check_rate


@keras.saving.register_keras_serializable(package="layers")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention (Vaswani et al., 2017, Section 3.2).

    ``head_h = softmax(Q W_h^Q (K W_h^K)^T / sqrt(d_k)) V W_h^V`` for
    ``h = 1..H``, and ``MultiHead(Q, K, V) = Concat(head_1..head_H) W^O``.

    Fast path: when the weights are not requested and dropout is inactive the
    heads run through `keras.ops.dot_product_attention` (the backend's fused
    kernel); otherwise the scores are formed explicitly. Both paths apply the
    same masks and give the same numbers. Weights have the shapes and order of
    `keras.layers.MultiHeadAttention` (query, key, value and output kernels and
    biases), so `set_weights(keras_layer.get_weights())` carries them across.

    Paper: Vaswani et al., "Attention Is All You Need", NeurIPS 2017.

    Args:
        num_heads: number of heads `H`.
        key_dim: width `d_k` of each head's queries and keys.
        value_dim: width `d_v` of each head's values; defaults to `key_dim`.
        dropout: dropout rate on the attention weights.
        use_bias: biases in the four projections.
        output_dim: width of the output; defaults to the query's width.
        kernel_initializer, bias_initializer: initializers of the projections.

    Call arguments:
        query: `(batch, T_q, d_query)`.
        value: `(batch, T_k, d_value)`.
        key: `(batch, T_k, d_key)`; defaults to `value`.
        query_mask: `(batch, T_q)` boolean; padded queries get zero weights.
            Defaults to the implicit Keras mask of `query`.
        value_mask: `(batch, T_k)` boolean; padded keys get zero weight.
            Defaults to the implicit Keras mask of `value`.
        attention_mask: `(batch, T_q, T_k)` boolean, False where query `i` may
            not attend to key `j`.
        use_causal_mask: forbid attention to later positions.
        return_attention_scores: also return the weights.
        training: Python bool; enables dropout.

    Returns:
        `(batch, T_q, output_dim)`, and with `return_attention_scores=True` the
        weights `(batch, H, T_q, T_k)`: rows sum to 1, masked keys are 0, rows of
        padded queries are all 0.

    Example:

    >>> mha = MultiHeadAttention(num_heads=4, key_dim=8)
    >>> x = keras.random.normal((2, 10, 32))
    >>> y, scores = mha(x, x, use_causal_mask=True, return_attention_scores=True)
    >>> tuple(y.shape), tuple(scores.shape)
    ((2, 10, 32), (2, 4, 10, 10))
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_dim=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_heads=num_heads, key_dim=key_dim)
        check_positive_int(optional=True, value_dim=value_dim, output_dim=output_dim)
        check_rate(dropout=dropout)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim or key_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.output_dim = output_dim
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True
        self._dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def _projection(self, name, kernel_shape, bias_shape):
        """Kernel and (optional) bias of one projection, in Keras' weight order."""
        kernel = self.add_weight(name=f"{name}_kernel", shape=kernel_shape, initializer=self.kernel_initializer)
        bias = (
            self.add_weight(name=f"{name}_bias", shape=bias_shape, initializer=self.bias_initializer)
            if self.use_bias
            else None
        )
        return kernel, bias

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = key_shape or value_shape
        heads = self.num_heads
        self.query_kernel, self.query_bias = self._projection(
            "query", (query_shape[-1], heads, self.key_dim), (heads, self.key_dim)
        )
        self.key_kernel, self.key_bias = self._projection(
            "key", (key_shape[-1], heads, self.key_dim), (heads, self.key_dim)
        )
        self.value_kernel, self.value_bias = self._projection(
            "value", (value_shape[-1], heads, self.value_dim), (heads, self.value_dim)
        )
        output_dim = self.output_dim or query_shape[-1]
        self.output_kernel, self.output_bias = self._projection(
            "output", (heads, self.value_dim, output_dim), (output_dim,)
        )

    @staticmethod
    def _project(x, kernel, bias, equation):
        y = ops.einsum(equation, x, kernel)
        return y if bias is None else y + bias

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
        split_heads = "btd,dnh->btnh"
        context, weights = core.scaled_dot_product(
            self._project(query, self.query_kernel, self.query_bias, split_heads),
            self._project(key, self.key_kernel, self.key_bias, split_heads),
            self._project(value, self.value_kernel, self.value_bias, split_heads),
            mask,
            scale=1.0 / math.sqrt(self.key_dim),
            dropout=self._dropout_layer,
            training=training,
            return_attention_scores=return_attention_scores,
        )
        output = self._project(context, self.output_kernel, self.output_bias, "btnh,nhd->btd")
        if return_attention_scores:
            return output, weights
        return output

    def compute_mask(self, query, value, key=None, query_mask=None, value_mask=None, **kwargs):
        return query_mask

    def compute_output_shape(self, query_shape, value_shape, key_shape=None, **kwargs):
        return tuple(query_shape[:-1]) + (self.output_dim or query_shape[-1],)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_dim": self.output_dim,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
