"""The dispatch benchmark's day is what its docstring says, and a tiny day replays through the
real server into PostgreSQL with no unexpected answer. No timing is asserted."""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from pathlib import Path

import pytest

from tests.bench.loader import load_bench
from tests.conftest import POSTGRES_ADMIN_URL

bench = load_bench("dispatch_day.py")


def test_the_day_has_the_mix_the_docstring_promises() -> None:
    communes = bench.communes_of_province(bench.province_json())
    plans = bench.make_day(calls=6000, agents=90, communes=communes)

    assert len(communes) == 91
    assert len(plans) == 6000
    assert [p.outcome_s for p in plans] == sorted(p.outcome_s for p in plans)
    assert {p.agent for p in plans} == set(range(1, 91))
    shares = Counter(p.disposition for p in plans)
    for disposition, share in bench.DISPOSITIONS:
        assert abs(shares[disposition] / 6000 - share) < 0.02, disposition
    incidents = [p for p in plans if p.disposition == "incident"]
    assert all(p.team is not None and p.urgency and p.address for p in incidents)
    assert {p.commune for p in incidents} <= {c.code for c in communes}
    # Repeat callers: the same number and address as an earlier incident call.
    repeats = len(incidents) - len({(p.caller_number, p.address) for p in incidents})
    assert 0.01 < repeats / len(incidents) < 0.06
    # Peak-shaped: 09h carries far more calls than 03h.
    hours = Counter(int(p.arrived_s // 3600) for p in plans)
    assert hours[9] > 10 * hours[3]
    # Seeded: the same day twice.
    again = bench.make_day(calls=6000, agents=90, communes=communes)
    assert [(p.caller_number, p.disposition) for p in again] == [
        (p.caller_number, p.disposition) for p in plans
    ]


def test_deadlines_are_compressed_but_never_below_the_floor() -> None:
    deadlines = bench.scaled_deadlines(60.0, 5)

    # medical critical 180 s → 3 s → the floor, 5; others normal 3600 s → 60 s.
    assert deadlines["medical"]["critical"] == 5
    assert deadlines["*"]["normal"] == 60


async def test_the_slots_let_a_team_step_pass_waiting_outcomes() -> None:
    slots = bench.Slots(1)
    order: list[str] = []

    async def take(name: str, priority: int) -> None:
        async with slots.slot(priority):
            order.append(name)
            await asyncio.sleep(0.01)

    first = asyncio.create_task(take("first", bench.AGENT))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(take(f"agent {n}", bench.AGENT)) for n in range(2)]
    await asyncio.sleep(0)
    team = asyncio.create_task(take("team", bench.TEAM))
    await asyncio.gather(first, *waiting, team)

    assert order == ["first", "team", "agent 0", "agent 1"]
    assert slots.free == 1


@pytest.mark.postgres
def test_a_tiny_day_replays_with_every_outcome_and_no_unexpected_answer(tmp_path: Path) -> None:
    args = argparse.Namespace(
        calls=150, agents=5, minutes=0.2, concurrency=8, screens=1, poll_s=0.2, runs=2,
        min_deadline_s=5, report_every_s=2.0, history_days=1, history_per_day=20, seed=7,
        admin_url=POSTGRES_ADMIN_URL, keep=False,
    )  # fmt: skip

    figures = asyncio.run(bench.run(args, ["--calls", "150"]))
    bench.record(tmp_path / "dispatch.md", figures["report"])

    rows = figures["rows"]
    assert figures["unexpected"] == 0
    assert rows["calls"] == 150
    assert sum(rows["outcomes"].values()) == 150  # every call, once
    assert rows["incidents today"], "a day with no incident"
    assert set(rows["incidents today"]) <= {"resolved", "cancelled"}
    assert rows["incidents in all"] == 20 + sum(rows["incidents today"].values())
    for kind in ("monitoring: open incidents, page 1", "monitoring: districts, today"):
        assert len(figures["quiet"][kind].latencies) == 2
    text = (tmp_path / "dispatch.md").read_text()
    assert text.startswith("# Dispatch: a day of outcomes and incidents through the API")
    assert "- command: `.venv/bin/python bench/dispatch_day.py --calls 150`" in text
    assert "**0 unexpected**" in text
    assert "| monitoring: summary per district |" in text
