"""Renders the README's results tables from `benchmarks/results/*.json`: one row per record, and the time-series
records as a table per setting (datasets x models, beside the published figures).

    python benchmarks/results_table.py            # print the tables
    python benchmarks/results_table.py --write    # replace them in README.md
"""

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
SERIES_BEGIN, SERIES_END = "<!-- time-series:begin -->", "<!-- time-series:end -->"

# Published test accuracy (%) on the datasets of benchmarks/time_series.py, as text at the precision published.
# ResNet and FCN of Ismail Fawaz et al., "Deep learning for time series classification: a review", 2019: the mean
# accuracy of their 5 runs in github.com/hfawaz/dl-4-tsc results/results-ucr-128.csv (UCR 2018), and for
# JapaneseVowels the mean of 10 runs in results/results-mts-avg-std.csv (MTS archive; one decimal there).
# InceptionTime (Ismail Fawaz et al., 2020), an ensemble of five networks: github.com/hfawaz/InceptionTime
# results-InceptionTime-128.csv. BasicMotions (UEA 2018, in neither): ResNet and InceptionTime of Ruiz et al.,
# "The great multivariate time series classification bake off", 2021, on the official split (fold 0) in
# github.com/time-series-machine-learning/tsml-eval results/classification/Multivariate/{ResNet,InceptionT}_accuracy.csv
# (every one of their 30 resamples 100% too). None: not published.
PUBLISHED_SERIES = {
    "GunPoint": ("99.07", "100.00", "100.00"),
    "ArrowHead": ("83.77", "84.34", "84.57"),
    "OSULeaf": ("98.02", "97.85", "94.21"),
    "ItalyPowerDemand": ("96.15", "96.29", "96.50"),
    "JapaneseVowels": ("99.2", "99.3", None),
    "BasicMotions": ("100.00", None, "100.00"),
}
PUBLISHED_NETWORKS = ("ResNet", "FCN", "InceptionTime")

# The settings of the time-series records, by the tag that ends their file names (benchmarks/time_series.py --tag).
SERIES_SETTINGS = {
    "full": "as the published networks were trained, `--tag full --set validation_fraction=0`: the whole official "
    "training split, the epoch of lowest training loss kept, but 100 epochs (theirs: 1,500 for ResNet, 2,000 for FCN)",
    "full_long": "`--tag full_long --set validation_fraction=0 --set epochs=500`: 500 epochs on the whole training split",
    "": "the recipe's defaults: 100 epochs on 80% of the official training split, the epoch of lowest validation loss kept",
    "long": "`--tag long --set epochs=500`: 500 epochs on 80% of the training split",
}


def percent(record, key, unit):
    """`82.91% accuracy`, or for a record over several seeds `82.68 ± 0.71% accuracy (mean of 4 seeds)`."""
    if "seeds" not in record:
        return f"{100 * record[key]:.2f}% {unit}"
    spread = 100 * record["std"].get(key, 0.0)
    return f"{100 * record[key]:.2f} ± {spread:.2f}% {unit} (mean of {len(record['seeds'])} seeds)"


def own_test_data(record, key):
    """`"<name> (own data)"` of the user's test file or folder `config[key]`; None for a named dataset."""
    path = record["config"].get(key)
    return None if path is None else f"{Path(path).name} (own data)"


def text_classification(record):
    """(evaluation set, score, throughput) of a text-classification record."""
    evaluation_set = own_test_data(record, "test_file") or "SST-2 dev"
    return evaluation_set, percent(record, "dev_accuracy", "accuracy"), f"{record['train_examples_per_second']:.0f} examples/s"


def translation(record):
    """(evaluation set, score, throughput) of a translation record."""
    score = (
        f"BLEU {record['test_bleu_beam']:.1f} (beam {record['beam_size']}), {record['test_bleu_greedy']:.1f} (greedy); "
        f"chrF {record['test_chrf_beam']:.1f}"
    )
    named = (
        f"spa-eng {record['direction']} test split"
        if record["config"].get("dataset") == "spa-eng"
        else f"Multi30k {record['direction']} test2016"
    )
    evaluation_set = own_test_data(record, "test_file") or named
    return evaluation_set, score, f"{record['train_tokens_per_second']:.0f} target tokens/s"


IMAGE_DATASET_NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}


def image_recognition(record):
    """(evaluation set, score, throughput) of an image-recognition record."""
    evaluation_set = own_test_data(record, "test_dir") or f"{IMAGE_DATASET_NAMES[record['config']['dataset']]} test"
    return evaluation_set, percent(record, "test_accuracy", "top-1"), f"{record['train_images_per_second']:.0f} images/s"


def listops(record):
    """(evaluation set, score, throughput) of a ListOps record (benchmarks/listops.py), named by its attention."""
    attention = record["config"]["model_options"].get("attention", "full")
    return f"ListOps test, {attention} attention", percent(record, "test_accuracy", "accuracy"), f"{record['train_examples_per_second']:.0f} examples/s"


FORMATS = {
    "text_classification": text_classification, "translation": translation, "image_recognition": image_recognition,
    "listops": listops,
}


def row(record):
    """A record's row of the table."""
    machine = record["machine"]
    cpu = f" ({machine['cpu']})" if machine.get("cpu") else ""  # recorded since the CPUs began to differ
    evaluation_set, score, throughput = FORMATS[record["benchmark"]](record)
    training_time = f"{record['wall_time_seconds'] / 60:.1f} min{' per seed' if 'seeds' in record else ''}"
    if record.get("teacher_time_seconds"):  # distilled: the teachers' training and inference come on top
        training_time += f" + {record['teacher_time_seconds'] / 60:.1f} min of teachers"
    return (
        f"| {evaluation_set} | `{record['model']}` | {record['parameters'] / 1e6:.2f}M | {score} | "
        f"{record['epochs']} | {training_time} | {throughput} | "
        f"{machine['cpu_count']} CPU cores{cpu}, {machine['backend']} | `{record['command']}` |"
    )


def rows():
    for benchmark in FORMATS:
        for path in sorted(RESULTS.glob(f"{benchmark}_*.json")):
            yield row(json.loads(path.read_text()))


def render():
    header = (
        "| evaluated on | model | parameters | score | epochs | training time | training throughput | machine | command |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    return "\n".join([BEGIN, header, *rows(), END])


def series_setting(path, record):
    """The tag of a time-series record's file, `time_series_<model>_<dataset>[_<tag>].json`: "" without one."""
    return path.stem.removeprefix(f"time_series_{record['model']}_{record['config']['dataset'].lower()}").removeprefix("_")


def series_accuracies():
    """`{setting: {dataset: {model: test accuracy in %}}}` of the time-series records (a record on your own files
    under their test file's name)."""
    table = {}
    for path in sorted(RESULTS.glob("time_series_*.json")):
        record = json.loads(path.read_text())
        dataset = own_test_data(record, "test_file") or record["config"]["dataset"]
        table.setdefault(series_setting(path, record), {}).setdefault(dataset, {})[record["model"]] = 100 * record["test_accuracy"]
    return table


def render_time_series():
    """A table per setting (those of `SERIES_SETTINGS` first): a row per dataset (those with published figures
    first), a column per model (its best in bold), then the published networks."""
    tables = []
    order = {setting: index for index, setting in enumerate(SERIES_SETTINGS)}
    for setting, accuracies in sorted(series_accuracies().items(), key=lambda item: (order.get(item[0], len(order)), item[0])):
        models = sorted({model for row in accuracies.values() for model in row})
        datasets = [*PUBLISHED_SERIES, *sorted(set(accuracies) - set(PUBLISHED_SERIES))]
        lines = [
            f"Time series, {SERIES_SETTINGS.get(setting, f'`--tag <dataset>_{setting}`')} (test accuracy, %):",
            "",
            "| dataset | " + " | ".join(f"`{model}`" for model in models) + " | " + " | ".join(PUBLISHED_NETWORKS) + " |",
            "| --- |" + " --- |" * (len(models) + len(PUBLISHED_NETWORKS)),
        ]
        for dataset in datasets:
            row, published = accuracies.get(dataset, {}), PUBLISHED_SERIES.get(dataset, (None,) * len(PUBLISHED_NETWORKS))
            best = max(row.values(), default=None)
            cells = ["-" if model not in row else f"**{row[model]:.2f}**" if row[model] == best else f"{row[model]:.2f}" for model in models]
            cells += ["-" if value is None else value for value in published]
            lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
        tables.append("\n".join(lines))
    return "\n".join([SERIES_BEGIN, "\n\n".join(tables), SERIES_END])


def write_readme():
    readme = ROOT / "README.md"
    text = readme.read_text()
    for begin, end, rendered in ((BEGIN, END, render()), (SERIES_BEGIN, SERIES_END, render_time_series())):
        start, stop = text.index(begin), text.index(end) + len(end)
        text = text[:start] + rendered + text[stop:]
    readme.write_text(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    if parser.parse_args().write:
        write_readme()
    else:
        print(render(), render_time_series(), sep="\n\n")
