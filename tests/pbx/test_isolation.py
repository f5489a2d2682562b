"""Defect 10: importing panoramisk.testing rewrites the AMI line ending for the whole process.

Checked in a fresh interpreter, so no other test's imports can hide (or cause) it.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

PBX = pathlib.Path(__file__).resolve().parents[2] / "pbx"

CHECK = """
import importlib, pkgutil, sys
import pbx
for module in pkgutil.iter_modules(pbx.__path__):
    importlib.import_module(f"pbx.{module.name}")
from panoramisk import utils
assert "panoramisk.testing" not in sys.modules, "panoramisk.testing was imported"
assert utils.EOL == "\\r\\n", repr(utils.EOL)
print("ok")
"""


def test_pbx_never_imports_panoramisk_testing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=PBX.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_this_test_process_is_clean_too() -> None:
    import pbx  # noqa: F401

    assert "panoramisk.testing" not in sys.modules


def test_no_pbx_source_mentions_it() -> None:
    for path in PBX.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import testing" not in text and "panoramisk.testing" not in text.replace(
            "``panoramisk.testing``", ""
        ), path
