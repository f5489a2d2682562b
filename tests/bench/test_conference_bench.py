"""The conference benchmark's parts: the roll as AMI events tell it, the mix of numbers, the
slope that gives CPU per point, what is recorded; and a quick run on a real Asterisk that
only checks the bench runs through (no figure is asserted)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from pbx.events import AmiEvent
from tests.bench.loader import load_bench

bench = load_bench("conference_capacity.py")


def _user_event(cid: int, pid: int, state: str) -> AmiEvent:
    headers = {"UserEvent": "HotlineConfPoint", "Conference": str(cid), "Point": str(pid)}
    return AmiEvent("UserEvent", {**headers, "Attempt": "1", "State": state}, 0.0)


def test_the_tracker_follows_each_point_to_its_final_state() -> None:
    tracker = bench.Tracker()
    present, absent, busy = (bench.Point(3, pid, f"09{pid}") for pid in (1, 2, 3))
    for p in (present, absent, busy):
        tracker.points[(p.cid, p.pid)] = p
    tracker.by_action["a3"] = (3, 3)

    tracker.on_event(_user_event(3, 1, "answered"))
    tracker.on_event(_user_event(3, 2, "answered"))
    assert (present.state, present.final_at) == ("answered", None)
    tracker.on_event(_user_event(3, 1, "present"))
    tracker.on_event(_user_event(3, 2, "absent"))
    tracker.on_event(AmiEvent("OriginateResponse", {"Response": "Failure", "ActionID": "a3"}, 0))
    tracker.on_event(_user_event(3, 2, "present"))  # after its final state: ignored
    tracker.on_event(_user_event(9, 1, "present"))  # another conference's point: unknown
    assert [p.state for p in (present, absent, busy)] == ["present", "absent", "failed"]
    assert present.present_at is not None and absent.present_at is None
    assert all(p.final_at is not None for p in (present, absent, busy))

    # A busy line's failure may come before its Originate's reply; or name the channel only.
    early, by_channel = bench.Point(3, 4, "0933"), bench.Point(3, 5, "0944")
    tracker.points.update({(3, 4): early, (3, 5): by_channel})
    tracker.by_channel["PJSIP/0944@pstn-out"] = (3, 5)
    tracker.on_event(AmiEvent("OriginateResponse", {"Response": "Failure", "ActionID": "a4"}, 0))
    assert early.state == "queued"
    tracker.replied("a4", (3, 4))
    tracker.on_event(
        AmiEvent("OriginateResponse", {"Response": "Failure", "Channel": "PJSIP/0944@pstn-out"}, 0)
    )
    assert (early.state, by_channel.state) == ("failed", "failed")

    for name in ("ConfbridgeJoin", "ConfbridgeJoin", "ConfbridgeLeave"):
        tracker.on_event(AmiEvent(name, {"Conference": "hotline-conf-3"}, 0.0))
    assert (tracker.joined(3), tracker.joined(4)) == (1, 0)


def test_the_roll_mix_is_seeded_and_close_to_its_weights() -> None:
    numbers = bench.roll_numbers(2000)
    assert numbers == bench.roll_numbers(2000) and len(set(numbers)) == 2000
    kinds = Counter(n[:4] for n in numbers)
    for prefix, weight in bench.ROLL_MIX:
        assert kinds[prefix] / 2000 == pytest.approx(weight / 100, abs=0.02)


def _sample(points: int, cores: float, verdict: str = "ok") -> object:
    cpu = bench.CpuSpan(8.0, cores, 0.1, 0.05, 0.5, cores / 2)
    return bench.Sample(points, points, cpu, 1000.0, 1000.0, 1.0, verdict)


def test_cpu_per_point_is_the_slope_over_the_steps_that_passed() -> None:
    ramp = bench.Ramp(
        bench.Config(True, 40),
        50.0,
        _sample(0, 0.02),
        [_sample(100, 0.12), _sample(200, 0.22), _sample(400, 1.9, "audio breaks")],
    )
    assert ramp.held == 200
    assert ramp.cpu_per_point_ms() == pytest.approx(1.0)  # 0.1 core per 100 points
    assert math.isnan(bench.slope([1.0], [2.0]))
    assert bench.pct([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0


def test_the_report_has_each_part_and_the_command(tmp_path: Path) -> None:
    figures = bench.Figures(
        ramp=bench.Ramp(
            bench.Config(True, 40),
            50.0,
            _sample(0, 0.02),
            [_sample(100, 0.12)],
            {100: {"mute participants": [1.0, 2.0, math.inf]}},
        ),
        configs=[(bench.Config(False, 20), _sample(0, 0.02), _sample(100, 0.2))],
        rolls=[bench.RollRun(100, 20.0, 5.0, 19.5, {"present": 90}, 1.5, 6.0)],
        asterisk="Asterisk 22",
    )
    figures.rolls[0].counts.update({"absent": 4, "failed": 6, "not final": 0})
    args = bench.build_parser().parse_args(["--quick"])
    text = bench.report(figures, ["--quick"], args)
    assert "`.venv/bin/python bench/conference_capacity.py --quick`" in text
    assert "- **most held: 100 points**" in text
    assert "| off | 20 | 0.020 | 0.200 | 0.100 | 1.80 |" in text
    assert "| 100 | mute participants | 3 | 1.5 | 2.0 | 2.0 | 1 |" in text
    assert "| 100 | 20 | 5.0 | 19.5 | 90 | 4 | 6 | 0 | 1.5 | 6.0 |" in text
    results = tmp_path / "conference.md"
    bench.record(results, text)
    bench.record(results, text)
    assert results.read_text().count("# The command conference") == 1


@pytest.mark.asterisk
async def test_a_quick_run_goes_through_every_part() -> None:
    args = bench.build_parser().parse_args(["--quick"])
    for key, value in bench.QUICK.items():
        setattr(args, key, value)
    figures = await bench.run(args)
    ramp = figures.ramp
    assert ramp is not None and [s.joined for s in ramp.samples] == [4, 8]
    assert [(c.drop_silence, c.mixing_ms) for c, _, _ in figures.configs] == [
        (True, 40),
        (False, 40),
    ]
    assert all(full.joined == 4 for _, _, full in figures.configs)
    assert set(ramp.controls) == {4, 8}
    assert set(ramp.controls[8]) >= {"mute participants", "unmute one point"}
    assert [r.points for r in figures.rolls] == sorted({6, ramp.held or 4})
    for r in figures.rolls:  # every point ended present, absent or failed
        assert r.counts["not final"] == 0
        assert sum(r.counts[s] for s in ("present", "absent", "failed")) == r.points
    assert "### Dialling to a final roll" in bench.report(figures, ["--quick"], args)
