"""The figures benchmark runs on a few days, both ways give the same figures, and its table is
computed from what it timed. No timing is asserted."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from tests.bench.loader import load_bench
from tests.conftest import POSTGRES_ADMIN_URL

bench = load_bench("dispatch_figures.py")


def test_percentiles_of_what_was_timed() -> None:
    assert bench.pct([5.0], 99) == 5.0
    assert bench.pct([1.0, 2.0, 3.0], 50) == 2.0


@pytest.mark.postgres
def test_a_few_days_of_figures_both_ways() -> None:
    args = argparse.Namespace(
        admin_url=POSTGRES_ADMIN_URL, history_days=3, per_day=60, open=6, runs=2, anchor_runs=1
    )
    out = asyncio.run(bench.run(args, ["--history-days", "3"]))

    assert out["agree"] == {"teams, 3 days": True, "districts, 3 days": True}
    assert out["incidents"] == 3 * 60 + 6
    assert out["rolled"] == 5  # the 3 days, and the 2 before them (empty)
    ways = [(t.name, t.way, len(t.store), len(t.http)) for t in out["timings"]]
    assert ways == [
        ("teams, 3 days", "rollups", 2, 2),
        ("teams, 3 days", "direct (anchor)", 1, 1),
        ("districts, 3 days", "rollups", 2, 2),
        ("districts, 3 days", "direct (anchor)", 1, 1),
    ]
    text = bench.report(["--history-days", "3"], out)
    first = out["timings"][0]
    row = (
        f"| teams, 3 days | rollups | 2 | {bench.pct(first.store, 50):.1f} | "
        f"{bench.pct(first.store, 99):.1f} | {bench.pct(first.http, 50):.1f} | "
        f"{bench.pct(first.http, 99):.1f} |"
    )
    assert row in text
    assert "- command: `.venv/bin/python bench/dispatch_figures.py --history-days 3`" in text
