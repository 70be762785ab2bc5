"""The README stays true: its results table is the one the benchmark JSON files give, its Python runs as written,
and each of its commands is one the command line accepts."""

import re
import shlex

import pytest
from benchmark_scripts import load

from recipes.cli import make_parser, train_config

results_table = load("results_table")
README = (results_table.ROOT / "README.md").read_text()


def code_blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_readme_results_table_is_generated_from_benchmark_results():
    table = results_table.render()
    assert table.count("\n| SST-2 dev |") == len(list(results_table.RESULTS.glob("text_classification_*.json"))) > 0
    assert table in README
    assert results_table.render_time_series() in README


def test_readme_python_runs_as_written():
    blocks = code_blocks("python")
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


README_COMMANDS = [
    shlex.split(line.split("  #")[0], comments=True)
    for block in code_blocks("bash")
    for line in block.splitlines()
    if line.startswith("zoo ")
]


@pytest.mark.parametrize("command", README_COMMANDS, ids=[" ".join(command[:3]) for command in README_COMMANDS])
def test_readme_commands_are_accepted(command, data_dir):
    """Each `zoo` command parses; each `zoo train` gives a valid Config (training them all would take hours)."""
    args = make_parser().parse_args(command[1:])
    if args.command == "train":
        task, config = train_config(args)
        assert config.run_dir == args.run_dir and task.name == args.task
