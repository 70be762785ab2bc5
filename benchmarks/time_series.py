"""Benchmark: time-series classifiers on six UCR/UEA datasets aeon bundles, every model on one schedule.

Each model is trained once per dataset with the same settings (by default the recipe's: 100 epochs of AdamW, batch
16, 20% of the official training split held out to pick the best epoch; `--tag full --set validation_fraction=0`:
the whole training split, the epoch of lowest training loss kept, as the published figures were measured) and
scored on the official test split. Writes `benchmarks/results/time_series_<model>_<dataset>[_<tag>].json`. Not a test.

    python benchmarks/time_series.py [--datasets NAME ...] [--models NAME ...] [--tag TAG] [--set key=value ...]

The published figures the README sets beside these (ResNet, FCN, InceptionTime) and their sources:
`results_table.PUBLISHED_SERIES`; `python benchmarks/results_table.py --write` renders a table per setting (tag).
"""

import argparse
import sys

from common import run_benchmarks
from recipes.task import get_task

DATASETS = ["GunPoint", "ArrowHead", "OSULeaf", "ItalyPowerDemand", "JapaneseVowels", "BasicMotions"]
MODELS = [
    "se_fcn", "eca_fcn", "resnet1d", "se_resnet1d", "eca_resnet1d", "series_transformer", "series_bilstm_attention",
    "series_linformer", "series_performer", "series_window_transformer",
]


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
