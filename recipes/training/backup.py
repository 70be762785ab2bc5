"""A run's training state after its last complete epoch, written so that a process killed at any moment resumes.

    backup/
      state.json             {"epoch": epochs completed, "weights": file name, "seeds": random states}
      epoch-N.weights.h5     the model's weights and optimizer state after epoch N

Each epoch writes its weights under a new name (`write`, as soon as the epoch
is logged), then, once everything else about the epoch is saved (the best
model, TensorBoard), replaces `state.json` through a temporary file and
`os.replace` (atomic on POSIX and Windows) to name them (`commit`), then removes
the older weight files. A kill at any moment leaves a `state.json` that names a
complete file, or none (no epoch finished): never a half-written file that is
read, and never an epoch whose best-model check was skipped (a resumed run
trains that epoch again, to the same weights). Keras' `BackupAndRestore`
writes its weights and metadata in place, so a kill while it writes leaves a
backup that never loads again.

The random states (`seeds`) are those of the model's `keras.random.SeedGenerator`s
(dropout, ...): `model.variables` beyond `model.weights`. With them, the
optimizer state and a data order that depends only on the epoch
(`recipes.training.epochs`), a resumed run trains exactly as one that never stopped.
"""

import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np


class BackupError(ValueError):
    """A backup that exists but cannot be read (edited by hand, or written by another program)."""


class Backup:
    """The backup directory of a run (`path`): `write` and `commit` an epoch, `restore`, `epochs_done`, `remove`."""

    def __init__(self, path):
        self.path = Path(path)
        self.state_file = self.path / "state.json"
        self.partial_state_file = self.path / "state.json.partial"

    def read_state(self):
        """`{"epoch", "weights", "seeds"}` of the last complete backup; None when there is none."""
        if not self.state_file.is_file():
            return None
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
            epoch, weights, seeds = int(state["epoch"]), self.path / state["weights"], state["seeds"]
        except (ValueError, KeyError, TypeError) as error:
            raise BackupError(
                f"{self.state_file} is not a training backup ({error!r}); delete {self.path} to train the run from its start."
            ) from None
        if not weights.is_file():
            raise BackupError(f"{self.state_file} names {weights}, which is missing; delete {self.path} to train the run from its start.")
        return {"epoch": epoch, "weights": weights, "seeds": seeds}

    def epochs_done(self):
        """How many epochs the backup holds (0 without one)."""
        state = self.read_state()
        return 0 if state is None else state["epoch"]

    def write(self, model, epochs_done):
        """Writes `model`'s state after `epochs_done` epochs (weights, optimizer state, random states) beside
        the backup; `commit` makes it the backup."""
        self.path.mkdir(parents=True, exist_ok=True)
        weights = self.path / f"epoch-{epochs_done}.weights.h5"
        model.save_weights(weights, overwrite=True)
        state = {"epoch": epochs_done, "weights": weights.name, "seeds": [np.asarray(v).tolist() for v in seed_states(model)]}
        self.partial_state_file.write_text(json.dumps(state), encoding="utf-8")

    def commit(self):
        """Makes the state last written the backup, and removes older weights."""
        os.replace(self.partial_state_file, self.state_file)
        current = self.path / json.loads(self.state_file.read_text(encoding="utf-8"))["weights"]
        for old in self.path.glob("epoch-*.weights.h5"):
            if old != current:
                old.unlink()

    def restore(self, model):
        """Loads the backup into `model` (compiled, its optimizer built: the backup holds the optimizer's
        variables); returns the epochs it holds (0, touching nothing, without one)."""
        state = self.read_state()
        if state is None:
            return 0
        try:
            model.load_weights(state["weights"])
        except Exception as error:
            raise BackupError(f"Cannot load {state['weights']} into {model.name}: {error}") from error
        variables = seed_states(model)
        if len(variables) != len(state["seeds"]):
            raise BackupError(f"{self.state_file} holds {len(state['seeds'])} random states; {model.name} has {len(variables)}.")
        for variable, value in zip(variables, state["seeds"]):
            variable.assign(np.asarray(value, dtype=keras.backend.standardize_dtype(variable.dtype)))
        return state["epoch"]

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


def seed_states(model):
    """The state variables of `model`'s random seed generators: `model.variables` that are not weights."""
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


class WriteBackup(keras.callbacks.Callback):
    """Writes the epoch's state into `backup` (place it after the history logger, before any callback that
    swaps the trained weights out, such as `SwapEMAWeights`)."""

    def __init__(self, backup):
        super().__init__()
        self.backup = backup

    def on_epoch_end(self, epoch, logs=None):
        self.backup.write(self.model, epoch + 1)


class CommitBackup(keras.callbacks.Callback):
    """Commits the state `WriteBackup` wrote (place it last), and removes the backup when training ends."""

    def __init__(self, backup):
        super().__init__()
        self.backup = backup

    def on_epoch_end(self, epoch, logs=None):
        self.backup.commit()

    def on_train_end(self, logs=None):
        self.backup.remove()
