"""One place that turns values, shapes and layers into words for every report, table and widget.

Text and HTML views, the tables of :func:`akida_nb.constraints`, error messages and
fix notes all format through these functions, so ``3×3`` reads the same everywhere.

Examples
--------
>>> from akida_nb.present import format_value
>>> format_value((3, 3)), format_value([1, 2, 4])
('3×3', '1×2×4')
"""
from __future__ import annotations

from typing import Any

__all__ = ["format_value"]


def format_value(value: Any) -> str:
    """Display a context value the way the tables do: pairs as ``3×3``, ``None`` as ``none``.

    Examples
    --------
    >>> format_value((3, 3)), format_value(None), format_value(True), format_value("same")
    ('3×3', 'none', 'true', 'same')
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "×".join(format_value(v) for v in value)
    return str(value)
