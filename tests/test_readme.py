"""The README stays true: its results table is the one the benchmark JSON files give."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_results_table_is_generated_from_benchmark_results():
    spec = importlib.util.spec_from_file_location("results_table", ROOT / "benchmarks" / "results_table.py")
    results_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(results_table)
    table = results_table.render()
    assert table.count("\n| SST-2 dev |") == len(list(results_table.RESULTS.glob("text_classification_*.json"))) > 0
    assert table in (ROOT / "README.md").read_text()
