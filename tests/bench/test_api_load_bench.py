"""The API load bench: its figures are computed from what it measured, and a tiny load on
SQLite runs through both servers with every answer as expected. No timing is asserted."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from tests.bench.loader import load_bench

bench = load_bench("api_load.py")


def test_the_figures_are_the_cells_measurements() -> None:
    backend = bench.Backend("sqlite", "SQLite 3", ("GET /queues",))
    backend.cells[("GET /queues", "hotline")] = bench.Cell(
        latencies=[0.010] * 99 + [0.050], elapsed_s=2.0, per_round=[40.0, 60.0], cpu_s=0.4
    )
    backend.cells[("GET /queues", "bare")] = bench.Cell(
        latencies=[0.005] * 200, elapsed_s=2.0, per_round=[100.0, 100.0], cpu_s=0.4
    )

    f = bench.figures(backend, "GET /queues")

    assert f["hotline rate"] == 50.0 and f["bare rate"] == 100.0
    assert f["ratio"] == 0.5
    assert (f["ratio min"], f["ratio max"]) == (0.4, 0.6)
    assert f["hotline p50"] == 10.0 and f["bare p99"] == 5.0
    assert 10.0 < f["hotline p99"] < 50.0
    assert f["p99 ratio"] == f["hotline p99"] / 5.0
    assert (f["hotline cpu ms"], f["bare cpu ms"], f["cpu ratio"]) == (4.0, 2.0, 0.5)


def test_an_answers_length_is_read_from_its_head() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n"
    assert bench.content_length(head) == 12
    request = bench.request_bytes("POST", "/calls/1/outcome", 8000, "t", b"{}")
    assert request.endswith(b"Content-Length: 2\r\n\r\n{}")
    assert b"Authorization: Bearer t\r\n" in request


def test_a_tiny_load_runs_through_both_apps(tmp_path: Path) -> None:
    args = argparse.Namespace(
        backends="sqlite", concurrency=4, rounds=2, seconds=0.3, warmup_s=0.1, read_calls=20,
        queues=4, agents=3, admin_url=bench.ADMIN_URL,
    )  # fmt: skip

    backends = asyncio.run(bench.run(args))
    text = bench.report(backends, args, ["--backends", "sqlite"], "0.00 0.00 0.00")
    bench.record(tmp_path / "api.md", text)

    (sqlite,) = backends
    assert bench.errors(backends) == 0
    for endpoint in bench.READS:
        for app in bench.APPS:
            cell = sqlite.cells[(endpoint, app)]
            assert cell.answered > 0 and len(cell.per_round) == 2
            assert cell.statuses == {200: cell.answered}
            assert cell.rate == cell.answered / cell.elapsed_s
            assert cell.cpu_s > 0  # read from the server process
        f = bench.figures(sqlite, endpoint)
        assert f"{f['hotline rate']:,.0f} | {f['hotline p50']:.1f} |" in text
        assert f"**{f['ratio']:.2f}**" in text
    written = (tmp_path / "api.md").read_text()
    assert written.startswith("# The API under load beside a bare FastAPI + SQLAlchemy app")
    assert "- command: `.venv/bin/python bench/api_load.py --backends sqlite`" in written
