"""Multi-head scaled dot-product attention."""

import math

import keras
from keras import ops

from layers import core
from layers.symbolic import TracedOutputSpec
from layers.validation import check_positive_int, check_rate


_SPLIT_HEADS = "btd,dnh->btnh"


def _pad_mask_to(mask, length):
    """A `(batch, T)` key mask, `T <= length`, extended at the front with True to `length` keys.

    The front keys are the cached ones, which were real when they were cached.
    """
    if mask is None:
        return None
    mask = ops.cast(mask, "bool")
    cached = ops.ones((ops.shape(mask)[0], length - ops.shape(mask)[1]), dtype="bool")
    return ops.concatenate([cached, mask], axis=1)


def self_or_cross_attention(query, value, key=None, **kwargs):
    """The kind of a multi-head attention call's weights, from its arguments: `("self",)` when `query`
    attends over itself (`value` is `query`, and so is `key` if given), else `("cross",)` (another
    sequence, or a cache alone). Keras' own `MultiHeadAttention` takes the same arguments."""
    return ("self",) if value is query and (key is None or key is query) else ("cross",)


@keras.saving.register_keras_serializable(package="layers")
class MultiHeadAttention(TracedOutputSpec, keras.layers.Layer):
    """Multi-head attention (Vaswani et al., 2017, Section 3.2).

    ``head_h = softmax(Q W_h^Q (K W_h^K)^T / sqrt(d_k)) V W_h^V`` for
    ``h = 1..H``, and ``MultiHead(Q, K, V) = Concat(head_1..head_H) W^O``; each
    projection adds a bias with `use_bias` (the default, as Keras' layer).

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
        cache: keys and values already projected, `(batch, 2, T_c, H, d_k)`
            (from `project_key_value` or an earlier call). The keys and values of
            `key`/`value` are appended to it, so incremental decoding projects
            each token once and step `t` costs O(t); with `value=None` the
            cache alone is attended (cross-attention over a fixed memory), and
            no `key` may be given.
            `value_mask` may cover only the new keys (cached ones count as
            real) or all of them; the causal mask aligns the queries with the
            last keys.

    Returns:
        `(batch, T_q, output_dim)`; with a `cache`, the tuple `(output, cache)`
        with the new keys appended; with `return_attention_scores=True` the
        weights `(batch, H, T_q, T_k)` come last, as before dropout: rows sum to
        1, masked keys are 0, rows of padded queries are all 0.

    Example:

    >>> mha = MultiHeadAttention(num_heads=4, key_dim=8)
    >>> x = keras.random.normal((2, 10, 32))
    >>> y, scores = mha(x, x, use_causal_mask=True, return_attention_scores=True)
    >>> tuple(y.shape), tuple(scores.shape)
    ((2, 10, 32), (2, 4, 10, 10))
    """

    # Time and memory against the sequence length n (queries and keys), for `zoo.describe`.
    cost = "O(n^2)"
    # Why this layer takes no attention dropout (`dropout` must be 0), or None where it drops weights.
    dropout_refusal = None

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

    def attention_kinds(self, *args, **kwargs):
        """What the weights of this call are, for `zoo.attention_maps`: `self_or_cross_attention`."""
        return self_or_cross_attention(*args, **kwargs)

    @staticmethod
    def _project(x, kernel, bias, equation):
        y = ops.einsum(equation, x, kernel)
        return y if bias is None else y + bias

    def project_heads(self, x, which):
        """`x` through the `which` ("query", "key" or "value") projection, split into heads: `(batch, T, H, d)`."""
        return self._project(x, getattr(self, f"{which}_kernel"), getattr(self, f"{which}_bias"), _SPLIT_HEADS)

    def merge_heads(self, context):
        """The output projection of the heads' contexts `(batch, T, H, d_v)`: `(batch, T, output_dim)`."""
        return self._project(context, self.output_kernel, self.output_bias, "btnh,nhd->btd")

    def project_key_value(self, value, key=None):
        """The cache of `value` (and `key`, default `value`): `(batch, 2, T, H, d_k)`.

        Project an encoder's output once and pass it as `cache` with
        `value=None` at every decoding step; project a zero-length sequence for
        an empty self-attention cache.
        """
        if self.value_dim != self.key_dim:
            raise ValueError(
                f"A key/value cache needs value_dim == key_dim; this layer has value_dim={self.value_dim}, "
                f"key_dim={self.key_dim}."
            )
        key = value if key is None else key
        return ops.stack([self.project_heads(key, "key"), self.project_heads(value, "value")], axis=1)

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
        cache=None,
    ):
        if value is None and cache is None:
            raise ValueError("`value` is required unless a `cache` of projected keys and values is given.")
        if value is None and key is not None:
            raise ValueError("`key` needs its `value`: with `value=None` only the cache is attended.")
        core.check_sequences(query, query if value is None else value, key)
        if cache is None:
            key = value if key is None else key
            projected_key, projected_value = self.project_heads(key, "key"), self.project_heads(value, "value")
        else:
            if value is not None:
                cache = ops.concatenate([cache, self.project_key_value(value, key)], axis=2)
            projected_key, projected_value = cache[:, 0], cache[:, 1]
            value_mask = _pad_mask_to(value_mask, ops.shape(projected_key)[1])
        mask = core.combine_masks(
            query,
            projected_key,
            query_mask=query_mask,
            value_mask=value_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
        )
        context, weights = core.scaled_dot_product(
            self.project_heads(query, "query"),
            projected_key,
            projected_value,
            mask,
            scale=1.0 / math.sqrt(self.key_dim),
            dropout=self._dropout_layer,
            training=training,
            return_attention_scores=return_attention_scores,
        )
        output = self.merge_heads(context)
        results = (output,) + ((cache,) if cache is not None else ()) + ((weights,) if return_attention_scores else ())
        return results if len(results) > 1 else output

    def compute_mask(self, query, previous_mask=None):
        """The output keeps the query's implicit mask (Keras passes the first input's)."""
        return previous_mask

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
