"""Where a benchmark's figures go: appended, with their command and reading, to a markdown
file under ``bench/results/`` whose title is written once, when the file is new."""

from __future__ import annotations

from pathlib import Path

__all__ = ["append_run"]


def append_run(results: Path, title: str, text: str) -> None:
    """Append ``text`` (one run's section) to ``results``; a new file starts with ``title``
    (its heading and what its runs are, as markdown)."""
    new = not results.exists()
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a", encoding="utf-8") as f:
        if new:
            f.write(title.rstrip("\n") + "\n\n")
        f.write(text + "\n")
