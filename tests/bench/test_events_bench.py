"""The event-stream benchmark runs end to end on a tiny scale: every viewer connects, gets a
snapshot first and no other agent's changes, and the service stops with the streams open. No
timing is asserted."""

from __future__ import annotations

import argparse

from tests.bench.loader import load_bench

bench = load_bench("events_viewers.py")


async def test_a_tiny_run_reports_every_figure() -> None:
    args = argparse.Namespace(viewers=8, rate=20.0, seconds=1.0, warmup=1.0, load="0 0 0")
    text = await bench.run(args)
    assert "8 (6 agents, 1 supervisors, 1 teams), 8 connected and reading" in text
    assert "first message of every stream: snapshot;" in text
    assert "another agent's change seen by an agent: 0; client errors: 0" in text
    assert "the service exited in" in text
    for figure in ("service CPU", "service RSS", "latency p50", "latency p95"):
        assert figure in text
