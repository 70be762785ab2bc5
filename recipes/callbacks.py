"""Callbacks shared by the recipes: checkpoints, resumption, TensorBoard, throughput."""

import time

import keras


class ThroughputMeter(keras.callbacks.Callback):
    """Adds `examples_per_second` (training batches only, validation excluded) to each epoch's logs.

    Place it before `keras.callbacks.TensorBoard` so the figure is logged as a scalar.
    """

    def __init__(self, examples_per_epoch):
        super().__init__()
        self.examples_per_epoch = examples_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._last > self._start:
            logs["examples_per_second"] = self.examples_per_epoch / (self._last - self._start)


def standard_callbacks(run, *, monitor, mode, examples_per_epoch):
    """The callbacks of every recipe run.

    * `ThroughputMeter`;
    * `BackupAndRestore` into `run.backup_dir`: a killed run resumes where it was;
    * `ModelCheckpoint` of the best model (by `monitor`) into `run.model_file`;
    * `TensorBoard` into the run directory (`train/`, `validation/`): scalars
      including the learning rate and throughput, and weight histograms each epoch.
    """
    return [
        ThroughputMeter(examples_per_epoch),
        keras.callbacks.BackupAndRestore(str(run.backup_dir)),
        keras.callbacks.ModelCheckpoint(str(run.model_file), monitor=monitor, mode=mode, save_best_only=True),
        keras.callbacks.TensorBoard(str(run.path), histogram_freq=1, write_graph=False),
    ]
