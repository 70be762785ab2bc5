"""Callbacks shared by the recipes: checkpoints, resumption, TensorBoard, throughput."""

import time

import keras


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


def standard_callbacks(run, *, monitor, mode, examples_per_epoch, tokens_per_epoch=None, epoch_metrics=(), loggers=()):
    """The callbacks of every recipe run.

    * `ThroughputMeter`;
    * `epoch_metrics`: callbacks that add metrics to the epoch logs (e.g. BLEU),
      placed before the callbacks that read them;
    * `CSVLogger` appending each epoch's logs to `run.history_file`, so the
      history of a resumed run covers every epoch (before the backup: an
      epoch killed in between is logged twice, and `read_history` keeps one);
    * `BackupAndRestore` into `run.backup_dir`: a killed run resumes where it was;
    * `ModelCheckpoint` of the best model (by `monitor`) into `run.model_file`;
    * `TensorBoard` into the run directory (`train/`, `validation/`): scalars
      including the learning rate and throughput, and weight histograms each epoch;
    * `loggers`: further TensorBoard writers (e.g. `AttentionMapLogger`).
    """
    return [
        ThroughputMeter(examples_per_epoch, tokens_per_epoch),
        *epoch_metrics,
        keras.callbacks.CSVLogger(str(run.history_file), append=True),
        keras.callbacks.BackupAndRestore(str(run.backup_dir)),
        keras.callbacks.ModelCheckpoint(str(run.model_file), monitor=monitor, mode=mode, save_best_only=True),
        keras.callbacks.TensorBoard(str(run.path), histogram_freq=1, write_graph=False),
        *loggers,
    ]
