"""Benchmark: each text classifier trained from scratch on full SST-2, scored on GLUE dev.

Writes `benchmarks/results/text_classification_<model>.json` (dev accuracy,
epochs, wall time, training examples/s, machine, command) per model. Not a test.

    python benchmarks/text_classification.py [--models NAME ...] [--set key=value ...]
"""

import argparse
import json
import os
import platform
import shlex
import sys
from pathlib import Path

import keras

from recipes import text_classification
from recipes.cli import parse_assignments

RESULTS = Path(__file__).parent / "results"
MODELS = ["bilstm_attention", "transformer_classifier_tiny", "transformer_classifier_small"]


def machine():
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Config field or model.ARG")
    parser.add_argument("--runs-dir", default="runs/benchmarks")
    args = parser.parse_args(argv)
    values, model_options = parse_assignments(args.set, text_classification.Config)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for model in args.models:
        config = text_classification.Config(
            **{"model": model, "run_dir": f"{args.runs_dir}/{model}", "model_options": model_options, **values}
        )
        result = text_classification.train(config)
        record = {
            "benchmark": "text_classification",
            "dataset": "SST-2 (GLUE); train minus a 5% validation split; scored on dev (872)",
            "dev_accuracy": result.metrics["test_accuracy"],
            **{key: result.metrics[key] for key in ("model", "parameters", "epochs", "wall_time_seconds",
                                                    "train_examples_per_second", "train_examples")},
            "config": config.to_dict(),
            "machine": machine(),
            "command": shlex.join(["python", "benchmarks/text_classification.py", "--models", model, *sum((["--set", s] for s in args.set), [])]),
        }
        path = RESULTS / f"text_classification_{model}.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"{model}: dev accuracy {record['dev_accuracy']:.4f} -> {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
