"""Every recipe runs end to end on JAX (KERAS_BACKEND=jax) at smoke size, and data parallel on two devices.

One subprocess (`jax_recipes.py`: the backend and XLA's two virtual CPU devices are fixed when JAX starts) trains a
text run on one device and on two, an image run and a translation run, and predicts and translates from them.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory, data_dir):
    env = os.environ | {"KERAS_BACKEND": "jax", "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    completed = subprocess.run(
        [sys.executable, str(TESTS / "jax_recipes.py"), str(tmp_path_factory.mktemp("jax"))],
        env=env, capture_output=True, text=True, timeout=1200,
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
