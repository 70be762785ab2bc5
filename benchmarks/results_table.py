"""Renders the README's results table from `benchmarks/results/*.json`.

    python benchmarks/results_table.py            # print the table
    python benchmarks/results_table.py --write    # replace the table in README.md
"""

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


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


def time_series(record):
    """(evaluation set, score, throughput) of a time-series record (benchmarks/time_series.py)."""
    evaluation_set = own_test_data(record, "test_file") or f"{record['config']['dataset']} test"
    return evaluation_set, percent(record, "test_accuracy", "accuracy"), f"{record['train_series_per_second']:.0f} series/s"


FORMATS = {
    "text_classification": text_classification, "translation": translation, "image_recognition": image_recognition,
    "listops": listops, "time_series": time_series,
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


def write_readme():
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    readme.write_text(text[:start] + render() + text[stop:])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    if parser.parse_args().write:
        write_readme()
    else:
        print(render())
