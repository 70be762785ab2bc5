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


def rows():
    for path in sorted(RESULTS.glob("text_classification_*.json")):
        record = json.loads(path.read_text())
        machine = record["machine"]
        yield (
            f"| SST-2 dev | `{record['model']}` | {record['parameters'] / 1e6:.2f}M | "
            f"{100 * record['dev_accuracy']:.2f}% | {record['epochs']} | {record['wall_time_seconds'] / 60:.1f} min | "
            f"{record['train_examples_per_second']:.0f} | {machine['cpu_count']} CPU cores, {machine['backend']} | "
            f"`{record['command']}` |"
        )


def render():
    header = (
        "| task | model | parameters | accuracy | epochs | training time | train examples/s | machine | command |\n"
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
