"""Transformer blocks built on `layers.MultiHeadAttention`."""

import keras

from layers.multi_head import MultiHeadAttention
from layers.validation import check_positive_int, check_rate


@keras.saving.register_keras_serializable(package="layers")
class TransformerEncoderBlock(keras.layers.Layer):
    """Transformer encoder layer: self-attention and a position-wise feed-forward net.

    Post-LN (Vaswani et al., 2017)::

        y = LayerNorm(x + Dropout(MultiHead(x, x, x)))
        z = LayerNorm(y + Dropout(W_2 act(W_1 y + b_1) + b_2))

    Pre-LN (`norm_first=True`, Xiong et al., 2020, more stable without warmup)::

        y = x + Dropout(MultiHead(LN(x), LN(x), LN(x)))
        z = y + Dropout(FFN(LN(y)))

    Padding (implicit Keras mask or `mask`) hides padded keys from every query;
    padded positions carry no information to real ones.

    Papers: Vaswani et al., "Attention Is All You Need", NeurIPS 2017;
    Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020.

    Args:
        num_heads: attention heads.
        intermediate_dim: width of the feed-forward hidden layer (`d_ff`).
        key_dim: width of each head; defaults to `d_model / num_heads`.
        dropout: rate on the attention weights and on both sublayer outputs.
        activation: feed-forward activation.
        norm_first: pre-LN when True, post-LN (the paper's) when False.
        layer_norm_epsilon: epsilon of the layer normalizations.
        kernel_initializer: initializer of all kernels.

    Call arguments:
        inputs: `(batch, T, d_model)`.
        mask: `(batch, T)` boolean padding mask; defaults to the implicit Keras mask.
        attention_mask: `(batch, T, T)` boolean, False where `i` may not attend to `j`.
        use_causal_mask: forbid attention to later positions.
        return_attention_scores: also return the weights `(batch, heads, T, T)`.
        training: Python bool; enables dropout.

    Returns:
        `(batch, T, d_model)`, and the attention weights on request.

    Example:

    >>> block = TransformerEncoderBlock(num_heads=4, intermediate_dim=64)
    >>> x = keras.random.normal((2, 10, 32))
    >>> y, scores = block(x, return_attention_scores=True)
    >>> tuple(scores.shape)
    (2, 4, 10, 10)
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        key_dim=None,
        dropout=0.0,
        activation="relu",
        norm_first=False,
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_heads=num_heads, intermediate_dim=intermediate_dim)
        check_rate(dropout=dropout)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.key_dim = key_dim
        self.dropout = dropout
        self.activation = keras.activations.get(activation)
        self.norm_first = norm_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        model_dim = input_shape[-1]
        key_dim = self.key_dim
        if key_dim is None:
            if model_dim % self.num_heads:
                raise ValueError(
                    f"The input width {model_dim} is not divisible by num_heads={self.num_heads}; "
                    "choose num_heads dividing it or pass `key_dim`."
                )
            key_dim = model_dim // self.num_heads
        common = {"dtype": self.dtype_policy}
        # A config, not the instance: each sublayer builds its own initializer.
        initializer = {"kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
        self.attention = MultiHeadAttention(
            self.num_heads, key_dim, dropout=self.dropout, name="self_attention", **initializer, **common
        )
        self.attention.build(input_shape, input_shape)
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="self_attention_norm", **common
        )
        self.attention_norm.build(input_shape)
        self.attention_dropout = keras.layers.Dropout(self.dropout, **common)
        self.feedforward_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="feedforward_norm", **common
        )
        self.feedforward_norm.build(input_shape)
        self.feedforward_inner = keras.layers.Dense(
            self.intermediate_dim, activation=self.activation, name="feedforward_inner", **initializer, **common
        )
        self.feedforward_inner.build(input_shape)
        self.feedforward_outer = keras.layers.Dense(model_dim, name="feedforward_outer", **initializer, **common)
        self.feedforward_outer.build(tuple(input_shape[:-1]) + (self.intermediate_dim,))
        self.feedforward_dropout = keras.layers.Dropout(self.dropout, **common)

    def _residual(self, x, update, dropout, norm, training):
        """``x + Dropout(update)``, normalized afterwards in post-LN."""
        y = x + dropout(update, training=training)
        return y if self.norm_first else norm(y)

    def call(
        self,
        inputs,
        *,
        mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        x = self.attention_norm(inputs) if self.norm_first else inputs
        attended = self.attention(
            x,
            x,
            query_mask=mask,
            value_mask=mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        if return_attention_scores:
            attended, scores = attended
        x = self._residual(inputs, attended, self.attention_dropout, self.attention_norm, training)
        y = self.feedforward_norm(x) if self.norm_first else x
        y = self.feedforward_outer(self.feedforward_inner(y))
        x = self._residual(x, y, self.feedforward_dropout, self.feedforward_norm, training)
        return (x, scores) if return_attention_scores else x

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "key_dim": self.key_dim,
            "dropout": self.dropout,
            "activation": keras.activations.serialize(self.activation),
            "norm_first": self.norm_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
