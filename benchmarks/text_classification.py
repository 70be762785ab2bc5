"""Benchmark: each text classifier trained from scratch on full SST-2, scored on GLUE dev.

Writes `benchmarks/results/text_classification_<model>.json` (dev accuracy,
epochs, wall time, training examples/s, machine, command) per model. Not a test.

    python benchmarks/text_classification.py [--models NAME ...] [--set key=value ...]
"""

from common import run_benchmarks
from recipes import text_classification


def figures(metrics):
    return {
        "dev_accuracy": metrics["test_accuracy"],
        "train_examples_per_second": metrics["train_examples_per_second"],
        "train_examples": metrics["train_examples"],
    }


if __name__ == "__main__":
    run_benchmarks(
        benchmark="text_classification",
        recipe=text_classification,
        models=["bilstm_attention", "transformer_classifier_tiny", "transformer_classifier_small"],
        dataset="SST-2 (GLUE); train minus 5% of its sentences (with the phrases only they contain) held out for validation; scored on dev (872)",
        figures=figures,
        description=__doc__.splitlines()[0],
    )
