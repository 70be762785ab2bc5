"""The README stays true: its results table is the one the benchmark JSON files give."""

from benchmark_scripts import load

results_table = load("results_table")


def test_readme_results_table_is_generated_from_benchmark_results():
    table = results_table.render()
    assert table.count("\n| SST-2 dev |") == len(list(results_table.RESULTS.glob("text_classification_*.json"))) > 0
    assert table in (results_table.ROOT / "README.md").read_text()
