"""Series layers (layers/series.py) against NumPy and keras.layers.Conv1D, and the time-series models built on them:
padding never changes a prediction, on fresh random series."""

import keras
import numpy as np
import pytest

import zoo
from error_messages import raises_mentioning
from layers import MaskedConv1D, SeriesPadding, SeriesStandardization


def nan_padded(rng, lengths, steps, channels=3, scale=1.0):
    """`(len(lengths), steps, channels)` random series, each NaN after its length."""
    values = (rng.normal(size=(len(lengths), steps, channels)) * scale + rng.normal(size=(1, 1, channels))).astype("float32")
    for index, length in enumerate(lengths):
        values[index, length:] = np.nan
    return values


def numpy_of(x):
    return keras.ops.convert_to_numpy(x)


def test_series_padding_is_zero_and_masked_after_each_series(rng):
    series = nan_padded(rng, [5, 9, 2], 9)
    values = SeriesPadding()(series)
    np.testing.assert_array_equal(numpy_of(values), np.nan_to_num(series, nan=0.0))
    np.testing.assert_array_equal(numpy_of(values._keras_mask), np.arange(9)[None] < np.array([5, 9, 2])[:, None])


def test_series_standardization_is_each_series_z_normalized_over_its_real_steps(rng):
    series = nan_padded(rng, [7, 12, 4], 12, scale=5.0)
    series[1, :, 2] = 3.0  # a constant channel is only shifted
    standardized = numpy_of(SeriesStandardization()(series))
    for index, length in enumerate([7, 12, 4]):
        real = series[index, :length].astype("float64")
        std = real.std(axis=0)
        expected = (real - real.mean(axis=0)) / np.where(std > 1e-8, std, 1.0)
        np.testing.assert_allclose(standardized[index, :length], expected, rtol=1e-4, atol=1e-5)
        assert np.isnan(standardized[index, length:]).all()
    np.testing.assert_array_equal(standardized[1, :, 2], 0.0)


@pytest.mark.parametrize("padding", ["same", "causal"])
def test_masked_convolution_of_a_padded_series_is_the_convolution_of_the_series_alone(padding, rng):
    lengths = [6, 11, 3]
    mask = np.arange(11)[None] < np.array(lengths)[:, None]
    series = np.where(mask[..., None], rng.normal(size=(3, 11, 3)), 100.0).astype("float32")  # padding: anything
    masked = MaskedConv1D(4, 5, padding=padding)
    reference = keras.layers.Conv1D(4, 5, padding=padding)
    output = numpy_of(masked(series, mask=mask))
    reference.build(series.shape)
    reference.set_weights(masked.get_weights())
    for index, length in enumerate(lengths):
        alone = numpy_of(reference(series[index : index + 1, :length]))[0]
        np.testing.assert_allclose(output[index, :length], alone, rtol=1e-5, atol=1e-5)
    assert masked.compute_mask(series, mask) is mask


@pytest.mark.backend_independent
def test_a_strided_or_valid_masked_convolution_is_refused():
    with raises_mentioning("strides=1", "padding 'same' or 'causal'", "received strides=2"):
        MaskedConv1D(4, 3, strides=2)
    with raises_mentioning("received strides=1, padding='valid'"):
        MaskedConv1D(4, 3, padding="valid")


TIME_SERIES_MODELS = zoo.list_models(task="time-series-classification")


@pytest.mark.parametrize("name", TIME_SERIES_MODELS)
def test_padding_never_changes_a_time_series_models_prediction(name, rng):
    """Each series alone and in a batch padded with NaN to a longer one: the same logits."""
    lengths = [17, 30, 9]
    model = zoo.build(name, num_channels=3, num_classes=4, **({"sequence_length": 40} if "sequence_length" in zoo.default_config(name) else {}))
    series = nan_padded(rng, lengths, 40)
    batch = numpy_of(model(series))
    assert np.isfinite(batch).all()
    for index, length in enumerate(lengths):
        alone = numpy_of(model(series[index : index + 1, :length]))
        np.testing.assert_allclose(batch[index], alone[0], rtol=1e-4, atol=1e-5)
