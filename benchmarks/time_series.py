"""Benchmark: time-series classifiers on six UCR/UEA datasets aeon bundles, each on the recipe's default schedule.

Each model is trained once per dataset with the same settings (the recipe's defaults: 100 epochs of AdamW, batch
16, 20% of the official training split held out to pick the best epoch) and scored on the official test split.
Writes `benchmarks/results/time_series_<model>_<dataset>.json`. Not a test.

    python benchmarks/time_series.py [--datasets NAME ...] [--models NAME ...] [--tag TAG] [--set key=value ...]

References (test accuracy): ResNet and FCN of Ismail Fawaz et al., "Deep learning for time series classification:
a review", 2019, the means over their runs in github.com/hfawaz/dl-4-tsc results/results-ucr-128.csv (UCR 2018, 5
runs) and results/results-mts.csv (MTS archive, 10 runs); InceptionTime (Ismail Fawaz et al., 2020), an ensemble of
five networks, from github.com/hfawaz/InceptionTime results-InceptionTime-128.csv (UCR 2018). BasicMotions (UEA
2018) is in none of these files; JapaneseVowels not in InceptionTime's.

    dataset            ResNet   FCN     InceptionTime
    GunPoint           99.1     100.0   100.0
    ArrowHead          83.8     84.3    84.6
    OSULeaf            98.0     97.9    94.2
    ItalyPowerDemand   96.2     96.3    96.5
    JapaneseVowels     99.2     99.3    -
"""

import argparse
import sys

from common import run_benchmarks
from recipes.task import get_task

DATASETS = ["GunPoint", "ArrowHead", "OSULeaf", "ItalyPowerDemand", "JapaneseVowels", "BasicMotions"]
MODELS = ["se_fcn", "eca_fcn", "resnet1d", "se_resnet1d", "eca_resnet1d", "series_transformer", "series_bilstm_attention"]


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
    parser.add_argument("--tag", help="a second row of each model and dataset with other settings: <dataset>_<TAG>")
    known, rest = parser.parse_known_args()
    suffix = "" if known.tag is None else f"_{known.tag}"
    # A record's command names its dataset (--set dataset=NAME, --tag name): that one run again.
    runs = [sys.argv[1:]] if any(arg.startswith("dataset=") for arg in rest) else [
        [*rest, "--tag", f"{dataset.lower()}{suffix}", "--set", f"dataset={dataset}"] for dataset in known.datasets
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
