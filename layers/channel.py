"""Attention over the channels (and positions) of feature maps: SE, ECA, CBAM.

All take channels-last feature maps. `SqueezeExcitation` and
`EfficientChannelAttention` accept one to three spatial axes
(`(batch, ..., channels)`, e.g. images or sequences); `CBAM` takes images
`(batch, height, width, channels)`. Each returns the rescaled features and, with
`return_attention_scores=True`, the attention weights it applied.
"""

import math

import keras
from keras import ops

from layers.symbolic import TracedOutputSpec
from layers.validation import check_number, check_positive_int


def _global_average(inputs, mask=None):
    """Mean over every axis but batch and channels; over the positions `mask` keeps when it is given
    (the input's shape without channels: `(batch, T)` for sequences, `(batch, H, W)` for images)."""
    axes = tuple(range(1, len(inputs.shape) - 1))
    if mask is None:
        return ops.mean(inputs, axis=axes)
    if len(mask.shape) != len(axes) + 1:
        raise ValueError(
            f"`mask` must have the input's shape without its channels, {tuple(inputs.shape[:-1])}; "
            f"received shape {tuple(mask.shape)}."
        )
    weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
    return ops.sum(inputs * weights, axis=axes) / ops.maximum(ops.sum(weights, axis=axes), 1.0)


def _global_max(inputs, mask=None):
    """Max over every axis but batch and channels; over the positions `mask` keeps when it is given
    (the masked ones take the minimum, so they never win)."""
    axes = tuple(range(1, len(inputs.shape) - 1))
    if mask is not None:
        kept = ops.expand_dims(ops.cast(mask, "bool"), -1)
        inputs = ops.where(kept, inputs, ops.min(inputs, axis=axes, keepdims=True))
    return ops.max(inputs, axis=axes)


def _per_channel(weights, rank):
    """`(batch, C)` -> `(batch, 1, ..., 1, C)`, broadcastable over a rank-`rank` input."""
    return ops.reshape(weights, (-1,) + (1,) * (rank - 2) + (weights.shape[-1],))


def _bottleneck_mlp(channels, ratio, output_activation, *, use_bias, kernel_initializer, dtype):
    """The built excitation MLP ``C -> max(1, C // r) (ReLU) -> C`` of SE and CBAM, as `(reduce, expand)`."""
    hidden = max(1, channels // ratio)
    options = {"use_bias": use_bias, "kernel_initializer": kernel_initializer, "dtype": dtype}
    reduce = keras.layers.Dense(hidden, "relu", name="reduce", **options)
    expand = keras.layers.Dense(channels, output_activation, name="expand", **options)
    reduce.build((None, channels))
    expand.build((None, hidden))
    return reduce, expand


def _check_rank(layer, input_shape, ranks):
    if len(input_shape) not in ranks:
        raise ValueError(
            f"{type(layer).__name__} takes channels-last inputs of rank {' or '.join(map(str, ranks))}; "
            f"received shape {tuple(input_shape)}."
        )


class _ChannelLayer(TracedOutputSpec, keras.layers.Layer):
    """Shared plumbing: the output has the input's shape and keeps its mask (sequences `(batch, T, C)`)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="layers")
class SqueezeExcitation(_ChannelLayer):
    """Squeeze-and-excitation block (Hu et al., 2018).

    ``z = GAP(x)`` (per channel), ``s = sigmoid(W_2 relu(W_1 z + b_1) + b_2)``,
    ``y = s * x``, with ``W_1: C -> C/r`` and ``W_2: C/r -> C``.

    Paper: Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018.

    Args:
        ratio: reduction ratio `r` (the paper's default 16); the bottleneck has
            `max(1, C // r)` units.
        use_bias: biases in the two fully connected layers.
        kernel_initializer: initializer of `W_1` and `W_2`.

    Call arguments:
        inputs: `(batch, ..., C)`, e.g. `(batch, H, W, C)`.
        mask: the input's shape without channels, e.g. `(batch, T)` padding for
            sequences `(batch, T, C)` (default: the implicit Keras mask); the
            average then covers the kept positions only.
        return_attention_scores: also return the channel weights `s`.

    Returns:
        `(batch, ..., C)`, and with `return_attention_scores=True` the weights
        `(batch, C)`, each in (0, 1).

    Example:

    >>> se = SqueezeExcitation(ratio=4)
    >>> y, s = se(keras.random.normal((2, 8, 8, 32)), return_attention_scores=True)
    >>> tuple(y.shape), tuple(s.shape)
    ((2, 8, 8, 32), (2, 32))
    """

    # What the weights are, for `zoo.attention_maps`: `(batch, C)`.
    attention_kinds = ("channel",)

    def __init__(self, ratio=16, use_bias=True, kernel_initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        check_positive_int(ratio=ratio)
        self.ratio = ratio
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        _check_rank(self, input_shape, (3, 4, 5))
        self.reduce, self.expand = _bottleneck_mlp(
            input_shape[-1], self.ratio, "sigmoid",
            use_bias=self.use_bias, kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
        )

    def call(self, inputs, mask=None, return_attention_scores=False):
        weights = self.expand(self.reduce(_global_average(inputs, mask)))
        outputs = inputs * _per_channel(weights, len(inputs.shape))
        return (outputs, weights) if return_attention_scores else outputs

    def get_config(self):
        return {
            **super().get_config(),
            "ratio": self.ratio,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


def eca_kernel_size(channels, gamma=2, b=1):
    """ECA's adaptive kernel size ``k = |log2(C) / gamma + b / gamma|_odd`` (Wang et al., 2020, Eq. 12).

    ``|t|_odd`` is taken as the authors' code does: ``int(t)``, plus one if even.
    """
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


@keras.saving.register_keras_serializable(package="layers")
class EfficientChannelAttention(_ChannelLayer):
    """Efficient channel attention, ECA (Wang et al., 2020).

    ``z = GAP(x)``, ``s = sigmoid(conv1d_k(z))`` over the channel axis (no
    dimensionality reduction, ``k`` weights shared by all channels, zero
    padding), ``y = s * x``. ``k`` is `kernel_size` or, when `None`, chosen from
    the channel count by `eca_kernel_size` (``gamma=2, b=1``).

    Paper: Wang et al., "ECA-Net: Efficient Channel Attention for Deep
    Convolutional Neural Networks", CVPR 2020.

    Args:
        kernel_size: odd width `k` of the 1-D convolution; `None` adapts it to `C`.
        gamma, b: constants of the adaptive kernel size.

    Call arguments:
        inputs: `(batch, ..., C)`.
        mask: the input's shape without channels, as in `SqueezeExcitation`.
        return_attention_scores: also return the channel weights `s`.

    Returns:
        `(batch, ..., C)`, and with `return_attention_scores=True` the weights `(batch, C)`.

    Example:

    >>> eca = EfficientChannelAttention()
    >>> y = eca(keras.random.normal((2, 8, 8, 256)))
    >>> eca.kernel.shape[0]  # k for C = 256
    5
    """

    # What the weights are, for `zoo.attention_maps`: `(batch, C)`.
    attention_kinds = ("channel",)

    def __init__(self, kernel_size=None, gamma=2, b=1, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(optional=True, kernel_size=kernel_size)
        if kernel_size is not None and kernel_size % 2 == 0:
            raise ValueError(f"`kernel_size` must be odd so the convolution is centred; received {kernel_size}.")
        check_positive_int(gamma=gamma)
        check_number("(-inf, inf)", b=b)
        self.kernel_size = kernel_size
        self.gamma = gamma
        self.b = b

    def build(self, input_shape):
        _check_rank(self, input_shape, (3, 4, 5))
        size = self.kernel_size or eca_kernel_size(input_shape[-1], self.gamma, self.b)
        self.kernel = self.add_weight(name="kernel", shape=(size,), initializer="he_uniform")

    def call(self, inputs, mask=None, return_attention_scores=False):
        pooled = _global_average(inputs, mask)  # (batch, C)
        size = self.kernel.shape[0]
        kernel = ops.reshape(ops.cast(self.kernel, pooled.dtype), (size, 1, 1))
        scores = ops.conv(ops.expand_dims(pooled, -1), kernel, padding="same")[..., 0]
        weights = ops.sigmoid(scores)
        outputs = inputs * _per_channel(weights, len(inputs.shape))
        return (outputs, weights) if return_attention_scores else outputs

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "gamma": self.gamma, "b": self.b}


@keras.saving.register_keras_serializable(package="layers")
class CBAM(_ChannelLayer):
    """Convolutional block attention module (Woo et al., 2018): channel, then spatial attention.

    Channel (Eq. 2): ``M_c = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F)))``, the
    MLP ``C -> C/r -> C`` (ReLU) shared by both descriptors; ``F' = M_c * F``.

    Spatial (Eq. 3): ``M_s = sigmoid(f_7x7([AvgPool_c(F'); MaxPool_c(F')]))``,
    pooling over channels and a `kernel_size` x `kernel_size` convolution with
    zero padding; ``F'' = M_s * F'``.

    With a pixel mask, AvgPool and MaxPool read the kept pixels only, and the
    masked pixels' descriptors are zeros, as the convolution's padding is.

    Paper: Woo, Park, Lee, Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018.

    Args:
        ratio: reduction ratio `r` of the shared MLP (16 in the paper).
        kernel_size: size of the spatial convolution (7 in the paper).
        kernel_initializer: initializer of the MLP and the convolution.

    Call arguments:
        inputs: `(batch, H, W, C)`.
        mask: `(batch, H, W)`, the pixels to attend over (default: the implicit
            Keras mask, if any).
        return_attention_scores: also return both attention maps.

    Returns:
        `(batch, H, W, C)`, and with `return_attention_scores=True` the channel
        weights `(batch, C)` and the spatial map `(batch, H, W)`.

    Example:

    >>> cbam = CBAM(ratio=8)
    >>> y, channel, spatial = cbam(keras.random.normal((2, 8, 8, 32)), return_attention_scores=True)
    >>> tuple(channel.shape), tuple(spatial.shape)
    ((2, 32), (2, 8, 8))
    """

    # What the weights are, for `zoo.attention_maps`: `(batch, C)`, then `(batch, H, W)`.
    attention_kinds = ("channel", "spatial")

    def __init__(self, ratio=16, kernel_size=7, kernel_initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        check_positive_int(ratio=ratio, kernel_size=kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"`kernel_size` must be odd so the convolution is centred; received {kernel_size}.")
        self.ratio = ratio
        self.kernel_size = kernel_size
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        _check_rank(self, input_shape, (4,))
        # Linear output: the sigmoid comes after the two descriptors' MLP outputs are summed.
        self.reduce, self.expand = _bottleneck_mlp(
            input_shape[-1], self.ratio, None,
            use_bias=True, kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
        )
        self.spatial_kernel = self.add_weight(
            name="spatial_kernel", shape=(self.kernel_size, self.kernel_size, 2, 1), initializer=self.kernel_initializer
        )

    def _shared_mlp(self, descriptor):
        return self.expand(self.reduce(descriptor))

    def call(self, inputs, mask=None, return_attention_scores=False):
        channel = ops.sigmoid(
            self._shared_mlp(_global_average(inputs, mask)) + self._shared_mlp(_global_max(inputs, mask))
        )
        refined = inputs * _per_channel(channel, 4)
        descriptors = ops.stack([ops.mean(refined, axis=-1), ops.max(refined, axis=-1)], axis=-1)
        if mask is not None:
            descriptors = descriptors * ops.expand_dims(ops.cast(mask, descriptors.dtype), -1)
        kernel = ops.cast(self.spatial_kernel, descriptors.dtype)
        spatial = ops.sigmoid(ops.conv(descriptors, kernel, padding="same")[..., 0])
        outputs = refined * ops.expand_dims(spatial, -1)
        return (outputs, channel, spatial) if return_attention_scores else outputs

    def get_config(self):
        return {
            **super().get_config(),
            "ratio": self.ratio,
            "kernel_size": self.kernel_size,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
