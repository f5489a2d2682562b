"""The event-stream benchmark runs end to end on a tiny scale: every viewer connects, gets a
snapshot first and no other agent's changes, and the service stops with the streams open. No
timing is asserted."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "events_viewers.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_events_viewers", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load()


async def test_a_tiny_run_reports_every_figure() -> None:
    args = argparse.Namespace(viewers=8, rate=20.0, seconds=1.0, warmup=1.0, load="0 0 0")
    text = await bench.run(args)
    assert "8 (6 agents, 1 supervisors, 1 teams), 8 connected and reading" in text
    assert "first message of every stream: snapshot;" in text
    assert "another agent's change seen by an agent: 0; client errors: 0" in text
    assert "the service exited in" in text
    for figure in ("service CPU", "service RSS", "latency p50", "latency p95"):
        assert figure in text
