"""Classification: the `ClassificationTask` every classifier recipe shares, and its results (top-1 and
per-class accuracy, the confusion matrix and its TensorBoard image, distillation targets)."""

import dataclasses
import itertools

import keras
import numpy as np
import tensorflow as tf

from recipes.reporting import figures
from recipes.training import optimization
from recipes.task import Task
from recipes.training.run import RunError

TEST_LOG_DIR = "test"


@dataclasses.dataclass
class Labels:
    """What every classification run keeps beside its model: the class names, in the order of its outputs."""

    class_names: list


class ClassificationTask(Task):
    """A `Task` whose model returns class logits: labels, the report with its confusion matrix, probabilities.

    A subclass's `prepared` has `class_names`. Besides the `Task` hooks it defines
    `label_ids(split, prepared)` (the class ids of a split's labels),
    `make_optimizer(config, schedule, steps_per_epoch)`, and `model_inputs(inputs, prepared, config)`
    (what `model.predict` takes for the inputs of `predict`) or its own `probabilities`.
    """

    def described(self, inputs):
        """`{key: value}` naming each input in its prediction (the text, the image file); by default none."""
        return itertools.repeat({})

    def loss(self, config):
        return keras.losses.CategoricalCrossentropy(from_logits=True)

    def check_loaded(self, run, model, prepared):
        """The run's class names must be as many as the model's outputs (a `labels.txt` edited or replaced is not)."""
        outputs = model.output_shape[-1]
        if len(prepared.class_names) != outputs:
            raise RunError(
                f"{run.labels_file} names {len(prepared.class_names)} classes, but {run.model_file} has {outputs} "
                "outputs: the file was edited or replaced. Restore it: one class name per line, in the order of the outputs."
            )

    def compile_options(self, config, steps_per_epoch):
        """`make_optimizer` on linear warmup then cosine decay to 0 (no weight decay on biases and norms),
        the cross-entropy with one-hot (or soft) targets, and top-1 `accuracy`."""
        return {
            "optimizer": self.make_optimizer(
                config, optimization.warmup_cosine_schedule(config, steps_per_epoch), steps_per_epoch
            ),
            "loss": self.loss(config),
            "metrics": [keras.metrics.CategoricalAccuracy(name="accuracy")],
        }

    def run_files(self, run, config):
        return [run.labels_file]

    def logits(self, model, split, prepared, config):
        dataset = self.make_dataset(split, prepared, config)
        return model.predict(dataset.map(lambda inputs, targets: inputs), verbose=0)

    def test_report(self, model, test, prepared, config):
        """`classification_report` of `model` on `test`, and its `test_loss` (the mean cross-entropy)."""
        label_ids = self.label_ids(test, prepared)
        logits = self.logits(model, test, prepared, config)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(np.asarray(label_ids), logits)
        return {**classification_report(label_ids, logits, prepared.class_names), "test_loss": float(loss)}

    def log_test_report(self, run, report, config):
        log_confusion_matrix(run.path / TEST_LOG_DIR, report["confusion_matrix"], report["class_names"], step=config.epochs - 1)

    def probabilities(self, model, inputs, prepared, config):
        """`(len(inputs), classes)` class probabilities of `model` for the inputs of `predict`."""
        logits = model.predict(self.model_inputs(inputs, prepared, config), verbose=0)
        return keras.ops.convert_to_numpy(keras.ops.softmax(logits))

    def predictions(self, model, inputs, prepared, config):
        """One dict per input: what names it (`described`), `"label"` and `"probabilities": {class: p}`."""
        class_names = prepared.class_names
        return [
            {
                **named,
                "label": class_names[int(np.argmax(p))],
                "probabilities": {name: float(v) for name, v in zip(class_names, p)},
            }
            for named, p in zip(self.described(inputs), self.probabilities(model, inputs, prepared, config))
        ]


def one_hot(label_ids, num_classes):
    """`(N, num_classes)` float32 rows: 1 at each label id, 0 elsewhere."""
    return np.eye(num_classes, dtype="float32")[np.asarray(label_ids, "int64")]


def distillation_targets(label_targets, teacher_probabilities, weight):
    """Knowledge-distillation targets ``(1 - weight) y + weight p`` (Hinton et al., 2015, at temperature 1).

    `label_targets` `y`: one-hot labels `(N, K)`; `teacher_probabilities` `p`:
    the teachers' mean class probabilities `(N, K)`. The cross-entropy with
    these targets is ``(1 - weight) CE(y, q) + weight CE(p, q)`` for the student's `q`.
    """
    return ((1.0 - weight) * label_targets + weight * np.asarray(teacher_probabilities)).astype("float32")


def confusion_matrix(labels, predictions, num_classes):
    """`(K, K)` counts: row = true class, column = predicted class."""
    labels, predictions = np.asarray(labels, "int64"), np.asarray(predictions, "int64")
    return np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def classification_report(labels, logits, class_names):
    """`test_accuracy`, `per_class_accuracy`, `confusion_matrix` and `class_names` of `logits` against `labels`.

    A class without test examples (a test folder may lack one) has no accuracy: None.
    """
    counts = confusion_matrix(labels, np.argmax(logits, axis=-1), len(class_names))
    examples = counts.sum(axis=1)
    return {
        "test_accuracy": float(np.trace(counts) / counts.sum()),
        "per_class_accuracy": {
            name: float(counts[k, k] / examples[k]) if examples[k] else None for k, name in enumerate(class_names)
        },
        "confusion_matrix": counts.tolist(),
        "class_names": list(class_names),
    }


def log_confusion_matrix(log_dir, counts, class_names, step):
    """The confusion matrix as the image "confusion_matrix" in `log_dir` (a run's `test/`)."""
    pixels = figures.figure_pixels(figures.plot_confusion_matrix(counts, class_names, title="Confusion matrix (test)"))
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        tf.summary.image("confusion_matrix", pixels[None], step=step)
    writer.close()
