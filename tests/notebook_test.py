"""The notebook a researcher opens first runs top to bottom (tiny setting), and is committed without outputs."""

import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "notebooks", "onerec_tour.ipynb")


def test_committed_without_outputs():
  nb = json.load(open(NOTEBOOK))
  for cell in nb["cells"]:
    if cell["cell_type"] == "code":
      assert not cell["outputs"] and cell["execution_count"] is None, "clear the notebook's outputs before committing"


@pytest.mark.slow
def test_notebook_executes(monkeypatch):
  nbformat = pytest.importorskip("nbformat") if not os.environ.get("CI") else __import__("nbformat")
  from nbclient import NotebookClient

  monkeypatch.setenv("ONEREC_NOTEBOOK_TINY", "1")
  monkeypatch.setenv("MPLBACKEND", "Agg")
  nb = nbformat.read(NOTEBOOK, as_version=4)
  NotebookClient(
    nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}}
  ).execute()
  text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
  assert "recall@10" in text and "semantic ID" in text and '"alpha"' in text
