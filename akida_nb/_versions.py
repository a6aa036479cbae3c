"""Versions of akida_nb and of what it runs on, for bug reports: :func:`show_versions`.

Versions are read from the installed packages' metadata (``importlib.metadata``), so
no optional package (akida, dask, matplotlib, ipywidgets …) is imported to ask it.
"""
from __future__ import annotations

import platform
import sys
from importlib import metadata

__all__ = ["package_version", "show_versions", "versions"]

DEPENDENCIES = ("numpy", "pandas", "pyyaml", "matplotlib", "ipywidgets", "jsonschema", "numba")
"""Packages akida_nb uses, reported by :func:`show_versions`."""

OPTIONAL = ("akida", "dask")
"""Optional packages, reported when installed."""


def package_version(name: str = "akida_nb") -> str | None:
    """The installed version of distribution ``name``, or ``None`` when it is not installed.

    Examples
    --------
    >>> package_version("numpy").count(".") >= 1
    True
    >>> package_version("no-such-package-akida-nb") is None
    True
    """
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str]:
    """akida_nb, Python, the platform and the installed dependencies, as ``{name: version}``.

    A dependency that is not installed shows as ``"not installed"``; an optional one
    (akida, dask) is listed only when installed.

    Examples
    --------
    >>> v = versions()
    >>> list(v)[:3], "numpy" in v
    (['akida_nb', 'python', 'platform'], True)
    """
    out = {
        "akida_nb": package_version("akida_nb") or "unknown (not installed)",
        "python": sys.version.replace("\n", " "),
        "platform": platform.platform(),
    }
    for name in DEPENDENCIES:
        out[name] = package_version(name) or "not installed"
    for name in OPTIONAL:
        version = package_version(name)
        if version is not None:
            out[name] = version
    return out


def show_versions() -> None:
    """Print the versions that a bug report needs (see :func:`versions`), one ``name: version`` a line.

    Examples
    --------
    >>> import akida_nb as ak
    >>> ak.show_versions()   # doctest: +ELLIPSIS
    akida_nb: ...
    python: ...
    platform: ...
    numpy: ...
    """
    v = versions()
    width = max(len(k) for k in v)
    for name, version in v.items():
        print(f"{name + ':':<{width + 1}} {version}")
