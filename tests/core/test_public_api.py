"""The public surface a newcomer meets first: ``dir(lpot)``, star-imports, and a light ``import lpot``."""

from __future__ import annotations

import subprocess
import sys

import lpot


def test_dir_lists_exactly_the_public_names_and_each_resolves():
    assert dir(lpot) == sorted(lpot.__all__)
    assert {"tune", "benchmark", "Config", "ArrayLoader", "TuningResult"} <= set(dir(lpot))
    for name in lpot.__all__:
        assert getattr(lpot, name) is not None, name
    assert dir(lpot) == sorted(lpot.__all__)  # loading them added no submodule to the listing


def test_star_import_gives_the_public_names():
    namespace: dict[str, object] = {}
    exec("from lpot import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(lpot.__all__)


def test_import_lpot_takes_well_under_100_ms():
    """Measured by ``-X importtime`` (lpot and what it imports, not the interpreter's start)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import lpot"], capture_output=True, text=True, check=True
    )
    rows = [row.split("|") for row in out.stderr.splitlines() if row.count("|") == 2]
    at = next(i for i, row in enumerate(rows) if row[2].strip() == "lpot" and not row[2].startswith("  "))
    cumulative_us = int(rows[at][1])
    assert cumulative_us < 100_000, rows[at]
    below = []  # what lpot imported: the indented rows printed just before its own
    for row in reversed(rows[:at]):
        if not row[2].startswith("  "):
            break
        below.append(row[2].strip())
    assert "lpot.version" in below and "typing" not in below, below  # nothing heavy, not even typing
