"""The run directory's files: configuration checks and the training history across resumptions."""

import dataclasses
import json
from pathlib import Path
from typing import ClassVar

import keras
import numpy as np
import pytest
from event_files import read_summaries
from error_messages import raises_mentioning

from recipes.training.callbacks import BestModelCheckpoint, WeightHistograms
from recipes.training.run import RunDirectory, RunError


def test_history_keeps_the_last_record_of_each_epoch(tmp_path):
    run = RunDirectory(tmp_path)
    # Epoch 1 ran twice: the process stopped after logging it but before its backup.
    run.history_file.write_text("epoch,loss,epoch_seconds\n0,2.0,10\n1,1.5,11\n1,1.4,12\n2,1.0,9\n")
    assert run.read_history() == {"loss": [2.0, 1.4, 1.0], "epoch_seconds": [10.0, 12.0, 9.0]}


def test_a_run_without_validation_has_no_validation_history(tmp_path):
    """Keras' CSVLogger adds `val_` columns of "NA" to a run without validation; only there is "NA" no number."""
    run = RunDirectory(tmp_path)
    run.history_file.write_text("epoch,loss,val_loss\n0,2.0,NA\n1,1.5,NA\n")
    assert run.read_history() == {"loss": [2.0, 1.5]}


@pytest.mark.parametrize("last_line", ["2,1.0", "x,1.0,9", "2,1.0,9,7", "2,NA,9"])
def test_a_history_row_cut_short_or_edited_is_named_by_its_line(tmp_path, last_line):
    run = RunDirectory(tmp_path)
    run.history_file.write_text(f"epoch,loss,epoch_seconds\n0,2.0,10\n1,1.5,11\n{last_line}")
    with pytest.raises(RunError, match=r"history.csv, line 4: not an epoch number and one number per column of the header "
                                       r"\['epoch', 'loss', 'epoch_seconds'\] \(cut short or edited\?\)"):
        run.read_history()


def log_an_epoch(run):
    run.history_file.write_text("epoch,loss\n0,2.0\n")


def test_missing_history_and_changed_config_are_reported(tmp_path):
    run = RunDirectory(tmp_path / "run")
    assert not run.start({"model": "a", "epochs": 1})
    with pytest.raises(RunError, match="Missing training history .*history.csv"):
        run.read_history()
    log_an_epoch(run)
    with pytest.raises(RunError, match="differs in: epochs"):
        run.start({"model": "a", "epochs": 2})
    assert run.start({"model": "a", "epochs": 1})  # same configuration: resumes


def test_a_directory_of_other_files_or_a_file_is_refused_and_left_as_it_was(tmp_path):
    folder = tmp_path / "thesis"
    (folder / "backup").mkdir(parents=True)
    (folder / "backup" / "draft.txt").write_text("chapter 1")
    (folder / "labels.txt").write_text("mine")
    with pytest.raises(RunError, match=r"holds files but no run \(config.json is missing\)"):
        RunDirectory(folder).start({"model": "a"})
    assert sorted(p.name for p in folder.rglob("*")) == ["backup", "draft.txt", "labels.txt"]
    assert (folder / "labels.txt").read_text() == "mine"
    (tmp_path / "notes.txt").write_text("notes")
    with pytest.raises(RunError, match="is a file"):
        RunDirectory(tmp_path / "notes.txt").start({"model": "a"})
    (tmp_path / "empty").mkdir()
    assert not RunDirectory(tmp_path / "empty").start({"model": "a"})  # an empty directory is a new run


@pytest.mark.parametrize("saved", ["history", "backup", "model"])
def test_a_start_that_failed_before_any_saved_epoch_takes_another_config(tmp_path, saved):
    run = RunDirectory(tmp_path / "run")
    run.start({"model": "a", "data_dir": "wrong"})  # then, say, the data directory was missing
    run.history_file.write_text("")  # Keras' CSVLogger creates it before the first epoch
    assert not run.start({"model": "a", "data_dir": "right"})
    assert run.read_config() == {"model": "a", "data_dir": "right"}
    save = {"history": lambda: log_an_epoch(run), "backup": run.backup_dir.mkdir, "model": run.model_file.touch}
    save[saved]()
    with pytest.raises(RunError, match="differs in: data_dir"):
        run.start({"model": "a", "data_dir": "wrong"})
    assert run.read_config() == {"model": "a", "data_dir": "right"}


def test_a_moved_run_resumes_and_records_where_it_is(tmp_path):
    RunDirectory(tmp_path / "run").start({"model": "a", "run_dir": str(tmp_path / "run"), "verbose": 2})
    log_an_epoch(RunDirectory(tmp_path / "run"))
    (tmp_path / "run").rename(tmp_path / "moved")
    moved = RunDirectory(tmp_path / "moved")
    moved.start({"model": "a", "run_dir": str(tmp_path / "moved") + "/", "verbose": 0})
    assert moved.read_config() == {"model": "a", "run_dir": str(tmp_path / "moved") + "/", "verbose": 0}
    with pytest.raises(RunError, match="differs in: model"):
        moved.start({"model": "b", "run_dir": str(tmp_path / "elsewhere"), "verbose": 0})


def test_a_run_resumes_on_another_number_of_devices(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.start({"model": "a", "distribution": "data_parallel", "devices": 8})
    log_an_epoch(run)
    assert run.start({"model": "a", "distribution": "data_parallel", "devices": 4})
    assert run.start({"model": "a", "distribution": None, "devices": None})
    assert run.read_config() == {"model": "a", "distribution": None, "devices": None}


def test_a_run_started_before_an_option_existed_resumes_only_with_its_default(tmp_path):
    run = RunDirectory(tmp_path / "run")
    run.start({"model": "a", "epochs": 1})
    log_an_epoch(run)
    defaults = {"model": "b", "epochs": 3, "attention_probes": 4}
    with pytest.raises(RunError, match="differs in: attention_probes"):
        run.start({"model": "a", "epochs": 1, "attention_probes": 2}, defaults=defaults)
    run.start({"model": "a", "epochs": 1, "attention_probes": 4}, defaults=defaults)
    assert run.read_config() == {"model": "a", "epochs": 1, "attention_probes": 4}
    with pytest.raises(RunError, match="differs in: epochs"):  # only added options may take their default
        run.start({"model": "a", "epochs": 3, "attention_probes": 4}, defaults=defaults)


def test_a_run_counts_as_trained_once_an_epoch_is_logged_a_model_saved_and_the_backup_removed(tmp_path):
    run = RunDirectory(tmp_path)
    assert not run.trained()
    run.history_file.write_text("epoch,loss\n0,2.0\n1,1.5\n1,1.4\n")
    assert not run.trained()  # no model saved yet
    run.model_file.write_bytes(b"")
    run.backup_dir.mkdir()
    assert not run.trained()  # stopped before its last epoch's backup was committed and removed
    run.backup_dir.rmdir()
    assert run.trained()


def test_hparams_are_the_flattened_config_without_nones():
    from recipes.training.callbacks import hparams_of

    config = {"model": "m", "epochs": 3, "lr": 1e-3, "flip": True, "data_dir": None, "sizes": [1, 2],
              "model_options": {"num_heads": 4, "dropout": None}}
    assert hparams_of(config) == {"model": "m", "epochs": 3, "lr": 1e-3, "flip": True, "sizes": "[1, 2]",
                                  "model_options.num_heads": 4}


def tiny_model(value):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.layers[0].bias.assign([value])
    return model


def saved_bias(run):
    return float(run.load_model().layers[0].bias.numpy()[0])


def test_the_best_model_is_saved_with_its_value_and_a_resumed_run_compares_with_that(tmp_path):
    run = RunDirectory(tmp_path)
    checkpoint = BestModelCheckpoint(run, "val_accuracy", "max")
    for epoch, score in enumerate([0.5, 0.7, 0.6]):
        checkpoint.set_model(tiny_model(score))
        checkpoint.on_epoch_end(epoch, {"val_accuracy": score, "loss": 1.0})
    assert saved_bias(run) == pytest.approx(0.7)
    assert json.loads(run.best_file.read_text()) == {"epoch": 1, "val_accuracy": 0.7}
    # Epoch 3 was logged with 0.9, and the process killed before its model was saved.
    run.history_file.write_text("epoch,val_accuracy\n0,0.5\n1,0.7\n2,0.6\n3,0.9\n")
    resumed = BestModelCheckpoint(run, "val_accuracy", "max")
    resumed.set_model(tiny_model(0.8))
    resumed.on_epoch_end(3, {"val_accuracy": 0.8})
    assert saved_bias(run) == pytest.approx(0.8)
    with pytest.raises(ValueError, match=r"`val_accuracy` is not in the epoch logs \['loss'\]"):
        resumed.on_epoch_end(4, {"loss": 1.0})


def test_a_save_killed_halfway_leaves_the_previous_best_model(tmp_path, monkeypatch):
    run = RunDirectory(tmp_path)
    checkpoint = BestModelCheckpoint(run, "val_loss", "min")
    checkpoint.set_model(tiny_model(0.3))
    checkpoint.on_epoch_end(0, {"val_loss": 2.0})
    better = tiny_model(0.1)

    def killed_while_writing(path, *args, **kwargs):
        Path(path).write_bytes(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(better, "save", killed_while_writing)
    checkpoint.set_model(better)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.on_epoch_end(1, {"val_loss": 1.0})
    assert saved_bias(run) == pytest.approx(0.3)
    assert json.loads(run.best_file.read_text()) == {"epoch": 0, "val_loss": 2.0}
    assert BestModelCheckpoint(run, "val_loss", "min").best == 2.0


def test_a_diverged_epoch_is_never_the_best(tmp_path):
    run = RunDirectory(tmp_path)
    checkpoint = BestModelCheckpoint(run, "val_loss", "min")
    checkpoint.set_model(tiny_model(0.0))
    checkpoint.on_epoch_end(0, {"val_loss": float("nan")})
    assert not run.model_file.exists() and checkpoint.best is None
    checkpoint.set_model(tiny_model(0.4))
    checkpoint.on_epoch_end(1, {"val_loss": 3.0})
    checkpoint.on_epoch_end(2, {"val_loss": float("inf")})
    assert saved_bias(run) == pytest.approx(0.4) and run.best_saved_value("val_loss", "min") == 3.0


def test_a_run_saved_before_best_json_starts_from_its_history(tmp_path):
    run = RunDirectory(tmp_path)
    assert BestModelCheckpoint(run, "val_bleu", "max").best is None
    tiny_model(0.0).save(run.model_file)
    run.history_file.write_text("epoch,val_bleu\n0,10.0\n1,12.5\n1,12.0\n")
    assert BestModelCheckpoint(run, "val_bleu", "max").best == 12.0  # epoch 1's last record
    assert run.best_saved_value("val_bleu", "min") == 10.0


def test_a_stored_config_must_be_an_object_of_the_recipes_settings(tmp_path):
    @dataclasses.dataclass
    class Config:
        task: ClassVar[str] = "image-recognition"
        model: str = "resnet20"
        epochs: int = 1

    @dataclasses.dataclass
    class TextConfig(Config):
        task: ClassVar[str] = "text-classification"

    run = RunDirectory(tmp_path)
    run.config_file.write_text(json.dumps({"model": "resnet56", "epochs": 3}))
    assert run.stored_config(Config) == Config("resnet56", 3)
    with pytest.raises(RunError, match=r"is not a text-classification run: its model is 'resnet56'\.$"):
        run.stored_config(TextConfig)
    run.config_file.write_text(json.dumps({"model": "resnet56", "epocs": 3, "zeal": 1}))
    with pytest.raises(RunError, match=r"config.json has settings the recipe does not know: epocs, zeal\. Settings: epochs, model\."):
        run.stored_config(Config)
    run.config_file.write_text("[1, 2]")
    with pytest.raises(RunError, match="config.json must hold a JSON object of settings; it holds list"):
        run.read_config()


def test_a_model_file_cut_short_or_missing_is_named(tmp_path):
    run = RunDirectory(tmp_path)
    with pytest.raises(RunError, match=r"model.keras is missing"):
        run.load_model()
    tiny_model(0.5).save(run.model_file)
    whole = run.model_file.read_bytes()
    run.model_file.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(RunError, match=r"model.keras is not a .keras archive \(a zip file\): it was cut short or replaced\.$"):
        run.load_model()


def test_weight_histograms_are_those_keras_tensorboard_writes(tmp_path, rng):
    model = keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(8, name="hidden"), keras.layers.BatchNormalization(), keras.layers.Dense(3),
        keras.layers.Dense(3, kernel_initializer="ones", trainable=False),  # histograms of one value
    ])
    model.compile("adam", "mse")
    features, targets = rng.normal(size=(64, 6)), rng.normal(size=(64, 3))
    callbacks = [keras.callbacks.TensorBoard(str(tmp_path / "keras"), histogram_freq=1), WeightHistograms(tmp_path / "ours")]
    model.fit(features, targets, epochs=3, batch_size=16, callbacks=callbacks, verbose=0)
    expected = read_summaries(tmp_path / "keras" / "train", "histograms")
    written = read_summaries(tmp_path / "ours", "histograms")
    assert len(expected) == 3 * 10 and written.keys() == expected.keys()  # 10 weights (4 of BatchNormalization), 3 epochs
    for key, histogram in expected.items():
        np.testing.assert_allclose(written[key], histogram, rtol=1e-6, err_msg=str(key))


def test_a_run_whose_best_model_was_picked_by_another_metric_says_so(tmp_path):
    run = RunDirectory(tmp_path)
    tiny_model(0.0).save(run.model_file)
    run.best_file.write_text('{"epoch": 3, "val_accuracy": 0.9}')
    with raises_mentioning("records the best model by ['val_accuracy']", "picks it by 'val_loss'", "new run directory", error=RunError):
        BestModelCheckpoint(run, "val_loss", "min")
