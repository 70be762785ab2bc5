"""What every benchmark script shares: arguments, the run loop, the JSON record.

A benchmark trains each model with its recipe's `train(Config(...))` and writes
`benchmarks/results/<benchmark>_<model>.json` with the figures the task reports,
the configuration, the machine and the command that reproduces it.
"""

import argparse
import json
import os
import platform
import shlex
import sys
from pathlib import Path

import keras

from recipes.cli import parse_assignments

RESULTS = Path(__file__).parent / "results"


def machine():
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
    }


def run_benchmarks(*, benchmark, recipe, models, dataset, figures, description, argv=None):
    """Parses `--models/--set/--runs-dir`, trains each model, writes one JSON per model.

    Args:
        benchmark: file-name prefix and script name, e.g. `"translation"`.
        recipe: the recipe module (`Config`, `train`).
        models: the default model names.
        dataset: a description of the data, stored in the record.
        figures: `metrics -> dict` of the task's figures to record.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", nargs="+", default=models)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Config field or model.ARG")
    parser.add_argument("--runs-dir", default="runs/benchmarks")
    args = parser.parse_args(argv)
    values, model_options = parse_assignments(args.set, recipe.Config)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for model in args.models:
        config = recipe.Config(
            **{"model": model, "run_dir": f"{args.runs_dir}/{benchmark}/{model}", "model_options": model_options, **values}
        )
        metrics = recipe.train(config).metrics
        record = {
            "benchmark": benchmark,
            "dataset": dataset,
            **figures(metrics),
            **{key: metrics[key] for key in ("model", "parameters", "epochs", "wall_time_seconds")},
            "config": config.to_dict(),
            "machine": machine(),
            "command": shlex.join(
                ["python", f"benchmarks/{benchmark}.py", "--models", model, *sum((["--set", s] for s in args.set), [])]
            ),
        }
        path = RESULTS / f"{benchmark}_{model}.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"{model}: {figures(metrics)} -> {path}", file=sys.stderr)
