"""The committed tutorials stay diff-friendly: no execution timestamps, no stored widget state, no model ids.

nbval (run on the notebooks themselves) checks that their outputs are current; this checks that they
were re-executed the way the README says, so the stored files carry nothing that changes per run: the
widget views' random model ids are dropped (``notebooks/strip_widget_views.py``), each widget's own
static snapshot stays.
"""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_the_tutorials_are_numbered():
    prefixes = [p.name[:3] for p in NOTEBOOKS]
    assert prefixes == ["01_", "02_", "03_", "04_", "05_", "06_", "07_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_timestamps_or_widget_state(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in nb["metadata"]
    for cell in nb["cells"]:
        assert "execution" not in cell.get("metadata", {}), cell["source"][:1]
        if cell["cell_type"] == "code":
            assert cell["outputs"] or cell["source"][-1].rstrip().endswith(";"), cell["source"]
            assert not any(o.get("output_type") == "error" for o in cell["outputs"])
            assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell["outputs"])
    prose = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert len(prose) >= len([c for c in nb["cells"] if c["cell_type"] == "code"]) / 2  # a story, not a script


def test_widget_cells_keep_their_snapshot():
    """Where a widget was displayed, its static snapshot (the view's own HTML) is what the file stores."""
    nb = json.loads((NOTEBOOKS[3]).read_text(encoding="utf-8"))
    snapshots = [o["data"]["text/html"] for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]
                 if "static snapshot" in "".join(o.get("data", {}).get("text/html", ""))]
    assert len(snapshots) == 3  # the Explorer, the Playground and the ConstraintBrowser
