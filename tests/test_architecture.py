"""The import contracts of ``make lint`` (``pyproject.toml``, import-linter) catch what they
are for: each case copies the source tree, adds one forbidden import and expects
``lint-imports`` to name the contract it breaks. The unchanged tree is checked by ``make lint``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "cli",
    "simulation",
    "provision",
    "hotline1022",
    "api",
    "dispatch",
    "queues",
    "stats",
    "ivr",
    "pbx",
    "store",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_with(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess[str]:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / (module.replace(".", "/") + ".py")
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    # Run in the copy: its folders come first on the path, before the installed tree.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("module", "line", "broken", "why"),
    [
        ("store.db", "import api.deps", "Layers", "store is not allowed to import api"),
        (
            "dispatch.incidents",
            "import api.deps",
            "Layers",
            "dispatch is not allowed to import api",
        ),
        ("pbx.events", "import queues.ports", "Layers", "pbx is not allowed to import queues"),
        (
            "queues.calls",
            "import simulation.stack",
            "imports neither the harness",
            "queues is not allowed to import simulation",
        ),
        (
            "hotline1022.service",
            "import provision.asterisk",
            "imports neither the harness",
            "hotline1022 is not allowed to import provision",
        ),
        ("queues.live", "import panoramisk", "panoramisk is imported by pbx alone", "panoramisk"),
        (
            "simulation.simulate",
            "import simulation.peak",
            "No import cycles",
            "No cycles are allowed in simulation",
        ),
    ],
)
def test_an_import_against_the_arrows_fails_the_lint(
    tmp_path: Path, module: str, line: str, broken: str, why: str
) -> None:
    result = _lint_with(tmp_path, module, line)
    assert result.returncode == 1, result.stdout + result.stderr
    report = result.stdout.split("Broken contracts", 1)[-1]
    assert broken in report, result.stdout
    assert why in report, result.stdout


def test_the_copied_tree_keeps_every_contract(tmp_path: Path) -> None:
    """The cases above fail because of their one line, not because the copy is broken."""
    result = _lint_with(tmp_path, "store.db", "import sqlalchemy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
