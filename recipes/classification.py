"""Classification results: top-1 and per-class accuracy, the confusion matrix, and its TensorBoard image."""

import numpy as np
import tensorflow as tf

from recipes import figures

TEST_LOG_DIR = "test"


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
