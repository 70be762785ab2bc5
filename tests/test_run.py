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
