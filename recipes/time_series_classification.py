"""Time-series classification: series -> z-normalization -> zoo model -> fit() -> accuracy, per class, confusion matrix.

Data (`recipes.data.series`): a UCR/UEA dataset by name (`dataset`; the eight aeon bundles are read offline, the
archives' other names downloaded once), or your own `train_file` and `test_file` (`.ts`, or CSV/TSV in the UCR
layout: one series a line, its label first). The archive's official train/test split; a fixed-seed validation
split carved from train picks the best epoch; the test split is only used at the end. With `validation_fraction=0`
the model trains on the whole training split and the epoch of lowest training loss is kept, as in the published UCR
benchmarks (Ismail Fawaz et al. 2019): their ResNet and FCN figures are measured so.

The saved model takes raw series `(batch, T, C)` of any length T, each padded after its end with NaN: its first
layer normalizes them (`normalize`). A univariate series is z-normalized over its own real steps
(`layers.SeriesStandardization`), as the field does for the UCR archive; the channels of multivariate series are
standardized by the training series' statistics instead, so that a series keeps its level and scale: z-normalizing
each of JapaneseVowels' 7-29-step cepstra by itself lost 22 points of test accuracy (75.9% with `se_fcn`, 98.1%).

>>> from recipes import time_series_classification as tsc
>>> result = tsc.train(tsc.Config(model="se_fcn", dataset="GunPoint", run_dir="runs/gunpoint"))
>>> tsc.predict("runs/gunpoint", series)  # (N, T, C), (T, C) or (T,) arrays, or .ts / .csv / .tsv files
>>> tsc.diagnosis_figures("runs/gunpoint", series)  # each series with the attention over its steps

Diagnosis: after every epoch TensorBoard shows `attention_probes` validation series (training series in a run
without validation), the classes in turn, each drawn with the attention over its steps beneath (attention pooling's
weights, the attention each step receives in each Transformer block, and for the FCN and ResNet models, which pool
their features by their mean, the class activation map of the predicted class: Zhou et al. 2016, as Wang et al. 2017
drew it for these networks) and the SE/ECA channel weights (`recipes.reporting.attention_logging.series_summaries`);
`diagnosis_figures` draws the same for any series.
"""

import dataclasses
import itertools
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import layers
import zoo
from zoo import attention_maps
from layers.validation import check_choice, check_number, check_text
from recipes import data as datasets
from recipes.classification import ClassificationTask
from recipes.data import series as series_data
from recipes.reporting.attention_logging import ATTENTION_LOG_DIR, AttentionMapLogger, series_attention_figure, series_summaries
from recipes.task import BaseConfig, setting
from recipes.training import optimization
from recipes.training.epochs import example_dataset
from recipes.training.run import read_lines

NORMALIZATIONS = ("series", "dataset", "none")
DEFAULT_DATASET = "GunPoint"


@dataclasses.dataclass
class Config(BaseConfig):
    """Every knob of the recipe. Defaults: GunPoint and a schedule these datasets' few hundred series train on in
    minutes (AdamW, linear warmup then cosine decay)."""

    task = "time-series-classification"

    model: str = "se_fcn"
    dataset: str = setting(DEFAULT_DATASET, check_text, help=f"a UCR/UEA dataset; offline: {list(series_data.BUNDLED)}")
    train_file: str = setting(None, help="your own training series (.ts, or .csv/.tsv: a series a line, label first); with test_file")
    test_file: str = setting(None, help="your own test series, in the training file's format; with train_file")
    validation_fraction: float = setting(
        0.2, check_number, "[0, 1)",
        help="share of the training series held out for validation; 0: train on all, keep the epoch of lowest training loss",
    )
    normalize: str = setting(
        None, check_choice, NORMALIZATIONS, optional=True,
        help="series: z-normalize each series and channel over its steps; dataset: each channel by the training series' "
        "mean and variance; none; None: series for one channel, dataset for several (the model's first layer)",
    )
    batch_size: int = 16
    epochs: int = 100
    learning_rate: float = setting(1e-3, check_number, "(0, inf)", help="AdamW's peak learning rate")
    weight_decay: float = setting(1e-4, check_number, "[0, inf)", help="AdamW's decoupled weight decay")
    warmup_fraction: float = setting(0.05, check_number, "[0, 1)", help="share of the steps the learning rate warms up over")
    run_dir: str = "runs/time_series"

    def check_combination(self):
        if (self.train_file is None) != (self.test_file is None):
            raise ValueError("Give both `train_file` and `test_file` (or neither, for `dataset`).")
        if self.train_file is None:
            series_data.check_dataset_name(self.dataset)
        elif self.dataset != DEFAULT_DATASET:
            raise ValueError(f"dataset={self.dataset!r} and train_file/test_file both choose the series; give one or the other.")
        self.train_file, self.test_file = datasets.absolute_paths(self.train_file, self.test_file)

    def model_options_set_by_recipe(self):
        options = {
            "num_channels": "it is the number of channels of the training series",
            "num_classes": "it is the number of labels in the training data",
        }
        if "sequence_length" in zoo.default_config(self.model):
            options["sequence_length"] = "it is the longest series of the data"
        return options


def load_data(config):
    """`{"train", "validation", "test"}` as `recipes.data.series.LabeledSeries`."""
    if config.train_file is None:
        splits = series_data.read_series_dataset(config.dataset, config.data_dir)
    else:
        splits = series_data.read_series_files(config.train_file, config.test_file)
    full_train = splits["train"]
    train_indices, validation_indices = datasets.split_off_validation(len(full_train), config.validation_fraction, config.seed)
    return {
        "train": full_train.take(train_indices[: config.max_train_examples]),
        "validation": full_train.take(validation_indices),
        "test": splits["test"],
    }


@dataclasses.dataclass
class SeriesClasses:
    """What a time-series run keeps beside its model: the class names; while training, the longest series of the
    data (a model with a fixed longest series, Linformer's, is built for it)."""

    class_names: list
    longest: int = None


def standardization(normalize, train_values):
    """The model's first layer for `normalize` (None: "series" for one channel, "dataset" for several), or None
    for "none". In float32 under mixed precision too: squares of raw values overflow float16 from 256 on."""
    normalize = normalize or ("series" if train_values.shape[-1] == 1 else "dataset")
    if normalize == "series":
        return layers.SeriesStandardization(name="standardize", dtype="float32")
    if normalize == "dataset":
        # NaN after each series' end stays NaN, which the zoo models read as padding.
        mean, variance = np.nanmean(train_values, axis=(0, 1)), np.nanvar(train_values, axis=(0, 1))
        return keras.layers.Normalization(mean=mean.tolist(), variance=variance.tolist(), name="standardize", dtype="float32")
    return None


def one_series(values, channels):
    """One series to classify, `(T, C)` or with one channel `(T,)`, as float32 `(T, C)`; `ValueError` unless it has
    `channels` channels and a step."""
    array = np.asarray(values, "float32")
    shape = array.shape
    if array.ndim == 1 and channels == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[-1] != channels or len(array) == 0:
        raise ValueError(
            f"This run's model takes series of {channels} channel(s): each (T, {channels}){' or (T,)' if channels == 1 else ''}, "
            f"or a batch (N, T, {channels}), NaN after a series' end; received a series of shape {shape}."
        )
    return array


def read_prediction_file(path):
    """`[(T_i, C) arrays]` of a file of series to classify: `.ts` (labels, if any, ignored), or `.csv` / `.tsv` with
    one series a line, its values only."""
    series, _ = series_data.read_series_file(path, labeled=False)
    return [np.asarray(one, "float32").T for one in series]


class TimeSeriesClassification(ClassificationTask):
    examples = "series"
    # The best epoch has the lowest validation loss: a validation split of 7 or 10 series (ArrowHead, GunPoint) ties
    # at 100% accuracy from an early epoch on, and the first of a tie was kept, long before training had converged.
    monitor, monitor_mode = "val_loss", "min"
    exported_inputs = (
        "series: float32 (batch, T, C), each series padded after its end with NaN; the model normalizes them itself "
        "(its layer 'standardize', unless the run's config says normalize 'none'); the outputs are class logits in "
        "the order of labels.txt."
    )

    Config = Config

    def load_data(self, config):
        return load_data(config)

    def prepare(self, run, splits, config, *, resuming):
        class_names = run.keep_lines(run.labels_file, lambda: splits["train"].class_names, resuming)
        return SeriesClasses(class_names, max(split.values.shape[1] for split in splits.values()))

    def load_prepared(self, run, config):
        return SeriesClasses(read_lines(run.labels_file))

    def label_ids(self, split, prepared):
        return split.labels

    def make_dataset(self, split, prepared, config, *, order=None):
        """`tf.data` pipeline of `(series, one-hot labels)` batches, in each epoch's `order` for training."""
        targets = np.eye(len(prepared.class_names), dtype="float32")[split.labels]
        return example_dataset((split.values, targets), order).batch(config.batch_size).prefetch(tf.data.AUTOTUNE)

    def build_model(self, config, prepared, train):
        """`series -> SeriesStandardization -> zoo model -> logits`, the zoo model (nested) sized to the data."""
        channels = train.values.shape[-1]
        overrides = {"num_channels": channels, "num_classes": len(prepared.class_names)}
        if "sequence_length" in zoo.default_config(config.model):
            overrides["sequence_length"] = prepared.longest
        classifier = self.zoo_model(config, **overrides)
        series = keras.Input((None, channels), name="series")
        standardize = standardization(config.normalize, train.values)
        x = series if standardize is None else standardize(series)
        return keras.Model(series, classifier(x), name=f"{config.model}_on_series")

    def make_optimizer(self, config, schedule, steps_per_epoch):
        return optimization.make_optimizer("adamw", schedule, config.weight_decay)

    def run_metrics(self, config, splits, prepared, history):
        validated = {"validation_accuracy_per_epoch": history["val_accuracy"]} if "val_accuracy" in history else {}
        return {
            "dataset": config.dataset if config.train_file is None else f"series files {config.train_file}, {config.test_file}",
            **validated,
        }

    def check_inputs(self, inputs):
        """`[{"described": ..., "values": (T, C) array}]` of series files (each of its series) or arrays."""
        if isinstance(inputs, (str, Path)):
            inputs = [inputs]
        if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(one, (str, Path)) for one in inputs):
            return [
                {"described": {"file": str(path), "series": index}, "values": values}
                for path in inputs
                for index, values in enumerate(read_prediction_file(path))
            ]
        if isinstance(inputs, (list, tuple)) and not inputs:
            raise ValueError("Nothing to predict: give series (arrays) or files of series (.ts, .csv, .tsv).")
        return [{"described": {"series": index}, "values": values} for index, values in enumerate(_as_series_list(inputs))]

    def described(self, inputs):
        return [one["described"] for one in inputs]

    def probabilities(self, model, inputs, prepared, config):
        batch = padded_batch(inputs, model)
        return keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(batch, batch_size=config.batch_size, verbose=0)))

    def fit_options(self, run, splits, prepared, config, train_data):
        return {**super().fit_options(run, splits, prepared, config, train_data), "epoch_metrics": [PopulationBatchNorm(splits["train"].values)]}

    def attention_loggers(self, run, validation, prepared, config):
        """`[AttentionMapLogger]` of `attention_probes` validation series, the classes in turn (`probe_indices`)."""
        chosen = probe_indices(validation.labels, config.attention_probes)
        probes = validation.values[chosen]
        summaries = series_summaries(probes, validation.labels[chosen], prepared.class_names)
        return [AttentionMapLogger(run.path / ATTENTION_LOG_DIR, probes, summaries)]


class PopulationBatchNorm(keras.callbacks.Callback):
    """Before each validation (at each epoch's end in a run without one, before the best model is saved), the batch
    norms' moving statistics become those of the training series under the current weights ("precise BN", Wu and
    Johnson, "Rethinking 'Batch' in BatchNorm", 2021, Section 3.1): every batch norm's mean and variance over the
    first `MAX_SERIES` training series, in one training-mode call.

    A UCR training set is a few batches an epoch, and Keras' moving averages (momentum 0.99, here 0.9) follow the
    weights too slowly and a small last batch too closely: the saved SE-FCN classified ArrowHead's own training
    series at 83% and its test at 64% (trained to a loss of 0.0002), and 44% with the recipe's 100 epochs.
    Validation, the saved model and the test see the population statistics instead.
    """

    MAX_SERIES = 1024

    def __init__(self, series):
        super().__init__()
        self.series = series[: self.MAX_SERIES]

    def on_epoch_begin(self, epoch, logs=None):
        self.measured = False

    def on_test_begin(self, logs=None):
        self.measure()

    def on_epoch_end(self, epoch, logs=None):
        if not self.measured:
            self.measure()

    def measure(self):
        self.measured = True
        norms = [layer for layer in self.model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
        if not norms:
            return
        momenta = [norm.momentum for norm in norms]
        for norm in norms:
            norm.momentum = 0.0  # the next update is the batch's statistics alone
        try:
            self.model(self.series, training=True)
        finally:
            for norm, momentum in zip(norms, momenta):
                norm.momentum = momentum


def padded_batch(inputs, model):
    """The series of `check_inputs` as one `(N, T, C)` batch, NaN after each series' end; each must have the model's
    channels."""
    channels = model.input_shape[-1]
    return series_data.padded([one_series(one["values"], channels).T for one in inputs], "the series to predict")


def probe_indices(labels, count):
    """The first `count` indices of `labels` taken class by class in turn: each class's first series, then each
    class's second, ..."""
    by_class = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    return [int(i) for group in itertools.zip_longest(*by_class) for i in group if i is not None][:count]


def diagnosis_figures(run_dir, series, labels=None):
    """The figures TensorBoard shows of the probe series, for any `series` (as `predict` takes them) and a finished
    run's best model: each series with the attention over its steps beneath, titled with its class (`labels`,
    class names, if given) and the predicted one. Returns the `matplotlib` figures, one per series."""
    inputs = TASK.check_inputs(series)
    config, model, prepared = TASK.loaded_run(run_dir)
    batch = padded_batch(inputs, model)
    label_ids = None if labels is None else [prepared.class_names.index(str(label)) for label in labels]
    outputs, maps = attention_maps(model, batch)
    return [
        series_attention_figure(batch, outputs, maps, i, length, label_ids, prepared.class_names)
        for i, length in enumerate(series_data.series_lengths(batch))
    ]


def _as_series_list(values):
    """Arrays given to `predict`: one series `(T,)` / `(T, C)`, a batch `(N, T, C)`, or a list of series."""
    if isinstance(values, np.ndarray) and values.ndim == 3:
        return list(values)
    if isinstance(values, (list, tuple)) and all(isinstance(one, np.ndarray) for one in values):
        return list(values)
    return [np.asarray(values)]


TASK = TimeSeriesClassification()
train, load_run, evaluate, predict = TASK.train, TASK.load_run, TASK.evaluate, TASK.predict
