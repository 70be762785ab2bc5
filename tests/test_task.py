"""The training skeleton: a fourth task needs only its module, and then trains, resumes, evaluates and
predicts through the shared flow and the CLI."""

import importlib.machinery
import json
import sys
import textwrap
import types

import keras
import numpy as np
import pytest

import layers
import zoo
from recipes import cli
from recipes.task import BaseConfig, get_task, task_names
from recipes.training.run import RunDirectory
from zoo import registry

# A whole task: its settings, its data and model, how it is compiled and fed. Everything else
# (run directory, resumption, callbacks, metrics, evaluate, predict, the CLI) is the skeleton's.
SEQUENCE_TASK = '''
"""Sequences of feature vectors -> class: is the first feature's mean positive? (synthetic data)."""

import dataclasses

import keras
import numpy as np

from layers.validation import check_positive_int
from recipes.classification import ClassificationTask, Labels, one_hot
from recipes.training.epochs import example_dataset
from recipes.training.run import read_lines
from recipes.task import BaseConfig, setting


@dataclasses.dataclass
class Sequences:
    values: np.ndarray
    labels: np.ndarray

    def __len__(self):
        return len(self.labels)

    def take(self, indices):
        return Sequences(self.values[indices], self.labels[indices])


@dataclasses.dataclass
class Config(BaseConfig):
    task = "sequence-toy"
    model: str = "toy_sequence_attention"
    examples_per_split: int = setting(256, check_positive_int, help="sequences in each split")
    validate: bool = setting(True, help="False: an empty validation split")
    constant_rate: bool = setting(False, help="True: the learning rate without warmup or decay")
    learning_rate: float = 1e-2
    warmup_fraction = 0.0
    run_dir: str = "runs/sequence_toy"


class SequenceToy(ClassificationTask):
    Config = Config
    examples = "sequences"

    def load_data(self, config):
        values = np.random.default_rng(config.seed).normal(size=(3, config.examples_per_split, 12, 3))
        splits = {
            split: Sequences(x.astype("float32"), (x[:, :, 0].mean(axis=1) > 0).astype("int64"))
            for split, x in zip(("train", "validation", "test"), values)
        }
        return splits if config.validate else splits | {"validation": splits["validation"].take(slice(0, 0))}

    def prepare(self, run, splits, config, *, resuming):
        return Labels(run.keep_lines(run.labels_file, lambda: ["negative", "positive"], resuming))

    def load_prepared(self, run, config):
        return Labels(read_lines(run.labels_file))

    def label_ids(self, split, prepared):
        return split.labels

    def make_dataset(self, split, prepared, config, *, order=None):
        return example_dataset((split.values, one_hot(split.labels, 2)), order).batch(config.batch_size)

    def build_model(self, config, prepared, train):
        return self.zoo_model(config, num_classes=len(prepared.class_names))

    def make_optimizer(self, config, schedule, steps_per_epoch):
        return keras.optimizers.Adam(config.learning_rate if config.constant_rate else schedule)

    def model_inputs(self, inputs, prepared, config):
        return np.asarray(inputs, "float32")


TASK = SequenceToy()
'''


@pytest.fixture(scope="module")
def sequence_task():
    """`recipes.sequence_toy`, a module made from `SEQUENCE_TASK`, with its model in the zoo; removed afterwards."""

    @zoo.register("toy_sequence_attention", task="sequence-toy", paper="(a test model)")
    def toy_sequence_attention(steps=12, features=3, units=16, num_classes=2):
        """Dense -> attention pooling -> logits."""
        inputs = keras.Input((steps, features), name="sequence")
        pooled = layers.AttentionPooling(name="pooling")(keras.layers.Dense(units, activation="tanh")(inputs))
        return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(pooled))

    module = types.ModuleType("recipes.sequence_toy")
    module.__spec__ = importlib.machinery.ModuleSpec("recipes.sequence_toy", None)
    sys.modules["recipes.sequence_toy"] = module
    exec(compile(textwrap.dedent(SEQUENCE_TASK), "recipes/sequence_toy.py", "exec"), module.__dict__)
    yield module
    del sys.modules["recipes.sequence_toy"]
    del registry._REGISTRY["toy_sequence_attention"]


def test_the_recipes_are_the_zoos_tasks():
    assert task_names() == ["image-recognition", "text-classification", "time-series-classification", "translation"]
    assert get_task("translation").name == "translation"
    with pytest.raises(ValueError, match=r"Unknown task 'speech'; choose one of \['image-recognition', "):
        get_task("speech")


def test_a_new_task_trains_evaluates_and_predicts_through_the_skeleton(sequence_task, tmp_path, capsys):
    assert "sequence-toy" in task_names()
    run_dir = tmp_path / "run"
    assert cli.main(["train", "sequence-toy", "--run-dir", str(run_dir), "--epochs", "4", "--set", "verbose=0"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 4 and metrics["train_sequences"] == metrics["test_sequences"] == 256
    assert len(metrics["train_loss_per_epoch"]) == 4 and metrics["train_loss_per_epoch"][-1] < metrics["train_loss_per_epoch"][0]

    # The saved model's accuracy, computed here from its logits, is what train and evaluate report.
    test = sequence_task.TASK.load_data(sequence_task.Config())["test"]
    model = keras.saving.load_model(run_dir / "model.keras")
    accuracy = float(np.mean(np.argmax(model.predict(test.values, verbose=0), axis=1) == test.labels))
    assert accuracy > 0.85
    assert metrics["test_accuracy"] == pytest.approx(accuracy)
    capsys.readouterr()
    assert cli.main(["evaluate", str(run_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] == pytest.approx(accuracy)

    predictions = sequence_task.TASK.predict(str(run_dir), test.values[:3])
    assert [p["label"] for p in predictions] == [
        ["negative", "positive"][k] for k in np.argmax(model.predict(test.values[:3], verbose=0), axis=1)
    ]


def test_a_run_without_validation_keeps_the_epoch_of_lowest_training_loss(sequence_task, tmp_path):
    """An empty validation split: no validation pass, and the saved model is the epoch whose training loss is lowest
    (a constant learning rate high enough that the loss goes up and down, so the last epoch is not the best)."""
    run_dir = tmp_path / "run"
    config = sequence_task.Config(run_dir=str(run_dir), epochs=4, validate=False, constant_rate=True, learning_rate=30.0, verbose=0)
    metrics = sequence_task.TASK.train(config).metrics
    history = RunDirectory(run_dir).read_history()
    assert not [name for name in history if name.startswith("val_")]
    losses = history["loss"]
    assert int(np.argmin(losses)) < len(losses) - 1, losses  # the last epoch is not the best
    best = json.loads((run_dir / "best.json").read_text())
    assert best["epoch"] == int(np.argmin(losses)) and best["loss"] == pytest.approx(min(losses))
    assert metrics["best_train_loss"] == pytest.approx(min(losses)) and "best_validation_accuracy" not in metrics


def test_settings_are_checked_where_they_are_declared(sequence_task):
    config_class = sequence_task.Config
    assert config_class.field_metadata("batch_size")["help"] == "examples per training step"  # declared by BaseConfig
    with pytest.raises(ValueError, match=r"`examples_per_split` must be a positive integer; received examples_per_split=0"):
        config_class(examples_per_split=0)
    with pytest.raises(ValueError, match=r"`verbose` must be one of \[0, 1, 2\] or None; received verbose='abc'"):
        config_class(verbose="abc")
    with pytest.raises(ValueError, match=r"Unknown sequence-toy model 'resnet20'; choose one of \['toy_sequence_attention'\]"):
        config_class(model="resnet20")
    assert issubclass(config_class, BaseConfig) and config_class().defaults()["learning_rate"] == 1e-2
