"""Callbacks shared by the recipes (divergence, checkpoints, resumption, TensorBoard, throughput, hyperparameters), and `fit` with them."""

import json
import math
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api
from tensorboard.plugins.histogram import metadata as histogram_metadata

from recipes.training.backup import CommitBackup, WriteBackup
from recipes.training.optimization import averages_weights
from recipes.training.run import RunError


class TrainingDiverged(RunError):
    """The loss, a metric or a weight of a training run stopped being a finite number."""


LIKELY_CAUSES = (
    "Likely causes: a learning rate too high for the model (--set learning_rate=...), examples without any input "
    "(texts that tokenize to nothing: every key masked), token ids outside the model's vocabulary (their embedding "
    "rows are NaN), or float16 overflow. Nothing of this epoch was saved: "
    "the run's best model and backup hold its last finite epoch. Train again in a new run directory once the cause "
    "is fixed."
)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training with `TrainingDiverged` at the first non-finite training loss, naming the epoch and step,
    or at an epoch whose logs (validation loss, metrics) or weights are not finite.

    Place it before the callbacks that log and save an epoch: a diverged epoch is
    then neither in the history nor in a checkpoint. (An update can turn the
    weights into NaN after the step's loss was computed, and accuracy over NaN
    logits still looks like a number: hence the weights' check.)
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingDiverged(f"Training diverged: the loss became {float(loss)} at epoch {self.epoch + 1}, step {batch + 1}. {LIKELY_CAUSES}")

    def on_epoch_end(self, epoch, logs=None):
        bad = sorted(name for name, value in (logs or {}).items() if not math.isfinite(float(value)))
        bad += [weight.path for weight in self.model.weights if not np.isfinite(keras.ops.convert_to_numpy(weight)).all()][:3]
        if bad:
            raise TrainingDiverged(f"Training diverged in epoch {epoch + 1}: {', '.join(bad)} not finite. {LIKELY_CAUSES}")


class ThroughputMeter(keras.callbacks.Callback):
    """Adds `examples_per_second` (and `tokens_per_second` when `tokens_per_epoch` is
    given) of the training batches, validation excluded, to each epoch's logs, and
    `epoch_seconds`, the epoch's wall time with validation.

    Place it before `keras.callbacks.TensorBoard` so the figures are logged as scalars.
    """

    def __init__(self, examples_per_epoch, tokens_per_epoch=None):
        super().__init__()
        self.examples_per_epoch = examples_per_epoch
        self.tokens_per_epoch = tokens_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start
        if logs is not None and self._last > self._start:
            seconds = self._last - self._start
            logs["examples_per_second"] = self.examples_per_epoch / seconds
            if self.tokens_per_epoch is not None:
                logs["tokens_per_second"] = self.tokens_per_epoch / seconds


def hparams_of(config):
    """`config` (a dict) flattened for the HParams plugin: `model_options.num_heads`, ...; None left out.

    The plugin takes numbers, strings and booleans; other values (lists) become JSON text.
    """
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in hparams_of(value).items()})
        elif value is not None:
            flat[key] = value if isinstance(value, (bool, int, float, str)) else json.dumps(value)
    return flat


class HParamsLogger(keras.callbacks.Callback):
    """Writes the run's configuration through TensorBoard's HParams plugin when training starts.

    Written in the run directory itself, so the plugin pairs it with the
    run's `train/` and `validation/` scalars: the HParams dashboard then
    compares runs under a common log directory by configuration and metric.
    """

    def __init__(self, log_dir, config):
        super().__init__()
        self.log_dir = str(log_dir)
        self.config = config

    def on_train_begin(self, logs=None):
        writer = tf.summary.create_file_writer(self.log_dir)
        with writer.as_default():
            hparams_api.hparams(hparams_of(self.config), trial_id=self.log_dir)
        writer.close()


def histogram_buckets(values, bucket_count=30):
    """The histogram TensorBoard shows for `values`: `(bucket_count, 3)` float64 rows `[left edge, right edge, count]`.

    TensorBoard's own algorithm (`tf.summary.histogram`, tensorboard/plugins/histogram/summary_v2.py `_buckets`):
    `bucket_count` buckets of equal width from the minimum to the maximum, the maximum in the last; all values
    equal: every edge at that value and every value in the last bucket.
    """
    data = np.asarray(values, np.float64).ravel()
    if data.size == 0:
        return np.zeros((bucket_count, 3))
    low, high = data.min(), data.max()
    if low == high:
        counts = np.zeros(bucket_count)
        counts[-1] = data.size
        return np.stack([np.full(bucket_count, high), np.full(bucket_count, high), counts], axis=1)
    indices = np.floor((data - low) / ((high - low) / bucket_count)).astype(np.int64)
    counts = np.bincount(np.minimum(indices, bucket_count - 1), minlength=bucket_count)
    edges = np.linspace(low, high, bucket_count + 1)
    edges[-1] = high
    return np.stack([edges[:-1], edges[1:], counts], axis=1)


# What marks a summary as a histogram for TensorBoard's dashboards (as `tf.summary.histogram` writes it).
HISTOGRAM_METADATA = histogram_metadata.create_summary_metadata(display_name=None, description=None)


class WeightHistograms(keras.callbacks.Callback):
    """A histogram of every weight after each epoch, in `log_dir`, as `keras.callbacks.TensorBoard(histogram_freq=1)`
    writes them (the tag `<weight path>/histogram`, the epoch as the step; `histogram_buckets`).

    Keras' callback runs `tf.summary.histogram` eagerly, a few dozen TensorFlow ops per weight (3.7 s an epoch
    for CBAM-ResNet-20's 142 weights on 2 cores), and in a `tf.function` their conditionals take a minute to
    trace; NumPy counts them in 0.1 s.
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = str(log_dir)

    def on_train_begin(self, logs=None):
        self.writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        with self.writer.as_default():
            for layer in self.model.layers:
                for weight in layer.weights:
                    buckets = histogram_buckets(keras.ops.convert_to_numpy(weight))
                    tag = f"{weight.path.replace(':', '_')}/histogram"
                    tf.summary.write(tag, buckets, step=epoch, metadata=HISTOGRAM_METADATA)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()


class BestModelCheckpoint(keras.callbacks.Callback):
    """Saves the model when `monitor` beats the saved model's value (`mode`: "max" or "min").

    `run.save_best_model` writes `model.keras` and `best.json` (the epoch and
    value) so that a process killed while saving leaves the previous pair. A
    resumed run compares with the saved model's value (`run.best_saved_value`),
    not with one logged in the history whose model was never saved. An epoch
    whose value is not finite (a diverged run) is never saved.
    """

    def __init__(self, run, monitor, mode):
        super().__init__()
        self.run, self.monitor, self.mode = run, monitor, mode
        self.best = run.best_saved_value(monitor, mode)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(f"`{self.monitor}` is not in the epoch logs {sorted(logs)}: the best model cannot be picked.")
        value = float(logs[self.monitor])
        if not math.isfinite(value):
            return
        if self.best is not None and not (value > self.best if self.mode == "max" else value < self.best):
            return
        self.run.save_best_model(self.model, {"epoch": epoch, self.monitor: value})
        self.best = value


def epochs_without_progress(values, mode):
    """How many epochs came after the first best of `values` (one per epoch; `mode`: "max" or "min")."""
    return len(values) - 1 - values.index((max if mode == "max" else min)(values)) if values else 0


class StopWithoutProgress(keras.callbacks.Callback):
    """Early stopping (`patience`): ends training once `patience` epochs in a row did not beat the best `monitor`
    value (`mode`: "max" or "min"). It counts from the run's history, not from memory, so a resumed run stops
    where an uninterrupted one would. Place it after the callbacks that add `monitor` to the logs."""

    def __init__(self, run, monitor, mode, patience):
        super().__init__()
        self.run, self.monitor, self.mode, self.patience = run, monitor, mode, patience

    def on_train_begin(self, logs=None):
        self.values = dict(enumerate(logged_values(self.run, self.monitor)))

    def on_epoch_end(self, epoch, logs=None):
        self.values[epoch] = float(logs[self.monitor])
        if epochs_without_progress([self.values[e] for e in sorted(self.values) if e <= epoch], self.mode) >= self.patience:
            print(f"{self.run.path}: stopping after epoch {epoch + 1}: {self.monitor} has not improved for {self.patience} epochs.")
            self.model.stop_training = True


def logged_values(run, name):
    """The value of `name` at each epoch the run's history logged ([] before any)."""
    return run.read_history().get(name, []) if run.history_file.is_file() else []


def standard_callbacks(
    run, config, *, monitor, mode, examples_per_epoch, tokens_per_epoch=None, epoch_metrics=(), loggers=(),
    swap_ema_weights=False, epoch_order=None, patience=None,
):
    """The callbacks of every recipe run (`config`: the run's configuration as a dict).

    * `epoch_order` (`EpochOrder`), which sets the epoch the training pipeline shuffles for;
    * `ThroughputMeter`;
    * `epoch_metrics`: callbacks that add metrics to the epoch logs (e.g. BLEU) or set what validation measures
      (the time-series recipe's population batch-norm statistics), placed before the callbacks that read them;
    * `StopOnNonFinite`: a diverged run stops with an error before its epoch is logged or saved;
    * `CSVLogger` appending each epoch's logs to `run.history_file`, so the
      history of a resumed run covers every epoch (before the backup: an
      epoch killed in between is logged twice, and `read_history` keeps one);
    * `WriteBackup` into `run.backup` (`recipes.training.backup`), committed by
      `CommitBackup` once everything else of the epoch is saved: a run killed at any
      moment resumes after its last complete epoch;
    * with `swap_ema_weights` (an optimizer that averages the weights), `SwapEMAWeights`:
      validation, the checkpoint, histograms and loggers see the averaged weights, while
      the backup before it keeps the trained ones, so a resumed run trains on from them;
    * `BestModelCheckpoint` of the best model (by `monitor`) into `run.model_file`; a resumed
      run starts from the saved model's value, so its first epoch replaces the
      checkpoint only if it is better;
    * `TensorBoard` into the run directory (`train/`, `validation/`): scalars
      including the learning rate and throughput; `WeightHistograms` into `train/` each epoch;
    * `HParamsLogger`: `config` for TensorBoard's HParams dashboard;
    * `loggers`: further TensorBoard writers (e.g. `AttentionMapLogger`);
    * with `patience`, `StopWithoutProgress`.
    """
    return [
        *([epoch_order] if epoch_order is not None else []),
        ThroughputMeter(examples_per_epoch, tokens_per_epoch),
        *epoch_metrics,
        StopOnNonFinite(),
        keras.callbacks.CSVLogger(str(run.history_file), append=True),
        WriteBackup(run.backup),
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if swap_ema_weights else []),
        BestModelCheckpoint(run, monitor, mode),
        keras.callbacks.TensorBoard(str(run.path), write_graph=False),
        WeightHistograms(run.path / "train"),
        HParamsLogger(run.path, config),
        *loggers,
        *([StopWithoutProgress(run, monitor, mode, patience)] if patience else []),
        CommitBackup(run.backup),
    ]


def fit(model, train_data, validation_data, run, config, **callback_options):
    """`model.fit` for `config.epochs` with `standard_callbacks(run, config, **callback_options)`.

    A run with a backup resumes after the backup's epoch, saying so. Nothing
    happens when the run's training ended already (it was stopped during its
    final evaluation): only the evaluation is left.
    """
    if run.trained():
        return
    patience, monitor, mode = config.patience, callback_options["monitor"], callback_options["mode"]
    if patience and epochs_without_progress(logged_values(run, monitor), mode) >= patience:
        run.backup.remove()  # killed right after early stopping decided: training is over
        return
    if not model.optimizer.built:
        # Built before the first step, which TensorFlow would otherwise trace twice (once creating the variables).
        model.optimizer.build(model.trainable_variables)
    epochs_done = run.backup.restore(model)
    if epochs_done:
        print(f"{run.path}: resuming from epoch {epochs_done + 1} of {config.epochs} (its backup holds epoch {epochs_done}).")
    model.fit(
        train_data,
        validation_data=validation_data,
        initial_epoch=epochs_done,
        epochs=config.epochs,
        callbacks=standard_callbacks(
            run, config.to_dict(), swap_ema_weights=averages_weights(model.optimizer), patience=patience, **callback_options
        ),
        shuffle=False,  # the recipes' pipelines shuffle
        verbose=(1 if sys.stdout.isatty() else 2) if config.verbose is None else config.verbose,
    )
