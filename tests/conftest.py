"""Shared test helpers: model factories, a target-registry guard, and CI's extras policy.

Factories build models from short spec dicts so that a test says only what it is about. The
hypothesis strategies live in ``tests/strategies.py``.

With ``AKIDA_NB_REQUIRE_EXTRAS=1`` (set by ``.ci/run`` for its second run, after installing the optional
extras), a test marked with an extra's marker (``akida``) that skips, or a module that skips because an
extra's package is missing, fails instead: CI must not pass by silently not running them.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import strategies` from any rootdir

import akida_nb as ak  # noqa: E402
import akida_nb.targets  # noqa: E402

_targets = sys.modules["akida_nb.targets"]  # the module (akida_nb.targets is also the function targets())

EXTRAS = {"akida": ("akida",), "docs": ("sphinx", "myst_nb"), "app": ("voila",),
          "dask": ("dask", "distributed")}
"""Marker of each optional extra and the packages whose absence skips its tests."""


def _require_extras() -> bool:
    return os.environ.get("AKIDA_NB_REQUIRE_EXTRAS", "") not in ("", "0")


def _names_missing_extra(report) -> bool:
    text = str(report.longrepr)
    return any(f"'{package}'" in text for packages in EXTRAS.values() for package in packages)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _require_extras() and any(item.get_closest_marker(m) for m in EXTRAS):
        report.outcome = "failed"
        report.longrepr = f"AKIDA_NB_REQUIRE_EXTRAS=1 but this extras test skipped: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _require_extras() and _names_missing_extra(report):
        report.outcome = "failed"
        report.longrepr = f"AKIDA_NB_REQUIRE_EXTRAS=1 but a module skipped for a missing extra: {report.longrepr}"


# --- model factories --------------------------------------------------------------------------------

def model(layers, shape=(8, 8, 4), bits=2, name="m") -> ak.Model:
    """A Model named ``name`` from layer dicts (short forms allowed) on an input of ``shape`` and ``bits``."""
    return ak.Model.from_dict({"name": name, "input": {"shape": list(shape), "bits": bits}, "layers": layers})


# --- registry guard ---------------------------------------------------------------------------------

@contextlib.contextmanager
def registry_guard():
    """Within the block, register or unregister targets freely; on exit the registry is as it was."""
    saved = dict(_targets._EXTRA)
    try:
        yield
    finally:
        _targets._EXTRA.clear()
        _targets._EXTRA.update(saved)


@pytest.fixture(autouse=True)
def restore_targets():
    """Undo every target a test registers (or unregisters): the registry is the same after each test."""
    with registry_guard():
        yield
