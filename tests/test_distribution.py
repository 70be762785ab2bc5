"""Data parallel training (`--set distribution=data_parallel`, recipes.training.distribution): what is refused, and
where. The runs on two devices are in test_jax_recipes.py."""

import pytest

from error_messages import raises_mentioning
from recipes import text_classification


@pytest.mark.backend_independent
def test_devices_without_a_distribution_is_refused():
    with raises_mentioning("`devices`", "distribution='data_parallel'"):
        text_classification.Config(model="bilstm_attention", devices=2)


def test_data_parallel_on_tensorflow_is_refused_before_the_run_directory_is_written(tmp_path):
    config = text_classification.Config(model="bilstm_attention", distribution="data_parallel", run_dir=str(tmp_path / "run"))
    with raises_mentioning("KERAS_BACKEND=jax", "tensorflow"):
        text_classification.train(config)
    assert not (tmp_path / "run").exists()
