"""The pop-latency benchmark's pure parts: pairing each ``AgentCalled`` with the pop its
agent's page showed, the percentiles, the numbers dialled, the ring recorder and what is
printed and recorded. No timing is asserted (the run itself: ``bench/pop_latency.py``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from pbx.events import parse_event
from tests.bench.loader import load_bench

bench = load_bench("pop_latency.py")
Rung, Shown = bench.Rung, bench.Shown


def test_each_ring_pairs_with_the_pop_of_the_same_agent_and_call() -> None:
    rungs = [Rung("agent01", "c1", 100.0), Rung("agent02", "c2", 101.0)]
    shown = [
        Shown("agent02", "c2", 101.25, 101.26),
        Shown("agent01", "c1", 100.5, 100.52),
        Shown("agent02", "c1", 100.1),  # another agent's page: not agent01's pop
    ]
    result = bench.pair(rungs, shown)
    assert [(r.uniqueid, s.at) for r, s in result.pairs] == [("c1", 100.5), ("c2", 101.25)]
    assert result.latencies_ms() == pytest.approx([500.0, 250.0])
    assert result.latencies_ms(frame=True) == pytest.approx([520.0, 260.0])
    assert result.missing == []
    assert result.extra == [Shown("agent02", "c1", 100.1)]


def test_a_call_that_rings_an_agent_twice_pairs_ring_by_ring() -> None:
    rungs = [Rung("agent01", "c1", 10.0), Rung("agent01", "c1", 30.0)]
    shown = [Shown("agent01", "c1", 30.2), Shown("agent01", "c1", 10.3)]
    result = bench.pair(rungs, shown)
    assert result.latencies_ms() == pytest.approx([300.0, 200.0])
    assert result.missing == [] and result.extra == []


def test_a_ring_without_a_later_pop_is_missing_and_an_older_pop_is_extra() -> None:
    rungs = [Rung("agent01", "c1", 10.0), Rung("agent01", "c2", 20.0)]
    shown = [Shown("agent01", "c2", 19.0)]  # shown before its ring: not this ring's pop
    result = bench.pair(rungs, shown)
    assert result.pairs == []
    assert result.missing == rungs
    assert result.extra == shown


def test_slack_lets_a_pop_a_hair_before_its_ring_pair_when_the_clocks_disagree() -> None:
    rungs = [Rung("agent01", "c1", 10.0)]
    shown = [Shown("agent01", "c1", 9.999)]
    assert bench.pair(rungs, shown).missing == rungs
    result = bench.pair(rungs, shown, slack_s=0.002)
    assert result.latencies_ms() == pytest.approx([-1.0])


def test_a_pop_without_its_frame_counts_for_the_dom_only() -> None:
    result = bench.pair([Rung("a", "c", 1.0)], [Shown("a", "c", 1.1, None)])
    assert result.latencies_ms() == pytest.approx([100.0])
    assert result.latencies_ms(frame=True) == []


def test_the_part_after_the_service_is_taken_call_by_call() -> None:
    rungs = [Rung("a", "c1", 1.0), Rung("a", "c2", 2.0), Rung("a", "c3", 3.0)]
    page = bench.pair(rungs, [Shown("a", "c1", 1.3, 1.31), Shown("a", "c2", 2.5, None)])
    service = bench.pair(
        rungs, [Shown("a", "c1", 1.1), Shown("a", "c2", 2.1), Shown("a", "c3", 3.1)]
    )
    # c1: published at 1.1, painted at 1.31; c2 has no frame, c3 no pop on the page.
    assert bench.after_publish_ms(page, service) == pytest.approx([210.0])


def test_the_tap_times_the_pops_the_service_publishes_and_passes_everything_on() -> None:
    class Bus:
        def __init__(self) -> None:
            self.sent: list[tuple[str, object, object]] = []

        def publish(self, event_type: str, data: object, audience: object) -> None:
            self.sent.append((event_type, data, audience))

    bus = Bus()
    tap = bench.PopTap(bus, {7: "agent02"})
    pop = {"agent_id": 7, "call": {"uniqueid": "1700000000.9"}}
    bus.publish("agent", {"agent_id": 7}, "aud")
    bus.publish("pop", pop, "only agent 7")
    assert bus.sent == [("agent", {"agent_id": 7}, "aud"), ("pop", pop, "only agent 7")]
    assert [(s.endpoint, s.uniqueid) for s in tap.published] == [("agent02", "1700000000.9")]


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100, shuffled order is fine
    assert bench.percentile(list(reversed(values)), 50) == pytest.approx(50.5)
    assert bench.percentile(values, 95) == pytest.approx(95.05)
    assert bench.percentile(values, 100) == 100.0
    assert bench.percentile(values, 0) == 1.0
    assert bench.percentile([7.0], 95) == 7.0
    assert math.isnan(bench.percentile([], 50))


def test_every_number_calls_twice_half_the_run_apart() -> None:
    numbers = bench.numbers_for(6)
    assert numbers[:3] == numbers[3:]
    assert len(set(numbers)) == 3
    assert all(len(n) == 10 and n.startswith("0906") for n in numbers)
    assert len(bench.numbers_for(7)) == 7


def test_the_recorder_keeps_agent_called_with_the_links_time() -> None:
    recorder = bench.RingRecorder()
    headers = {
        "Event": "AgentCalled",
        "Uniqueid": "1700000000.5",
        "DestUniqueid": "1700000000.6",
        "Queue": "medical-718",
        "MemberName": "agent03",
        "Interface": "PJSIP/agent03",
    }
    recorder.on_event(parse_event(headers, 1234.5))
    recorder.on_event(parse_event({**headers, "Event": "AgentConnect"}, 1236.0))
    recorder.on_event(parse_event({**headers, "MemberName": ""}, 1237.0))
    assert recorder.rungs == [
        Rung("agent03", "1700000000.5", 1234.5),
        Rung("agent03", "1700000000.5", 1237.0),
    ]


def _figures(pairing: Any, service: Any = None) -> Any:
    return bench.Figures(
        argv=["--agents", "2", "--calls", "3"],
        agents=2,
        calls=3,
        rate=1.0,
        ring_ms=1500,
        talk_ms=2000,
        database="SQLite",
        pairing=pairing,
        service=service,
        answered=3,
        recorded=3,
    )


def test_the_figures_say_the_percentiles_counts_and_goal(tmp_path: Path) -> None:
    rungs = [Rung("a", f"c{i}", float(i)) for i in range(3)]
    shown = [Shown("a", f"c{i}", i + 0.1 * (i + 1), i + 0.1 * (i + 1) + 0.01) for i in range(3)]
    published = [Shown("a", f"c{i}", i + 0.05) for i in range(3)]
    figures = _figures(
        bench.pair([*rungs, Rung("a", "c9", 9.0)], shown), bench.pair(rungs, published)
    )
    text = " ".join(" ".join(figures.lines()).split())
    assert "AgentCalled 4, paired with a pop 3, missing pops 1" in text
    assert "p50 50.0 ms 160.0 ms 200.0 ms 210.0 ms" in text
    assert "max 50.0 ms 260.0 ms 300.0 ms 310.0 ms" in text
    assert "NOT met" in text  # a pop is missing, however quick the others
    out = tmp_path / "pop.md"
    bench.record(figures, out)
    bench.record(_figures(bench.pair(rungs, shown)), out)
    recorded = out.read_text()
    assert recorded.startswith("# The screen pop")
    assert recorded.count("# The screen pop") == 1
    assert "- command: `.venv/bin/python bench/pop_latency.py --agents 2 --calls 3`" in recorded
    assert (
        "|  | AgentCalled → pop published | pop published → its frame "
        "| AgentCalled → pop in the DOM | AgentCalled → its frame |\n|---|---:|---:|---:|---:|\n"
    ) in recorded
    assert "| p95 | 50.0 ms | 250.0 ms | 290.0 ms | 300.0 ms |" in recorded
    # Without the service's side: the page's two columns.
    assert "|  | AgentCalled → pop in the DOM | AgentCalled → its frame |\n|---|---:|---:|\n" in (
        recorded
    )
    assert "| count | 3 | 3 |" in recorded
    assert recorded.count("goal p95 < 500 ms: met") == 1
    assert "goal p95 < 500 ms: **not met**" in recorded
