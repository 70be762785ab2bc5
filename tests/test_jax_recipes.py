"""Every recipe runs end to end on JAX (KERAS_BACKEND=jax) at smoke size, and data parallel on two devices.

One subprocess (`jax_recipes.py`: the backend and XLA's two virtual CPU devices are fixed when JAX starts) trains a
text run on one device and on two, an image run and a translation run, and predicts and translates from them. Two
more train the image run together, data parallel over two processes joined on 127.0.0.1 (four devices in all).
"""

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recipes.training.run import RunDirectory

TESTS = Path(__file__).parent
JAX = os.environ | {"KERAS_BACKEND": "jax", "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory, data_dir):
    completed = subprocess.run(
        [sys.executable, str(TESTS / "jax_recipes.py"), str(tmp_path_factory.mktemp("jax"))],
        env=JAX, capture_output=True, text=True, timeout=1200,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.splitlines()[-1])


def test_a_two_device_run_takes_the_steps_of_the_one_device_run(jax_runs):
    text = jax_runs["text"]
    assert text["devices_holding_the_weights"] == [1, 2]
    # The same sums in another order: float32 rounding, not another network.
    np.testing.assert_allclose(text["two_devices"], text["one_device"], rtol=1e-5)
    assert text["largest_weight_difference"] < 1e-5
    assert "`devices`" in text["three_devices"] and "2 local devices" in text["three_devices"]


def test_the_image_recipe_trains_and_predicts(jax_runs):
    image = jax_runs["image"]
    assert math.isfinite(image["train_loss_per_epoch"][0]) and 0.0 <= image["test_accuracy"] <= 1.0
    [prediction] = image["prediction"]
    assert prediction["label"] in prediction["probabilities"]
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_the_translation_recipe_trains_and_translates(jax_runs):
    translated = jax_runs["translation"]
    assert math.isfinite(translated["train_loss_per_epoch"][0]) and math.isfinite(translated["test_bleu_beam"])
    [sentence] = translated["translated"]
    assert isinstance(sentence, str)


def free_port():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        return listening.getsockname()[1]


@pytest.fixture(scope="module")
def two_process_run_dirs(tmp_path_factory, data_dir):
    """The run directories of the image run trained by two processes together (each writes its own)."""
    root, coordinator = tmp_path_factory.mktemp("processes"), f"127.0.0.1:{free_port()}"
    run_dirs = [root / f"process{index}" for index in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, str(TESTS / "jax_recipes.py"), "--process", str(run_dir), "2", str(index), coordinator],
            env=JAX, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        for index, run_dir in enumerate(run_dirs)
    ]
    try:
        errors = [worker.communicate(timeout=600)[1] for worker in workers]
    finally:  # one that failed leaves the other waiting for it
        for worker in workers:
            worker.kill()
    for worker, error in zip(workers, errors):
        assert worker.returncode == 0, error[-3000:]
    return run_dirs


def test_two_processes_train_the_run_of_one_process(jax_runs, two_process_run_dirs):
    one = RunDirectory(jax_runs["image"]["run_dir"])
    for run_dir in map(RunDirectory, two_process_run_dirs):
        np.testing.assert_allclose(run_dir.read_metrics()["train_loss_per_epoch"], one.read_metrics()["train_loss_per_epoch"], rtol=1e-5)
        differences = [np.abs(a - b).max() for a, b in zip(run_dir.load_model().get_weights(), one.load_model().get_weights())]
        assert max(differences) < 1e-5
