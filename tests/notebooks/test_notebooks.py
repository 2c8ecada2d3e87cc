"""The analyst notebooks run top to bottom against a real champion, and are committed without outputs."""

from __future__ import annotations

import pytest

from serving.settings import PROJ_ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = PROJ_ROOT / "notebooks"
NOTEBOOKS = ("01-explore-tickets.ipynb", "02-evaluate-model.ipynb", "03-backlog-report.ipynb")


def image_outputs(notebook) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs(name):
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(name, trained, monkeypatch):
    settings, _ = trained
    # The kernel inherits this process's environment: the notebooks' Settings() find the temporary store.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.tracking_uri)
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, when any cell fails
    assert image_outputs(notebook) >= 2, f"{name}: expected at least two plots"
