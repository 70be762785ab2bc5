"""The zoo's registry, readable without importing Keras: quick answers for the command line.

Importing `zoo` imports Keras and its backend, seconds before a command can answer. `zoo --help`,
`zoo list` and `zoo describe` read `catalog.json` instead: `zoo.describe(name)` of every registered
model, written by

    python -m recipes.catalog

whenever a model is registered or changed (tests/test_zoo.py fails while the file is stale). Once
`zoo` is imported (any command that trains, evaluates or predicts), the live registry answers, so
models registered at run time are listed too.
"""

import fnmatch
import functools
import importlib
import importlib.util
import json
import sys
from pathlib import Path

CATALOG_FILE = Path(__file__).with_name("catalog.json")


@functools.cache
def read_catalog():
    """The entries of `catalog.json` by model name, as last written (read once per process; do not change them)."""
    return json.loads(CATALOG_FILE.read_text(encoding="utf-8"))


def _live_registry():
    """The `zoo` package when it is imported already, else None."""
    return sys.modules.get("zoo")


def list_models(pattern="*", task=None):
    """`zoo.list_models(pattern, task)`, from the catalog while `zoo` is not imported."""
    zoo = _live_registry()
    if zoo is not None:
        return zoo.list_models(pattern, task=task)
    return sorted(
        name for name, entry in read_catalog().items()
        if fnmatch.fnmatch(name, pattern) and (task is None or entry["task"] == task)
    )


def describe(name):
    """`zoo.describe(name)` (as JSON data), from the catalog while `zoo` is not imported.

    A name the catalog lacks goes to the registry, whose error lists the closest names.
    """
    if _live_registry() is None and name in read_catalog():
        return read_catalog()[name]
    return json.loads(json.dumps(importlib.import_module("zoo").describe(name)))


def recipe_module_name(task):
    """`"text-classification"` -> `"recipes.text_classification"`."""
    return f"recipes.{task.replace('-', '_')}"


def task_of(name):
    """`zoo.task_of(name)`, from the catalog while `zoo` is not imported."""
    zoo = _live_registry()
    return zoo.task_of(name) if zoo is not None else read_catalog()[name]["task"]


def model_tasks():
    """The tasks of the zoo's models, sorted."""
    return sorted({task_of(name) for name in list_models()})


def task_names():
    """The tasks of the zoo's models that have a recipe module, sorted."""
    return [task for task in model_tasks() if importlib.util.find_spec(recipe_module_name(task)) is not None]


def write_catalog():
    """Writes `catalog.json` from the live registry (builds every model once to count its parameters)."""
    zoo = importlib.import_module("zoo")
    entries = {name: zoo.describe(name) for name in zoo.list_models()}
    CATALOG_FILE.write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    read_catalog.cache_clear()
    return len(entries)


if __name__ == "__main__":
    print(f"{CATALOG_FILE}: {write_catalog()} models")
