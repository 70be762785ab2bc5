"""The run directory's files: configuration checks and the training history across resumptions."""

import pytest

from recipes.run import RunDirectory, RunError


def test_history_keeps_the_last_record_of_each_epoch(tmp_path):
    run = RunDirectory(tmp_path)
    # Epoch 1 ran twice: the process stopped after logging it but before its backup.
    run.history_file.write_text("epoch,loss,epoch_seconds\n0,2.0,10\n1,1.5,11\n1,1.4,12\n2,1.0,9\n")
    assert run.read_history() == {"loss": [2.0, 1.4, 1.0], "epoch_seconds": [10.0, 12.0, 9.0]}


def test_missing_history_and_changed_config_are_reported(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.start({"model": "a", "epochs": 1})
    with pytest.raises(RunError, match="Missing training history .*history.csv"):
        run.read_history()
    with pytest.raises(RunError, match="differs in: epochs"):
        run.start({"model": "a", "epochs": 2})
    run.start({"model": "a", "epochs": 1})  # same configuration: resumes


def test_a_moved_run_resumes_and_records_where_it_is(tmp_path):
    RunDirectory(tmp_path / "run").start({"model": "a", "run_dir": str(tmp_path / "run"), "verbose": 2})
    (tmp_path / "run").rename(tmp_path / "moved")
    moved = RunDirectory(tmp_path / "moved")
    moved.start({"model": "a", "run_dir": str(tmp_path / "moved") + "/", "verbose": 0})
    assert moved.read_config() == {"model": "a", "run_dir": str(tmp_path / "moved") + "/", "verbose": 0}
    with pytest.raises(RunError, match="differs in: model"):
        moved.start({"model": "b", "run_dir": str(tmp_path / "elsewhere"), "verbose": 0})


def test_a_run_started_before_an_option_existed_resumes_only_with_its_default(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.start({"model": "a", "epochs": 1})
    defaults = {"model": "b", "epochs": 3, "attention_probes": 4}
    with pytest.raises(RunError, match="differs in: attention_probes"):
        run.start({"model": "a", "epochs": 1, "attention_probes": 2}, defaults=defaults)
    run.start({"model": "a", "epochs": 1, "attention_probes": 4}, defaults=defaults)
    assert run.read_config() == {"model": "a", "epochs": 1, "attention_probes": 4}
    with pytest.raises(RunError, match="differs in: epochs"):  # only added options may take their default
        run.start({"model": "a", "epochs": 3, "attention_probes": 4}, defaults=defaults)


def test_a_run_counts_as_trained_once_every_epoch_is_logged_and_a_model_saved(tmp_path):
    run = RunDirectory(tmp_path)
    assert not run.trained(2)
    run.history_file.write_text("epoch,loss\n0,2.0\n1,1.5\n1,1.4\n")
    assert not run.trained(2)  # no model saved yet
    run.model_file.write_bytes(b"")
    assert run.trained(2) and not run.trained(3)


def test_hparams_are_the_flattened_config_without_nones():
    from recipes.callbacks import hparams_of

    config = {"model": "m", "epochs": 3, "lr": 1e-3, "flip": True, "data_dir": None, "sizes": [1, 2],
              "model_options": {"num_heads": 4, "dropout": None}}
    assert hparams_of(config) == {"model": "m", "epochs": 3, "lr": 1e-3, "flip": True, "sizes": "[1, 2]",
                                  "model_options.num_heads": 4}
