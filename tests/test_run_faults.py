"""A run never lies and always resumes: divergence stops it before anything of the diverged epoch is saved; a
process killed at any moment (inside any write, or by SIGKILL) resumes and ends exactly as a run that never
stopped; one process trains a run directory at a time."""

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from toy_training import KillAfterEpoch, Killed, added_callbacks, toy_model, train

from recipes.training.callbacks import TrainingDiverged
from recipes.training.run import RunDirectory, RunError, write_json

TESTS = Path(__file__).parent
REPOSITORY = TESTS.parent


def test_a_run_traces_its_training_step_once(tmp_path):
    """The optimizer is built before the first step, which TensorFlow would trace twice if it created variables
    (the recipes' metrics are objects, whose variables exist already)."""
    model = toy_model()
    accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
    model.compile(keras.optimizers.Adam(0.01), "categorical_crossentropy", metrics=[accuracy])  # as a graph
    traced_batches = []
    train_step = model.train_step

    def traced_train_step(batch):
        traced_batches.append(batch)  # Python runs only while the step is traced
        return train_step(batch)

    model.train_step = traced_train_step
    train(tmp_path / "run", 2, make_model=lambda: model)
    assert len(traced_batches) == 1


class PoisonWeights(keras.callbacks.Callback):
    """Turns the first kernel into NaN in epoch `epoch` (0-based): before step `step`, or after the epoch's last step."""

    def __init__(self, epoch, step=None):
        super().__init__()
        self.poison_epoch, self.step = epoch, step

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.epoch == self.poison_epoch and batch == self.step:
            self.poison()

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.poison_epoch and self.step is None:
            self.poison()

    def poison(self):
        kernel = self.model.layers[0].kernel
        kernel.assign(np.full(kernel.shape, np.nan, "float32"))


@pytest.mark.parametrize(
    "poison, message",
    [
        (PoisonWeights(epoch=1, step=2), r"the loss became nan at epoch 2, step 3\. Likely causes: a learning rate"),
        # The last update of an epoch breaks the weights: the loss logged was still finite.
        (PoisonWeights(epoch=1), r"Training diverged in epoch 2: .*not finite\. Likely causes"),
    ],
)
def test_a_diverging_run_stops_with_an_error_and_keeps_nothing_of_that_epoch(tmp_path, poison, message):
    with pytest.raises(TrainingDiverged, match=message):
        train(tmp_path / "run", 3, callbacks=[poison])
    run = RunDirectory(tmp_path / "run")
    assert len(run.read_history()["loss"]) == 1  # the diverged epoch is not logged
    assert run.backup.epochs_done() == 1
    assert run.best_saved_value("val_accuracy", "max") is not None
    best = run.load_model()
    assert all(np.isfinite(weight).all() for weight in best.get_weights())
    assert not run.metrics_file.exists()


class ScriptedScores(keras.callbacks.Callback):
    """Sets each epoch's validation accuracy (before the callbacks that read it)."""

    def __init__(self, scores):
        super().__init__()
        self.scores = scores

    def on_epoch_end(self, epoch, logs=None):
        logs["val_accuracy"] = self.scores[epoch]


@pytest.mark.parametrize("killed_after", [None, 1, 2, 3, 4])
def test_patience_stops_after_that_many_epochs_without_progress_in_a_resumed_run_too(tmp_path, killed_after):
    """Best at epoch 2 (0.6); epochs 3, 4 and 5 do not beat it: with patience 3 training ends after epoch 5 of 8,
    however often it was killed on the way (after epoch 5: once the stop was decided)."""
    scores = ScriptedScores([0.5, 0.6, 0.55, 0.6, 0.59, 0.9, 0.9, 0.9])
    run = RunDirectory(tmp_path / "run")
    if killed_after is not None:
        with added_callbacks(after=[KillAfterEpoch(killed_after)]), pytest.raises(Killed):
            train(run.path, 8, callbacks=[scores], patience=3)
    train(run.path, 8, callbacks=[scores], patience=3)
    assert run.read_history()["val_accuracy"] == [0.5, 0.6, 0.55, 0.6, 0.59]
    assert run.trained() and not run.backup_dir.exists()
    assert run.best_saved_value("val_accuracy", "max") == 0.6


def test_metrics_files_are_strict_json_and_a_non_finite_number_is_named(tmp_path):
    path = tmp_path / "metrics.json"
    with pytest.raises(RunError, match=r"train_loss_per_epoch\[1\], nested\.value not finite"):
        write_json(path, {"accuracy": 0.5, "train_loss_per_epoch": [0.7, math.nan], "nested": {"value": -math.inf}})
    assert not path.exists()


class FaultInjector:
    """Counts the writes of a run (weights, models, JSON and text files, renames); with `kill_at=k` the k-th write
    stops halfway (a file cut short, or a rename not done) and raises `Killed`."""

    def __init__(self, monkeypatch, kill_at=None):
        self.writes, self.kill_at = [], kill_at
        for owner, name in [(keras.Model, "save_weights"), (keras.Model, "save")]:
            monkeypatch.setattr(owner, name, self.cut_file_short(getattr(owner, name), name))
        original_write_text = Path.write_text

        def write_text(path, text, *args, **kwargs):
            if self.is_killed_at(f"write {path.name}"):
                original_write_text(path, text[: len(text) // 2], *args, **kwargs)
                raise Killed
            return original_write_text(path, text, *args, **kwargs)

        original_replace = os.replace

        def replace(source, target):
            if self.is_killed_at(f"rename {Path(source).name}"):
                raise Killed
            return original_replace(source, target)

        monkeypatch.setattr(Path, "write_text", write_text)
        monkeypatch.setattr(os, "replace", replace)

    def is_killed_at(self, write):
        self.writes.append(write)
        return len(self.writes) - 1 == self.kill_at

    def cut_file_short(self, save, name):
        def cut_short(model, path, *args, **kwargs):
            result = save(model, path, *args, **kwargs)
            if self.is_killed_at(f"{name} {Path(path).name}"):
                with open(path, "r+b") as file:
                    file.truncate(os.path.getsize(path) // 2)
                raise Killed
            return result

        return cut_short


def test_a_run_killed_inside_or_between_any_of_its_writes_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, capsys, rng):
    """Every write of a 2-epoch run (config, history, backup weights and state, best model and record) is cut
    short or stopped before its rename, in turn; each broken run resumes and ends with the weights and history of
    a run that never stopped."""
    injector = FaultInjector(monkeypatch)
    reference = train(tmp_path / "reference", 2)
    reference_weights = reference.get_weights()
    reference_history = RunDirectory(tmp_path / "reference").read_history()
    writes = injector.writes
    assert {write.split()[0] for write in writes} == {"save_weights", "save", "write", "rename"}, writes

    for kill_at, write in enumerate(writes):
        run_dir = tmp_path / f"killed-at-{kill_at}"
        injector.writes, injector.kill_at = [], kill_at
        with pytest.raises(Killed):
            train(run_dir, 2)
        injector.kill_at = None
        capsys.readouterr()
        resumed = train(run_dir, 2)
        for weight, expected in zip(resumed.get_weights(), reference_weights):
            np.testing.assert_allclose(weight, expected, rtol=1e-5, atol=1e-6, err_msg=f"killed at {write}")
        history = RunDirectory(run_dir).read_history()
        np.testing.assert_allclose(history["loss"], reference_history["loss"], rtol=1e-5, err_msg=f"killed at {write}")
        if "rename state.json.partial" in writes[:kill_at]:  # the first epoch's backup was complete
            assert "resuming from epoch 2 of 2" in capsys.readouterr().out


def test_a_training_process_killed_at_random_moments_resumes_to_the_uninterrupted_result(tmp_path, rng):
    """SIGKILL at a random moment of a random epoch, three times, then a run to the end: the weights and history
    are those of a run that never stopped (and each restart takes the killed process's lock)."""
    reference_weights = train(tmp_path / "reference", 6).get_weights()
    reference_history = RunDirectory(tmp_path / "reference").read_history()
    run_dir, weights_file = tmp_path / "killed", tmp_path / "weights.npz"
    command = [sys.executable, str(TESTS / "toy_training.py"), str(run_dir), "6", str(weights_file)]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(REPOSITORY), str(TESTS)])}
    for _ in range(3):
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        target_epoch = int(rng.integers(1, 5))
        for line in process.stdout:
            if line.startswith("epoch") and int(line.split()[1]) >= target_epoch:
                break
        try:
            process.wait(timeout=float(rng.uniform(0.0, 0.3)))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
        process.stdout.close()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    with np.load(weights_file) as saved:
        for index, expected in enumerate(reference_weights):
            np.testing.assert_allclose(saved[f"arr_{index}"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(RunDirectory(run_dir).read_history()["loss"], reference_history["loss"], rtol=1e-5)


def test_a_second_process_is_refused_while_the_first_trains_and_a_killed_process_leaves_no_lock(tmp_path):
    run_dir = tmp_path / "run"
    holder = (
        "import sys, time; from recipes.training.run import RunDirectory; "
        "lock = RunDirectory(sys.argv[1]).locked(); lock.__enter__(); print('locked', flush=True); time.sleep(600)"
    )
    env = os.environ | {"PYTHONPATH": str(REPOSITORY)}
    process = subprocess.Popen([sys.executable, "-c", holder, str(run_dir)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked"
        with pytest.raises(RunError, match=rf"{run_dir} is being trained by process {process.pid} on .*another run directory"):
            with RunDirectory(run_dir).locked():
                pass
    finally:
        process.kill()
        process.wait()
    with RunDirectory(run_dir).locked():  # the killed process's lock went with it
        pass
    assert RunDirectory(run_dir).lock_file.read_text().startswith(f"process {os.getpid()} on ")
