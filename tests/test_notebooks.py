"""The notebooks run from top to bottom in their small setting (SMOKE = True) and show their figures."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = ["text_classification", "translation", "image_recognition"]


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
def test_notebook_runs_in_its_smoke_setting(name, tmp_path, data_dir):
    notebook = read(name)
    parameters = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
    # As papermill does: a cell after the parameters overrides them (here: a fresh run directory).
    notebook.cells.insert(parameters + 1, nbformat.v4.new_code_cell(f"RUN_DIR = {str(tmp_path / 'run')!r}"))
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(figures) >= 3, f"{name} showed {len(figures)} figures"  # learning curves and attention maps
    assert (tmp_path / "run" / "metrics.json").is_file()
