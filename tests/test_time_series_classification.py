"""The time-series recipe on the real UCR/UEA series aeon bundles (GunPoint, JapaneseVowels): training, the saved
model on raw series, z-normalization and padding inside it, evaluation, prediction from arrays and files, the command
line and the errors."""

import json

import aeon.datasets
import keras
import numpy as np
import pytest
import shared_runs
from aeon.datasets import load_classification
from event_files import read_images

from error_messages import raises_mentioning
import zoo
from recipes import time_series_classification as tsc
from recipes.cli import main
from recipes.data import DataError
from recipes.data.series import read_series_dataset
from recipes.training.run import RunDirectory


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, finished_runs):
    """SE-FCN, 25 epochs on GunPoint."""
    return finished_runs.copy(tsc, shared_runs.TIME_SERIES, tmp_path_factory.mktemp("gunpoint") / "run")


@pytest.fixture(scope="module")
def gunpoint_test():
    """GunPoint's official test split as aeon reads it, `(N, T, 1)`, and its labels."""
    series, labels = load_classification("GunPoint", split="test")
    return series.transpose(0, 2, 1).astype("float32"), labels


def test_training_on_real_gunpoint_lowers_the_loss_and_the_saved_model_classifies(finished_run):
    """The test accuracy is the saved model's, in inference mode (batch norms on their moving statistics): 95% here
    with the training series' population statistics (`PopulationBatchNorm`) and the best epoch by validation loss;
    85% with moving averages at momentum 0.9 and the best epoch by accuracy, 69% at Keras' 0.99 (52% after the
    default 100 epochs)."""
    _, result = finished_run
    losses = result.metrics["train_loss_per_epoch"]
    assert losses[-1] < 0.7 * losses[0], losses
    assert result.metrics["test_accuracy"] > 0.9
    assert (result.metrics["train_series"], result.metrics["test_series"]) == (40, 150)  # 50 training series, 20% held out
    assert np.isfinite(result.metrics["test_loss"])


def test_metrics_agree_with_the_saved_model_on_raw_series(finished_run, gunpoint_test):
    _, result = finished_run
    series, labels = gunpoint_test
    model = keras.saving.load_model(RunDirectory(result.run_dir).model_file)
    predicted = np.array(result.metrics["class_names"])[np.argmax(model.predict(series, verbose=0), axis=-1)]
    metrics = result.metrics
    assert metrics["test_accuracy"] == pytest.approx(np.mean(predicted == labels), abs=1e-9)
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.sum() == 150 and np.trace(confusion) == np.sum(predicted == labels)


def test_the_saved_model_z_normalizes_each_series_itself(finished_run, gunpoint_test, rng):
    """z-normalization inside the model: each series scaled and shifted by its own positive factor and offset
    gets the same logits."""
    _, result = finished_run
    series = gunpoint_test[0][:8]
    model = keras.saving.load_model(RunDirectory(result.run_dir).model_file)
    moved = series * rng.uniform(0.5, 20.0, size=(8, 1, 1)) + rng.uniform(-50.0, 50.0, size=(8, 1, 1))
    np.testing.assert_allclose(model.predict(moved.astype("float32"), verbose=0), model.predict(series, verbose=0), rtol=1e-3, atol=1e-4)


def test_multivariate_series_are_standardized_by_the_training_series_statistics():
    """JapaneseVowels (12 channels, 7-29 steps): by default each channel is scaled by the mean and variance of every
    real step of the training series (pooled, not per series), and the padding stays NaN for the model."""
    values = read_series_dataset("JapaneseVowels")["train"].values
    standardize = tsc.standardization(None, values)
    out = keras.ops.convert_to_numpy(standardize(values))
    assert np.array_equal(np.isnan(out), np.isnan(values)) and np.isnan(values).any()
    steps = out[~np.isnan(out[..., 0])]
    np.testing.assert_allclose(steps.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(steps.var(axis=0), 1, atol=1e-3)
    assert np.abs(np.nanmean(out, axis=1)).max() > 0.5  # a series keeps its own level (z-normalized each would be 0)
    assert isinstance(tsc.standardization(None, values[..., :1]), type(tsc.standardization("series", values)))
    assert tsc.standardization("none", values) is None


def test_padding_never_changes_a_runs_prediction(finished_run, gunpoint_test):
    _, result = finished_run
    series = gunpoint_test[0]
    shorter = [series[0, :90], series[1, :120]]
    together = tsc.predict(result.run_dir, [series[2], *shorter])  # padded with NaN to 150 steps in one batch
    alone = [tsc.predict(result.run_dir, [one])[0] for one in shorter]
    for joint, single in zip(together[1:], alone):
        assert joint["label"] == single["label"]
        assert joint["probabilities"] == pytest.approx(single["probabilities"], abs=1e-5)


def test_evaluate_and_predict_from_arrays_and_files(finished_run, gunpoint_test, tmp_path):
    _, result = finished_run
    series, labels = gunpoint_test
    assert tsc.evaluate(result.run_dir)["test_accuracy"] == pytest.approx(result.metrics["test_accuracy"])
    from_arrays = tsc.predict(result.run_dir, series[:5])
    assert [p["series"] for p in from_arrays] == [0, 1, 2, 3, 4]
    table = tmp_path / "series.csv"
    table.write_text("\n".join(",".join(f"{v:.9g}" for v in one[:, 0]) for one in series[:5]) + "\n")
    from_table = tsc.predict(result.run_dir, str(table))
    assert [p["label"] for p in from_table] == [p["label"] for p in from_arrays]
    assert from_table[0]["file"] == str(table)
    ts_file = aeon.datasets.__path__[0] + "/data/GunPoint/GunPoint_TEST.ts"
    from_ts = tsc.predict(result.run_dir, [ts_file])
    assert len(from_ts) == 150 and [p["label"] for p in from_ts[:5]] == [p["label"] for p in from_arrays]


@pytest.mark.parametrize("inputs, mentioned", [
    (np.zeros((2, 30, 3), "float32"), ("takes series of 1 channel(s)", "received a series of shape (30, 3)")),
    ([np.zeros((0,), "float32")], ("received a series of shape (0,)",)),
    ([], ("Nothing to predict",)),
    (["no_such_file.csv"], ("Missing series file", "no_such_file.csv", "its values only")),
])
def test_prediction_errors_say_what_the_run_takes(finished_run, inputs, mentioned):
    _, result = finished_run
    with raises_mentioning(*mentioned):
        tsc.predict(result.run_dir, inputs)


def test_variable_length_multivariate_series_train_a_linformer(tmp_path):
    """JapaneseVowels: 12 channels, 7 to 26 steps in training and up to 29 in test; Linformer's projection is built
    for the longest series of the data."""
    options = {"hidden_dim": 16, "num_layers": 1, "num_heads": 2, "intermediate_dim": 32, "attention_options": {"projected_length": 8, "sharing": "layerwise"}}
    config = tsc.Config(
        model="series_linformer", dataset="JapaneseVowels", epochs=2, max_train_examples=64, model_options=options,
        run_dir=str(tmp_path / "run"), verbose=0,
    )
    metrics = tsc.train(config).metrics
    assert metrics["test_series"] == 370 and len(metrics["class_names"]) == 9
    assert all(np.isfinite(metrics["train_loss_per_epoch"])) and 0.0 <= metrics["test_accuracy"] <= 1.0
    model = keras.saving.load_model(RunDirectory(config.run_dir).model_file)
    projection = model.get_layer("series_linformer").get_layer("linformer_projection")
    assert projection.max_length == 29 and model.input_shape == (None, None, 12)


@pytest.mark.backend_independent
@pytest.mark.parametrize("settings, mentioned", [
    ({"dataset": "Gunpoint"}, ("Unknown time-series dataset 'Gunpoint'", "'GunPoint'", "'JapaneseVowels'")),
    ({"model_options": {"num_channels": 3}}, ("model.num_channels cannot be set", "channels of the training series")),
    ({"model": "series_linformer", "model_options": {"sequence_length": 64}}, ("model.sequence_length cannot be set", "longest series")),
    ({"train_file": "train.csv"}, ("Give both `train_file` and `test_file`",)),
    ({"train_file": "a.csv", "test_file": "b.csv", "dataset": "ArrowHead"}, ("dataset='ArrowHead' and train_file/test_file",)),
    ({"model": "se_resnet20"}, ("Unknown time-series-classification model 'se_resnet20'", "'se_fcn'")),
])
def test_bad_settings_are_explained(settings, mentioned):
    with raises_mentioning(*mentioned):
        tsc.Config(**settings)


def test_cli_trains_on_your_own_files_and_predicts_a_file(tmp_path, gunpoint_test, capsys):
    series, labels = gunpoint_test
    lines = [label + "," + ",".join(f"{v:.6g}" for v in one[:, 0]) for one, label in zip(series, labels)]
    (tmp_path / "train.csv").write_text("\n".join(lines[:30]) + "\n")
    (tmp_path / "test.tsv").write_text("\n".join(line.replace(",", "\t") for line in lines[30:60]) + "\n")
    run_dir = str(tmp_path / "run")
    argv = ["train", "time-series-classification", "--model", "series_bilstm_attention", "--epochs", "1", "--run-dir", run_dir,
            "--set", f"train_file={tmp_path / 'train.csv'}", "--set", f"test_file={tmp_path / 'test.tsv'}",
            "--set", "verbose=0", "--set", "model.lstm_units=8", "--json"]
    assert main(argv) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["test_series"] == 30 and trained["dataset"].startswith("series files")
    (tmp_path / "new.csv").write_text(",".join(f"{v:.6g}" for v in series[70, :100, 0]) + "\n")
    assert main(["predict", run_dir, str(tmp_path / "new.csv")]) == 0
    prediction = json.loads(capsys.readouterr().out)
    assert prediction["series"] == 0 and prediction["label"] in ("1", "2")
    assert main(["train", "time-series-classification", "--dataset", "NoSuchSet", "--run-dir", str(tmp_path / "x")]) == 2
    assert "Unknown time-series dataset 'NoSuchSet'" in capsys.readouterr().err


def test_a_malformed_series_file_stops_training_with_its_name(tmp_path):
    (tmp_path / "train.csv").write_text("1,0.5,0.25\n2,0.5,oops\n")
    with raises_mentioning("train.csv, line 2", "label first", error=DataError):
        tsc.train(tsc.Config(train_file=str(tmp_path / "train.csv"), test_file=str(tmp_path / "train.csv"), run_dir=str(tmp_path / "run")))


def test_without_validation_every_training_series_trains_and_the_probes_are_training_series(tmp_path, monkeypatch):
    """`validation_fraction=0`: all 50 of GunPoint's training series train, the best epoch is the lowest training
    loss, and the diagnosis view draws training series, each epoch."""
    probed = []
    loggers = tsc.TimeSeriesClassification.attention_loggers
    monkeypatch.setattr(tsc.TimeSeriesClassification, "attention_loggers", lambda self, run, split, *rest: probed.append(split) or loggers(self, run, split, *rest))
    config = tsc.Config(
        dataset="GunPoint", epochs=2, validation_fraction=0, attention_probes=2, model_options={"filters": [8, 8, 8]},
        run_dir=str(tmp_path / "run"), verbose=0,
    )
    metrics = tsc.train(config).metrics
    assert metrics["train_series"] == 50 and metrics["best_train_loss"] == min(metrics["train_loss_per_epoch"])
    assert "validation_accuracy_per_epoch" not in metrics
    assert [len(split) for split in probed] == [50]
    images = read_images(RunDirectory(config.run_dir).path / "attention")
    assert {step for tag, step in images if tag.endswith("example_1")} == {0, 1}


@pytest.fixture(scope="module")
def transformer_run(tmp_path_factory, finished_runs):
    """A one-layer series Transformer, one epoch on GunPoint, logging two probe series (the notebook's smoke run)."""
    return finished_runs.copy(tsc, shared_runs.TIME_SERIES_TRANSFORMER, tmp_path_factory.mktemp("transformer") / "run")


def test_probe_indices_take_the_classes_in_turn():
    assert tsc.probe_indices(np.array([1, 1, 0, 2, 0]), 4) == [2, 0, 3, 4]
    assert tsc.probe_indices(np.array([1, 1, 0]), 5) == [2, 0, 1]


def test_attention_over_the_steps_of_the_probe_series_is_logged_every_epoch(transformer_run):
    """The rows (each divided by its largest weight) equal the pooling weights of the saved model's
    `AttentionPooling` called on its own inputs; the attention each step receives peaks at 1."""
    config, result = transformer_run
    images = read_images(RunDirectory(result.run_dir).path / "attention")
    expected = {
        (f"{kind}/{layer}/example_{i}", 0)
        for i in range(2)
        for kind, layer in (("attention_pooling", "attention_pooling"), ("attention_received", "encoder_0"))
    }
    assert {key for key in images if not key[0].startswith("series_attention/")} == expected
    assert {key for key in images if key[0].startswith("series_attention/")} == {(f"series_attention/example_{i}", 0) for i in range(2)}

    validation = tsc.load_data(config)["validation"]
    probes = validation.values[tsc.probe_indices(validation.labels, 2)]
    assert len(set(validation.labels[tsc.probe_indices(validation.labels, 2)])) == 2  # one of each class
    model = keras.saving.load_model(RunDirectory(result.run_dir).model_file)
    inner = model.get_layer("series_transformer")
    states = keras.Model(inner.inputs, inner.get_layer("final_norm").output)(model.get_layer("standardize")(probes))
    _, pooling = inner.get_layer("attention_pooling")(states, return_attention_scores=True)
    for i in range(2):
        logged = images[f"attention_pooling/attention_pooling/example_{i}", 0]
        weights = keras.ops.convert_to_numpy(pooling)[i]
        np.testing.assert_allclose(logged[0], weights / weights.max(), atol=1 / 510 + 1e-6)
        received = images[f"attention_received/encoder_0/example_{i}", 0]
        assert received.shape == (1, 150) and received.max() == 1.0


def test_diagnosis_figures_draw_any_series_with_the_attention_over_its_steps(transformer_run, gunpoint_test):
    _, result = transformer_run
    series, labels = gunpoint_test
    figures = tsc.diagnosis_figures(result.run_dir, [series[0], series[1, :90]], labels=labels[:2])
    assert len(figures) == 2
    line_axes, heat_axes = figures[1].axes
    assert line_axes.get_title().startswith(f"example 1: class {labels[1]}, predicted ")
    assert len(line_axes.lines[0].get_xdata()) == 90
    assert [label.get_text() for label in heat_axes.get_yticklabels()] == ["encoder_0: attention received", "attention_pooling: attention pooling"]


def test_the_fcn_diagnosis_shows_the_class_activation_of_the_predicted_class(finished_run, gunpoint_test):
    """SE-FCN has no attention over the steps: its row is the class activation map (Zhou et al. 2016) of the class it
    predicts, the saved model's pooled features times its classifier's kernel, shifted to 0 at its lowest step."""
    _, result = finished_run
    series, labels = gunpoint_test
    figure = tsc.diagnosis_figures(result.run_dir, [series[3, :120]])[0]
    line_axes, heat_axes = figure.axes
    assert [label.get_text() for label in heat_axes.get_yticklabels()] == ["pool: class activation"]
    model = keras.saving.load_model(RunDirectory(result.run_dir).model_file)
    classifier = model.get_layer("se_fcn")
    standardized = keras.ops.convert_to_numpy(model.get_layer("standardize")(series[3:4, :120]))
    features = keras.Model(classifier.input, classifier.get_layer("pool").input).predict(standardized, verbose=0)[0]
    kernel = keras.ops.convert_to_numpy(classifier.get_layer("logits").kernel)
    predicted = result.metrics["class_names"].index(line_axes.get_title().split("predicted ")[1])
    expected = np.squeeze(features @ kernel[:, predicted])
    shown = heat_axes.images[0].get_array()[0]  # the row as drawn: scaled to its largest value
    np.testing.assert_allclose(shown, (expected - expected.min()) / (expected.max() - expected.min()), atol=1e-4)


@pytest.mark.parametrize("validating", [True, False])
def test_population_batch_norm_gives_the_moving_statistics_of_the_training_series(rng, validating):
    """Before validation (at the epoch's end without one) the first batch norm's moving mean and variance are its
    input's over every real step of every training series (Wu and Johnson, 2021), and each batch norm keeps its
    momentum."""
    model = zoo.build("se_fcn", num_channels=2, num_classes=3, filters=[8, 8, 8])
    series = rng.normal(size=(24, 50, 2)).astype("float32") * 3.0 + 1.0
    series[5, 30:] = np.nan
    callback = tsc.PopulationBatchNorm(series)
    callback.set_model(model)
    callback.on_epoch_begin(0)
    if validating:
        callback.on_test_begin()
    callback.on_epoch_end(0)
    padded = np.nan_to_num(series)
    real = ~np.isnan(series).any(axis=-1)
    inputs = keras.ops.convert_to_numpy(model.get_layer("block0_conv")(padded, mask=real))[real]
    norm = model.get_layer("block0_bn")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_mean), inputs.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_variance), inputs.var(axis=0), rtol=1e-3, atol=1e-5)
    assert {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)} == {0.9}
