"""notebooks/quickstart.ipynb runs top to bottom (through nbclient) on the real services."""

from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient

from tests.support.settings import ROOT


def test_quickstart_notebook_runs(settings, monkeypatch) -> None:
    monkeypatch.setenv("SPACES_HOME", str(settings.home))
    monkeypatch.setenv("SPACES_VAULTS_DIR", str(settings.vaults_dir))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    outputs = "".join(
        out.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )
    assert outputs.count("completed") == 2
    assert "tokens in" in outputs and "research" in outputs
