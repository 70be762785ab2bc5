"""Benchmark: time-series classifiers on six UCR/UEA datasets aeon bundles, each on the recipe's default schedule.

Each model is trained once per dataset with the same settings (the recipe's defaults: 100 epochs of AdamW, batch
16, 20% of the official training split held out to pick the best epoch) and scored on the official test split.
Writes `benchmarks/results/time_series_<model>_<dataset>.json`. Not a test.

    python benchmarks/time_series.py [--datasets NAME ...] [--models NAME ...] [--set key=value ...]

References (test accuracy of ResNet, Ismail Fawaz et al., "Deep learning for time series classification: a
review", 2019; means over their runs in github.com/hfawaz/dl-4-tsc results/results-ucr-128.csv (UCR 2018, 5 runs)
and results/results-mts.csv (MTS archive, 10 runs)): `PUBLISHED_RESNET`.
"""

import argparse

from common import run_benchmarks
from recipes.task import get_task

DATASETS = ["GunPoint", "ArrowHead", "OSULeaf", "ItalyPowerDemand", "JapaneseVowels", "BasicMotions"]
MODELS = ["se_fcn", "eca_fcn", "resnet1d", "se_resnet1d", "eca_resnet1d", "series_transformer", "series_bilstm_attention"]
# ResNet's published test accuracy; BasicMotions (UEA 2018) is not among Ismail Fawaz et al.'s datasets.
PUBLISHED_RESNET = {"GunPoint": 0.991, "ArrowHead": 0.838, "OSULeaf": 0.980, "ItalyPowerDemand": 0.962, "JapaneseVowels": 0.992}


def figures(metrics):
    return {
        "test_accuracy": metrics["test_accuracy"],
        "dataset": metrics["dataset"],
        "train_series_per_second": metrics["train_series_per_second"],
        "train_series": metrics["train_series"],
    }


def main():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    known, rest = parser.parse_known_args()
    # A record's command names its dataset (--set dataset=NAME, --tag name): that one run again.
    runs = [rest] if any(arg.startswith("dataset=") for arg in rest) else [
        [*rest, "--tag", dataset.lower(), "--set", f"dataset={dataset}"] for dataset in known.datasets
    ]
    for argv in runs:
        run_benchmarks(
            benchmark="time_series",
            task=get_task("time-series-classification"),
            models=MODELS,
            figures=figures,
            description=__doc__.splitlines()[0],
            argv=argv,
        )


if __name__ == "__main__":
    main()
