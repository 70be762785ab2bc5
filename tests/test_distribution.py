"""Data parallel training (`--set distribution=data_parallel`, recipes.training.distribution).

On JAX, a run on two devices (XLA's virtual CPU devices, in a subprocess: the device count is fixed when JAX starts)
takes the steps of the 1-device run on the same global batches, and ends with its weights. TensorFlow is refused
before anything is written.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from error_messages import raises_mentioning
from recipes import text_classification

TESTS = Path(__file__).parent


def test_a_two_device_run_on_jax_takes_the_steps_of_the_one_device_run(tmp_path, data_dir):
    env = os.environ | {"KERAS_BACKEND": "jax", "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    completed = subprocess.run(
        [sys.executable, str(TESTS / "distributed_training.py"), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.splitlines()[-1])
    assert result["devices_holding_the_weights"] == [1, 2]
    # The same sums in another order: float32 rounding, not another network.
    np.testing.assert_allclose(result["two_devices"], result["one_device"], rtol=1e-5)
    assert result["largest_weight_difference"] < 1e-5
    assert "`devices`" in result["three_devices"] and "2 local devices" in result["three_devices"]


@pytest.mark.backend_independent
def test_devices_without_a_distribution_is_refused():
    with raises_mentioning("`devices`", "distribution='data_parallel'"):
        text_classification.Config(model="bilstm_attention", devices=2)


def test_data_parallel_on_tensorflow_is_refused_before_the_run_directory_is_written(tmp_path):
    config = text_classification.Config(model="bilstm_attention", distribution="data_parallel", run_dir=str(tmp_path / "run"))
    with raises_mentioning("KERAS_BACKEND=jax", "tensorflow"):
        text_classification.train(config)
    assert not (tmp_path / "run").exists()
