"""Time series in, Keras masks out: what lets the attention layers read series of different lengths.

A batch of series is `(batch, T, C)`; a series shorter than T is padded after its end with NaN (never a number a
series could hold). `SeriesPadding` turns that padding into zeros and an implicit Keras mask that the attention
layers, pooling, recurrent layers and `BatchNormalization` honour; `MaskedConv1D` is the convolution that honours
it too; `SeriesStandardization` z-normalizes each series over its real steps.
"""

import keras
from keras import ops

from layers.validation import check_number


def real_steps(series):
    """`(batch, T)` boolean: the steps of NaN-padded `series` `(batch, T, C)` whose channels are all numbers."""
    return ops.all(ops.logical_not(ops.isnan(series)), axis=-1)


@keras.saving.register_keras_serializable(package="layers")
class SeriesPadding(keras.layers.Layer):
    """Series padded with NaN after their end -> the same series with 0 there, and the mask of their real steps.

    A step is real when every channel holds a number. The output carries the implicit Keras mask `(batch, T)`, so
    the layers after it (attention, pooling, LSTM, `BatchNormalization`, `MaskedConv1D`) read the real steps only.

    Call arguments:
        inputs: `(batch, T, C)`, NaN at the steps after each series' end.

    Returns:
        `(batch, T, C)` with 0 at the padded steps, masked.

    Example:

    >>> series = np.array([[[1.0], [2.0], [np.nan]]], "float32")
    >>> values = SeriesPadding()(series)
    >>> values[0, :, 0].tolist(), values._keras_mask[0].tolist()
    ([1.0, 2.0, 0.0], [True, True, False])
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.where(ops.isnan(inputs), ops.zeros_like(inputs), inputs)

    def compute_mask(self, inputs, mask=None):
        return real_steps(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="layers")
class SeriesStandardization(keras.layers.Layer):
    """Each series and channel shifted and scaled to mean 0, standard deviation 1 over its real steps.

    ``z_t = (x_t - mean) / std`` over the steps before the series' NaN padding; a constant channel (``std <
    epsilon``) is only shifted. Padding stays NaN. The UCR archive's series are z-normalized this way, and
    classifiers of the field normalize each series so (Dau et al., "The UCR Time Series Archive", 2019, Section 2).

    Args:
        epsilon: below this standard deviation a channel is only shifted.

    Call arguments:
        inputs: `(batch, T, C)`, NaN after each series' end.

    Returns:
        `(batch, T, C)`, NaN where the input is padded.
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        check_number("(0, inf)", epsilon=epsilon)
        self.epsilon = epsilon

    def call(self, inputs):
        real = ops.cast(ops.expand_dims(real_steps(inputs), -1), inputs.dtype)
        values = ops.where(real > 0, inputs, ops.zeros_like(inputs))
        count = ops.maximum(ops.sum(real, axis=1, keepdims=True), 1.0)
        mean = ops.sum(values, axis=1, keepdims=True) / count
        variance = ops.sum(ops.square(values - mean) * real, axis=1, keepdims=True) / count
        std = ops.sqrt(variance)
        scale = ops.where(std < self.epsilon, ops.ones_like(std), std)
        return ops.where(real > 0, (values - mean) / scale, inputs)  # `values`: no NaN in either branch's gradient

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="layers")
class MaskedConv1D(keras.layers.Conv1D):
    """`keras.layers.Conv1D` (stride 1, "same" or "causal" padding) that honours the sequence mask: masked steps are
    set to 0 before the convolution, as the padding beyond a series' end is, so a real step's output does not depend
    on how much padding follows; the output keeps the mask.

    Args: as `keras.layers.Conv1D`, with `strides=1` and `padding` "same" or "causal".

    Call arguments:
        inputs: `(batch, T, C)`.
        mask: `(batch, T)` boolean; defaults to the implicit Keras mask.
    """

    def __init__(self, filters, kernel_size, padding="same", **kwargs):
        super().__init__(filters, kernel_size, padding=padding, **kwargs)
        if padding not in ("same", "causal") or self.strides != (1,):
            raise ValueError(
                "MaskedConv1D keeps every step (strides=1, padding 'same' or 'causal') so that the mask still fits; "
                f"received strides={self.strides[0]}, padding={padding!r}."
            )
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = ops.where(ops.expand_dims(mask, -1), inputs, ops.zeros_like(inputs))
        return super().call(inputs)

    def compute_mask(self, inputs, mask=None):
        return mask
