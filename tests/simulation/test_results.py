"""A benchmark's runs are appended under a title written once."""

from __future__ import annotations

from pathlib import Path

from simulation.results import append_run


def test_the_title_is_written_once_and_runs_are_appended(tmp_path: Path) -> None:
    results = tmp_path / "results" / "x.md"
    append_run(results, "# X\n\nEach run below.", "## run 1\n- a")
    append_run(results, "# X\n\nEach run below.", "## run 2\n- b")
    assert results.read_text(encoding="utf-8") == (
        "# X\n\nEach run below.\n\n## run 1\n- a\n## run 2\n- b\n"
    )
