"""Benchmark: each text classifier trained from scratch on full SST-2, scored on GLUE dev.

Trained on SST-2 train minus 5% of its sentences (with the phrases only they
contain) held out for validation; scored on the 872 dev sentences.

Writes `benchmarks/results/text_classification_<model>.json` (dev accuracy,
epochs, wall time, training examples/s, machine, command) per model. Not a test.

    python benchmarks/text_classification.py [--models NAME ...] [--set key=value ...]
"""

from common import run_benchmarks
from recipes.task import get_task


def figures(metrics):
    """The record's figures; `teacher_time_seconds`: a distilled run's teachers' training plus their targets' inference
    (0 without teachers, and for runs finished before distillation, whose metrics lack both times)."""
    return {
        "dev_accuracy": metrics["test_accuracy"],
        "train_examples_per_second": metrics["train_examples_per_second"],
        "train_examples": metrics["train_examples"],
        "teacher_time_seconds": metrics.get("teacher_wall_time_seconds", 0.0) + metrics.get("teacher_inference_seconds", 0.0),
    }


if __name__ == "__main__":
    run_benchmarks(
        benchmark="text_classification",
        task=get_task("text-classification"),
        models=["bilstm_attention", "transformer_classifier_tiny", "transformer_classifier_small"],
        figures=figures,
        description=__doc__.splitlines()[0],
    )
