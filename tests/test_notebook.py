"""notebooks/tour.ipynb runs top to bottom in a real Jupyter kernel (nbclient, ipykernel,
CPU), so the tour cannot rot as the API moves on."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "tour.ipynb"


def test_the_tour_runs_and_shows_what_it_says(tmp_path):
    # run where its outputs may land: tests/ is linked in for the file it reads
    (tmp_path / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on failure
    text = "\n".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                     for cell in notebook.cells if cell.cell_type == "code"
                     for output in cell.get("outputs", []))
    assert "tokens for" in text and "tokens allowed" in text
    assert not [o for cell in notebook.cells for o in cell.get("outputs", [])
                if o.get("output_type") == "error"]
    written = sorted(p.name for p in (tmp_path / "notebook-out").iterdir())
    assert written == ["tour.mid", "tour.musicxml", "tour.png", "tour.wav"]
