"""Data parallel training (`--set distribution=data_parallel`, recipes.training.distribution): what is refused, and
where, and each process's share of a batch. The runs on two devices and on two processes are in test_jax_recipes.py."""

import numpy as np
import pytest
import tensorflow as tf

from error_messages import raises_mentioning
from recipes import text_classification
from recipes.training.distribution import process_shares


@pytest.mark.backend_independent
def test_devices_without_a_distribution_is_refused():
    with raises_mentioning("`devices`", "distribution='data_parallel'"):
        text_classification.Config(model="bilstm_attention", devices=2)


def test_data_parallel_on_tensorflow_is_refused_before_the_run_directory_is_written(tmp_path):
    config = text_classification.Config(model="bilstm_attention", distribution="data_parallel", run_dir=str(tmp_path / "run"))
    with raises_mentioning("KERAS_BACKEND=jax", "tensorflow"):
        text_classification.train(config)
    assert not (tmp_path / "run").exists()


@pytest.mark.backend_independent
@pytest.mark.parametrize("settings, mentioned", [
    ({"processes": 2, "process_index": 0, "coordinator": "127.0.0.1:1234"}, ("`processes`", "distribution='data_parallel'")),
    ({"distribution": "data_parallel", "processes": 2, "coordinator": "127.0.0.1:1234"}, ("`process_index`", "0 ... 1")),
    ({"distribution": "data_parallel", "processes": 2, "process_index": 1}, ("`coordinator`", "HOST:PORT")),
    ({"distribution": "data_parallel", "processes": 2, "process_index": 2, "coordinator": "h:1"}, ("`process_index`", "0 ... 1", "process_index=2")),
    ({"distribution": "data_parallel", "processes": 2, "process_index": 0, "coordinator": "h"}, ("`coordinator`", "HOST:PORT", "'h'")),
    ({"distribution": "data_parallel", "processes": 2, "process_index": 0, "coordinator": "h:1", "devices": 1}, ("every device", "devices=1")),
    ({"distribution": "data_parallel", "process_index": 0}, ("`processes`", "process_index")),
    ({"distribution": "data_parallel", "processes": 2, "process_index": -1, "coordinator": "h:1"}, ("`process_index`", "non-negative")),
])
def test_settings_of_several_processes_that_do_not_go_together_are_refused(settings, mentioned):
    with raises_mentioning(*mentioned):
        text_classification.Config(model="bilstm_attention", **settings)


@pytest.mark.backend_independent
def test_each_process_keeps_its_part_of_the_evenly_shared_examples_of_each_batch():
    rng = np.random.default_rng()
    replicas, processes = 4, 2
    sizes = [int(size) for size in rng.integers(1, 12, size=8)] + [3, 8]  # one batch below `replicas`, one even
    batches = [(rng.normal(size=(size, 3)).astype("float32"), rng.integers(0, 5, size=size)) for size in sizes]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(batches),
        output_signature=(tf.TensorSpec((None, 3), tf.float32), tf.TensorSpec((None,), tf.int64)),
    )
    shares = [list(process_shares(dataset, replicas, processes, index).as_numpy_iterator()) for index in range(processes)]
    kept = [(features, labels) for features, labels in batches if len(labels) >= replicas]
    assert [len(share) for share in shares] == [len(kept)] * processes
    for (features, labels), *parts in zip(kept, *shares):
        even = len(labels) - len(labels) % replicas
        assert all(len(part_labels) == even // processes for _, part_labels in parts)
        np.testing.assert_array_equal(np.concatenate([part_features for part_features, _ in parts]), features[:even])
        np.testing.assert_array_equal(np.concatenate([part_labels for _, part_labels in parts]), labels[:even])
    single = process_shares(tf.data.Dataset.from_tensors(np.arange(6.0)), replicas, processes, 1)
    np.testing.assert_array_equal(next(iter(single)).numpy(), [2.0, 3.0])
