"""Drop the widget views' model ids from stored notebook outputs, keeping each widget's static snapshot.

A widget cell's output holds ``application/vnd.jupyter.widget-view+json`` (a random model id that only a
live kernel can resolve; the notebooks store no widget state) beside the widget's own ``text/html``
snapshot. The id changes at every execution and shows as a broken widget without a kernel; without it,
every viewer shows the snapshot, and the stored files change only where outputs do. nbval skips that
key when comparing, so dropping it changes no test.

Usage (after re-executing, see README.md, *Tutorials*)::

    python notebooks/strip_widget_views.py notebooks/0*.ipynb
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def strip(path: Path) -> int:
    """Remove every widget view from ``path``'s outputs (rewriting it only when one was found); return how many."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    removed = 0
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                del output["data"][WIDGET_VIEW]
                removed += 1
    if removed:  # nbformat's own layout: one-space indent, keys sorted, a final newline
        path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return removed


def main(paths: list[str]) -> None:
    for name in paths:
        removed = strip(Path(name))
        print(f"{name}: {removed} widget view(s) dropped")


if __name__ == "__main__":
    main(sys.argv[1:])
