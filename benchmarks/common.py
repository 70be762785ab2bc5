"""What every benchmark script shares: arguments, the run loop, the JSON record.

A benchmark trains each model with its recipe's `train(Config(...))` and writes
`benchmarks/results/<benchmark>_<model>.json` with the figures the task reports,
the configuration, the machine and the command that reproduces it. With
`--seeds`, each model is trained once per seed and the record holds each
seed's figures, their mean and the standard deviation of the scalar ones.
With `--tag TAG`, the run directory and the JSON are `<model>_<TAG>`, so a
model can have a second row with other settings (a longer schedule, say)
beside the one every model shares.
"""

import argparse
import json
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import keras
import numpy as np

from layers.validation import is_number
from recipes.cli import parse_assignments

RESULTS = Path(__file__).parent / "results"


def cpu_model(cpuinfo=Path("/proc/cpuinfo")):
    """The CPU's name and its widest vector extension, from `cpuinfo` (`None` where there is none).

    The platform string does not name the CPU, and training speed differed four-fold between
    the 2-core machines these benchmarks ran on.
    """
    try:
        info = cpuinfo.read_text()
    except OSError:
        return None
    name = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", info, re.M)
    flags = set(flags.group(1).split()) if flags else set()
    widest = next((flag for flag in ("avx512f", "avx2", "avx") if flag in flags), "no AVX")
    return f"{name.group(1).strip() if name else 'unknown'} ({widest})"


def machine():
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
    }


def seconds_per_step(step, steps):
    """The mean wall time of `steps` calls of `step()`."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def mean_over_seeds(runs):
    """The mean of the runs' figures: numbers, lists elementwise, dicts key by key.

    A value equal in every run is kept as it is; one that differs and is not a
    number (a sample translation) is the first run's.
    """
    first = runs[0]
    if all(run == first for run in runs):
        return first
    if isinstance(first, dict):
        return {key: mean_over_seeds([run[key] for run in runs]) for key in first}
    if isinstance(first, list) and all(isinstance(run, list) and len(run) == len(first) for run in runs):
        return [mean_over_seeds(list(values)) for values in zip(*runs)]
    if all(is_number(run) for run in runs):
        return float(np.mean(runs))
    return first


def spread_over_seeds(runs):
    """The sample standard deviation (ddof 1) over the runs of each scalar figure that varies."""
    return {
        key: float(np.std([run[key] for run in runs], ddof=1))
        for key, value in runs[0].items()
        if isinstance(value, float) and any(run[key] != value for run in runs)
    }


def run_benchmarks(*, benchmark, task, models, figures, description, argv=None):
    """Parses `--models/--seeds/--set/--runs-dir`, trains each model, writes one JSON per model.

    Args:
        benchmark: file-name prefix and script name, e.g. `"translation"`.
        task: the recipe's `Task` (`recipes.task.get_task(name)`).
        models: the default model names.
        figures: `metrics -> dict` of the task's figures to record.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", nargs="+", default=models)
    parser.add_argument(
        "--seeds", nargs="+", type=int, metavar="SEED",
        help="train each model once per seed and record the mean and standard deviation (default: the config's seed, once)",
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Config field or model.ARG")
    parser.add_argument(
        "--tag", help="suffix of the run directory and the JSON (`<model>_<TAG>`), for a second row of a model with other settings",
    )
    parser.add_argument("--runs-dir", default="runs/benchmarks")
    args = parser.parse_args(argv)
    values, model_options = parse_assignments(args.set, task.Config)
    if args.seeds and "seed" in values:
        raise ValueError("Give the seeds with --seeds or with --set seed=..., not both.")
    if args.tag is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", args.tag):
        raise ValueError(f"--tag must be lowercase letters, digits, '_' or '-' (it names files); received {args.tag!r}.")
    RESULTS.mkdir(parents=True, exist_ok=True)
    for model in args.models:
        entry = model if args.tag is None else f"{model}_{args.tag}"
        run_dir = f"{args.runs_dir}/{benchmark}/{entry}"
        if args.seeds:
            configs = [
                task.Config(model=model, run_dir=f"{run_dir}/seed{seed}", model_options=model_options, **values, seed=seed)
                for seed in args.seeds
            ]
        else:
            configs = [task.Config(model=model, run_dir=run_dir, model_options=model_options, **values)]
        runs = [task.train(config).metrics for config in configs]
        mean = mean_over_seeds(runs)
        record = {
            "benchmark": benchmark,
            **figures(mean),
            **{key: mean[key] for key in ("model", "parameters", "epochs", "wall_time_seconds")},
            "config": configs[0].to_dict(),
            "machine": machine(),
            "command": shlex.join(
                [
                    "python", f"benchmarks/{benchmark}.py", "--models", model,
                    *(["--seeds", *map(str, args.seeds)] if args.seeds else []),
                    *(["--tag", args.tag] if args.tag else []),
                    *sum((["--set", s] for s in args.set), []),
                ]
            ),
        }
        if args.seeds:
            per_seed = [figures(run) for run in runs]
            record |= {
                "seeds": args.seeds,
                "std": spread_over_seeds(per_seed),
                "per_seed": [{"seed": seed, **run} for seed, run in zip(args.seeds, per_seed)],
            }
        path = RESULTS / f"{benchmark}_{entry}.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"{model}: {figures(mean)} -> {path}", file=sys.stderr)
