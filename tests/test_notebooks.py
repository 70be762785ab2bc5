"""The notebooks run from top to bottom in their small setting (SMOKE = True) and show their figures.

A notebook's smoke run is a run the recipe tests train too (tests/shared_runs.py): the test puts a copy where
the notebook trains, and the notebook's training cell finds it finished. The cells after it load, plot and
predict from that run as from one they trained.
"""

import shutil
from pathlib import Path

import nbformat
import pytest
import shared_runs
from nbclient import NotebookClient

from recipes import image_recognition, text_classification, time_series_classification, translation

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
SMOKE_RUNS = {
    "text_classification": (text_classification, shared_runs.TEXT_CLASSIFICATION),
    "translation": (translation, shared_runs.translation_settings("transformer_tiny")),
    "image_recognition": (image_recognition, shared_runs.IMAGE_RECOGNITION),
    "time_series": (time_series_classification, shared_runs.TIME_SERIES_TRANSFORMER),
}
NOTEBOOKS = list(SMOKE_RUNS)


def read(name):
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


def test_one_notebook_per_recipe_committed_without_outputs():
    assert sorted(path.stem for path in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)
    for name in NOTEBOOKS:
        code = [cell for cell in read(name).cells if cell.cell_type == "code"]
        assert all(not cell.outputs and cell.execution_count is None for cell in code), name
        parameters = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
        assert len(parameters) == 1 and "SMOKE = True" in parameters[0].source, name


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_its_smoke_setting(name, tmp_path, finished_runs):
    shutil.copytree(finished_runs.shared(*SMOKE_RUNS[name]), tmp_path / "run")
    notebook = read(name)
    parameters = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
    # As papermill does: a cell after the parameters overrides them (here: the directory of the copy).
    notebook.cells.insert(parameters + 1, nbformat.v4.new_code_cell(f"RUN_DIR = {str(tmp_path / 'run')!r}"))
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    errors = [output for output in outputs if output.output_type == "error"]
    assert not errors, "\n".join(f"{error.ename}: {error.evalue}" for error in errors)
    assert any("is a finished run with this configuration" in output.get("text", "") for output in outputs)
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(figures) >= 3, f"{name} showed {len(figures)} figures"  # learning curves and attention maps
    assert (tmp_path / "run" / "metrics.json").is_file()
