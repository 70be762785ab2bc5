"""A small run through the recipes' training machinery (`recipes.training.callbacks.fit`, the run directory,
its lock, backup and epoch order), for the fault tests, and callbacks that tests add around any run's own
(`added_callbacks`, `KillAfterEpoch`); as a script it trains in its own process:

    python toy_training.py RUN_DIR EPOCHS WEIGHTS.npz    (prints "epoch N" as each epoch begins)
"""

import contextlib
import dataclasses
import sys

import keras
import numpy as np
import tensorflow as tf

from recipes.training import callbacks
from recipes.training.callbacks import fit
from recipes.training.epochs import EpochOrder
from recipes.training.run import RunDirectory


@dataclasses.dataclass
class ToyConfig:
    epochs: int
    seed: int = 3
    verbose: int = 0
    patience: int = None

    def to_dict(self):
        return dataclasses.asdict(self)


def toy_data(seed, size):
    """Vectors of 8 features; the class is whether the first two sum above zero (one-hot)."""
    features = np.random.default_rng(seed).normal(size=(size, 8)).astype("float32")
    return features, np.eye(2, dtype="float32")[(features[:, 0] + features[:, 1] > 0).astype(int)]


def toy_model():
    """Dropout, so the random states must be restored too; Adam, so the optimizer's. Its steps run eagerly:
    tracing them as a graph takes longer than the few steps of a toy run (the fault tests train about 60)."""
    model = keras.Sequential([
        keras.Input((8,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(0.01), "categorical_crossentropy", metrics=["accuracy"], run_eagerly=True)
    return model


class Killed(BaseException):
    """Stands for SIGKILL: nothing may catch it (it is no `Exception`)."""


class KillAfterEpoch(keras.callbacks.Callback):
    """Raises `Killed` at the end of epoch `epoch` (0-based); placed after the run's callbacks, once its backup holds it."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Killed


@contextlib.contextmanager
def added_callbacks(before=(), after=()):
    """Within: every run's `fit` calls `before`, the run's standard callbacks, then `after` (which see the epoch's
    backup and checkpoint written)."""
    original = callbacks.standard_callbacks
    callbacks.standard_callbacks = lambda *args, **kwargs: [*before, *original(*args, **kwargs), *after]
    try:
        yield
    finally:
        callbacks.standard_callbacks = original


class PrintEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        print(f"epoch {epoch}", flush=True)


def train(run_dir, epochs, train_features=None, callbacks=(), patience=None, make_model=toy_model):
    """Trains (or resumes) the toy run in `run_dir` for `epochs`; returns the model.

    `train_features`: the training inputs (default: 128 random vectors, 4 batches); `callbacks` run before the run's own;
    `make_model`: returns the compiled model to train, called after the run's seed is set.
    """
    config = ToyConfig(epochs, patience=patience)
    keras.utils.set_random_seed(config.seed)
    features, labels = toy_data(0, 128)
    features = features if train_features is None else train_features
    order = EpochOrder(config.seed)
    train_data = order.examples((features, labels)).batch(32)
    validation_data = tf.data.Dataset.from_tensor_slices(toy_data(1, 64)).batch(32)
    model = make_model()
    run = RunDirectory(run_dir)
    with run.locked():
        run.start(config.to_dict())
        fit(
            model, train_data, validation_data, run, config, monitor="val_accuracy", mode="max",
            examples_per_epoch=len(features), epoch_metrics=list(callbacks), epoch_order=order,
        )
    return model


if __name__ == "__main__":
    run_dir, epochs, weights_file = sys.argv[1:]
    trained = train(run_dir, int(epochs), callbacks=[PrintEpoch()])
    np.savez(weights_file, *trained.get_weights())
