"""``hotline1022 simulate``: the constant-rate summary, and the peak mode's arithmetic
(Poisson schedule, menu paths, time scale, figures from records, Erlang glue, patience)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import random
import statistics
import struct
from collections.abc import Mapping
from pathlib import Path

import pytest

from cli.main import build_parser
from ivr.menu_file import DEFAULT_MENU, load_menu
from pbx.events import parse_event
from simulation.agents import agent_scenario
from simulation.citizens import peak_citizen_scenario
from simulation.peak import CallWatch, plan_from_args, predictions
from simulation.peak_figures import CallFacts, double_booked, fifo_replay, measure, predict
from simulation.simulate import asterisk_calls, percentile, split_calls, summarize
from simulation.sipp import PCAP_DIR, dtmf_sequence_pcap
from simulation.traffic import (
    PEAK_MIX,
    Arrival,
    Schedule,
    TimeScale,
    category_mix,
    menu_routes,
    parse_duration,
    poisson_times,
    schedule,
)
from stats.staffing import DEFAULT_MIX, Target
from store.models import Call


def test_cdr_rows_for_1022_are_the_calls_asterisk_saw(tmp_path: Path) -> None:
    cdr = tmp_path / "Master.csv"
    cdr.write_text(
        '"","0901","1022","citizens","""An"" <0901>","PJSIP/pstn-1","PJSIP/agent01-2",'
        '"Queue","medical","2026-11-22 03:00:00","2026-11-22 03:00:01",'
        '"2026-11-22 03:00:05","5","4","ANSWERED","DOCUMENTATION","1.0",""\n'
        '"","0901","1022","citizens","","PJSIP/pstn-1","","Queue","medical",'
        '"2026-11-22 03:00:00","","2026-11-22 03:00:05","5","0","NO ANSWER",'
        '"DOCUMENTATION","1.0",""\n'
        '"","agent01","600","agents","","PJSIP/agent01-3","","Echo","",'
        '"2026-11-22 03:00:00","","2026-11-22 03:00:05","5","0","ANSWERED",'
        '"DOCUMENTATION","9.0",""\n'
    )
    assert asterisk_calls(cdr) == {"1.0"}
    assert asterisk_calls(tmp_path / "missing.csv") == set()


def test_lost_counts_calls_without_a_complete_record() -> None:
    calls = [
        Call(uniqueid="1.0", status="answered", complete=True, wait_s=2.0),
        Call(uniqueid="2.0", status="queued", complete=False, wait_s=None),
        Call(uniqueid="3.0", status="abandoned_ivr", complete=True),
    ]
    s = summarize(4, calls, {"1.0", "2.0", "3.0", "4.0"})
    assert (s.offered, s.answered, s.abandoned, s.lost) == (4, 1, 1, 2)
    assert s.line().startswith("offered=4 answered=1 abandoned=1 lost=2 p50_wait_s=2.00")


def test_split_and_percentiles() -> None:
    assert split_calls(300) == [("1", 90), ("2", 90), ("3", 90), ("", 30)]
    assert sum(n for _, n in split_calls(7)) == 7
    assert percentile([], 50) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


# -- peak mode -------------------------------------------------------------------------

TARGETS = (Target(0.90, 15), Target(0.95, 20))


def peak_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["simulate", "--calls-per-hour", "1500", *argv])


def test_time_scale_divides_every_duration_alike() -> None:
    s = TimeScale(10)
    assert s.wall(180) == 18.0 and s.unscaled(1.5) == 15.0
    assert s.rate(1500) == pytest.approx(1500 * 10 / 3600)  # 4.17 calls/s
    with pytest.raises(ValueError, match="1 or more"):
        TimeScale(0.5)


def test_duration_in_minutes_or_calls() -> None:
    assert parse_duration("60") == (3600.0, None)
    assert parse_duration("60m") == parse_duration("60min") == (3600.0, None)
    assert parse_duration("1500calls") == parse_duration("1500c") == (None, 1500)
    for bad in ("", "0", "-5m", "abc", "0calls", "1.5calls"):
        with pytest.raises(ValueError, match="--duration"):
            parse_duration(bad)


def test_the_menu_paths_of_the_peak_mix() -> None:
    routes = menu_routes(load_menu(DEFAULT_MENU))
    keys = {node: r.keys for node, r in routes.items()}
    assert keys == {
        "medical_critical": "11d",
        "medical": "12d",
        "food": "2d",
        "violation": "3",
        "operator": "0",
    }
    assert routes["medical_critical"].priority == 20
    assert category_mix(PEAK_MIX, routes) == pytest.approx(dict(DEFAULT_MIX))


def test_poisson_gaps_are_exponential() -> None:
    times = poisson_times(1500, random.Random(7), count=20_000)
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    mean = statistics.fmean(gaps)
    assert mean == pytest.approx(2.4, rel=0.03)  # 3600 / 1500
    assert statistics.stdev(gaps) / mean == pytest.approx(1.0, abs=0.03)  # CV of 1: not even
    # The share of gaps below the mean is 1 − 1/e for an exponential, 1/2 for a symmetric one.
    assert sum(g < mean for g in gaps) / len(gaps) == pytest.approx(1 - math.exp(-1), abs=0.01)
    # Counts in disjoint minutes: variance equals mean (standard error of the ratio 0.04).
    within = poisson_times(1500, random.Random(9), until_s=3600 * 20)
    per_minute = [0] * (60 * 20)
    for t in within:
        per_minute[int(t // 60)] += 1
    assert statistics.fmean(per_minute) == pytest.approx(25, rel=0.03)
    assert statistics.variance(per_minute) / statistics.fmean(per_minute) == pytest.approx(
        1.0, abs=0.12
    )
    assert all(t < 3600 * 20 for t in within)
    with pytest.raises(ValueError):
        poisson_times(1500, random.Random(1), count=3, until_s=10)


def test_schedule_draws_paths_windows_and_patience() -> None:
    routes = menu_routes(load_menu(DEFAULT_MENU))
    districts = [str(d) for d in range(1, 10)]
    plan = schedule(
        1500, routes, districts, warmup_s=600, measure_s=3600, cooldown_s=120, patience_s=60
    )
    assert plan.window == (600, 4200)
    assert all((600 <= a.at_s <= 4200) == a.measured for a in plan.arrivals)
    assert len(plan.measured) == pytest.approx(1500, rel=0.1)
    assert plan.span_s < 600 + 3600 + 120
    assert len({a.number for a in plan.arrivals}) == len(plan.arrivals)
    shares = {n: sum(a.node == n for a in plan.arrivals) / len(plan.arrivals) for n in PEAK_MIX}
    for node, share in PEAK_MIX.items():
        assert shares[node] == pytest.approx(share, abs=0.03)
    for a in plan.arrivals:
        template = routes[a.node].keys
        assert len(a.keys) == len(template)
        assert all(
            t == k or (t == "d" and k in districts) for t, k in zip(template, a.keys, strict=True)
        )
    assert statistics.fmean(a.patience_s or 0 for a in plan.arrivals) == pytest.approx(60, rel=0.1)
    # The same seed gives the same calls; a count ends the window at its last call.
    assert schedule(1500, routes, districts, measure_s=60).arrivals == (
        schedule(1500, routes, districts, measure_s=60).arrivals
    )
    counted = schedule(1500, routes, districts, warmup_s=60, measure_calls=20, cooldown_s=30)
    assert len(counted.measured) == 20
    assert counted.window[1] == counted.measured[-1].at_s
    assert all(a.patience_s is None for a in counted.arrivals)


def test_agents_auto_is_staffings_recommendation_without_a_cap_unless_given() -> None:
    plan = plan_from_args(peak_args("--agents", "auto", "--duration", "10calls"))
    assert plan.agents == 86 and plan.agents_auto and plan.max_occupancy is None
    capped = plan_from_args(
        peak_args("--agents", "auto", "--max-occupancy", "0.85", "--duration", "10calls")
    )
    assert capped.agents == 89
    assert plan_from_args(peak_args("--agents", "7", "--duration", "10calls")).agents == 7
    assert "86 agents" in plan.describe() and "occupancy cap none" in plan.describe()


def test_scaled_plan_and_its_refusals() -> None:
    plan = plan_from_args(
        peak_args("--time-scale", "10", "--wrapup", "10", "--duration", "5", "--agents", "9")
    )
    assert plan.talk_s == 170 and plan.talk_wall_ms == 17_000  # AHT = talk + wrap-up
    assert plan.wrapup_wall_s == 1
    assert "SL thresholds 1.50 s, 2.00 s" in plan.describe()
    with pytest.raises(ValueError, match="whole seconds"):
        plan_from_args(peak_args("--time-scale", "4", "--wrapup", "10", "--agents", "9"))
    with pytest.raises(ValueError, match="--aht"):
        plan_from_args(peak_args("--aht", "0", "--agents", "9"))
    with pytest.raises(ValueError, match="--patience"):
        plan_from_args(peak_args("--patience", "-1", "--agents", "9"))
    with pytest.raises(SystemExit):
        peak_args("--agents", "many")


def _arrivals(*at: float, window: tuple[float, float] = (0, 100)) -> Schedule:
    return Schedule(
        tuple(
            Arrival(t, f"09{i:08d}", "food", "21", None, window[0] <= t <= window[1])
            for i, t in enumerate(at)
        ),
        window,
    )


def _rec(
    i: int,
    status: str,
    queued: float | None,
    wait: float | None = None,
    talk: float | None = None,
    agent: str | None = None,
) -> CallFacts:
    answered = None if wait is None or status != "answered" else (queued or 0) + wait
    return CallFacts(
        number=f"09{i:08d}",
        status=status,
        queue_entered_at=queued,
        answered_at=answered,
        ended_at=None if answered is None or talk is None else answered + talk,
        wait_s=wait,
        talk_s=talk,
        complete=True,
        agent=agent,
    )


def test_figures_from_records_are_scaled_back() -> None:
    # Time scale 10, start at Unix 1000: arrival t (unscaled) is on the clock at 1000 + t/10.
    plan = _arrivals(0, 10, 20, 30, 40, 200, window=(0, 100))
    records = [
        _rec(0, "answered", 1000.5, wait=0.05, talk=2.0, agent="agent01"),  # 0.5 s unscaled
        _rec(1, "answered", 1001.5, wait=1.6, talk=3.0, agent="agent02"),  # 16 s: late for SL 15
        _rec(2, "abandoned_queue", 1002.5, wait=0.3),  # 3 s: a short abandon
        _rec(3, "abandoned_queue", 1003.5, wait=0.9),  # 9 s: counts as abandoned
        _rec(4, "abandoned_ivr", None),
        _rec(5, "answered", 1020.5, wait=0.0, talk=1.0, agent="agent01"),  # after the window
    ]
    m = measure(plan, records, scale=TimeScale(10), start_unix=1000.0, agents=2, targets=TARGETS)
    assert (m.offered, m.recorded, m.reached_queue, m.answered) == (5, 5, 4, 2)
    assert (m.abandoned_queue, m.short_abandons, m.abandoned_ivr, m.other) == (2, 1, 1, 0)
    # SL = answered within T / (reached the queue − short abandons) = 1/3 and 2/3.
    assert [v for _, v in m.service_levels] == pytest.approx([1 / 3, 2 / 3])
    assert m.asa_s == pytest.approx((0.5 + 16) / 2)
    assert m.max_wait_s == pytest.approx(16)
    assert m.abandon_rate == pytest.approx(1 / 4)
    assert m.calls_per_hour == pytest.approx(5 / 100 * 3600)
    # Busy inside the window (1000 … 1010 on the clock): 2 s + 3 s of 2 agents × 10 s.
    assert m.occupancy == pytest.approx(5 / 20)
    assert m.talk_mean_s == pytest.approx(25.0)  # (2 + 3) / 2 × 10
    assert (m.waited, m.on_the_second, m.double_booked) == (1, 0, 0)
    assert m.service_level_ci is None  # too few calls for batch means


def test_talk_cut_at_the_end_is_censored_and_waits_on_the_second_are_counted() -> None:
    plan = _arrivals(0, 10, window=(0, 10))
    records = [
        _rec(0, "answered", 1000.0, wait=1.004, talk=4.0, agent="agent01"),
        _rec(1, "answered", 1001.0, wait=2.01, talk=6.0, agent="agent02"),  # cut at 1009.01
    ]
    m = measure(
        plan,
        records,
        scale=TimeScale(10),
        start_unix=1000.0,
        agents=2,
        targets=TARGETS,
        cut_at=1009.01,
    )
    # Exponential with right-censoring: all observed talk / calls that ended on their own.
    assert m.talk_mean_s == pytest.approx((4.0 + 6.0) * 10 / 1)
    assert (m.waited, m.on_the_second) == (2, 2)


def test_an_agent_on_two_calls_at_once_is_double_booked() -> None:
    ok = [
        _rec(0, "answered", 0.0, 0.0, 5.0, "agent01"),
        _rec(1, "answered", 5.0, 0.0, 5, "agent01"),
    ]
    assert double_booked(ok) == 0
    clash = [*ok, _rec(2, "answered", 7.0, 0.0, 1.0, "agent01")]
    assert double_booked(clash) == 1


def test_fifo_replay_puts_the_same_calls_through_an_ideal_pooled_queue() -> None:
    plan = Schedule(
        (
            Arrival(0, "0900000000", "food", "21", None, True),
            Arrival(0, "0900000001", "food", "21", None, True),
            Arrival(0, "0900000002", "food", "21", None, True),
            Arrival(1, "0900000003", "food", "21", 1.5, True),
            Arrival(1, "0900000004", "food", "21", None, True),
        ),
        (0, 1),
    )
    records = [
        _rec(0, "answered", 0.0, wait=0.0, talk=2.0),
        _rec(1, "answered", 0.0, wait=0.0, talk=3.0),
        _rec(2, "answered", 0.0, wait=0.5, talk=1.0),
        _rec(3, "answered", 1.0, wait=0.0, talk=1.0),  # Asterisk answered it at once
        _rec(4, "abandoned_queue", 1.0, wait=0.2),  # left: no talk time of its own
    ]
    out = {
        r.number[-1]: r for r in fifo_replay(plan, records, scale=TimeScale(1), agents=2, talk_s=9)
    }
    # Two agents, first come first served: 0 and 1 at once, 2 when 0 ends at 2 s.
    assert [out[k].wait_s for k in "012"] == [0.0, 0.0, 2.0]
    # 3 would wait until 3 s (2 s), past its 1.5 s patience: it leaves at 2.5 s.
    assert out["3"].status == "abandoned_queue" and out["3"].ended_at == 2.5
    # 4 left in the run, but here it waits for the agent free at 3 s and talks a drawn time.
    assert out["4"].status == "answered" and out["4"].wait_s == 2.0
    assert out["4"].talk_s is not None and out["4"].talk_s > 0


def test_predictions_are_staffings_erlang_figures() -> None:
    c = predict("Erlang C", 86, 1500, 180, TARGETS)
    assert [round(v, 3) for _, v in c.service_levels] == [0.940, 0.956]  # staffing's table
    assert round(c.asa_s, 1) == 2.4 and round(c.occupancy, 3) == 0.872
    a = predict("Erlang A", 80, 1500, 180, TARGETS, patience_s=60)
    assert a.p_abandon is not None and round(a.p_abandon, 3) == 0.029  # the domain notes
    plan = plan_from_args(peak_args("--agents", "auto", "--patience", "60", "--duration", "5"))
    records = [_rec(i, "answered", 0.0, 0.0, 180.0, f"agent{i:02d}") for i in range(3)]
    m = measure(
        plan.schedule, records, scale=plan.scale, start_unix=0.0, agents=86, targets=TARGETS
    )
    models = [p.model for p in predictions(plan, m)]
    assert models == [
        "Erlang C, nominal",
        "Erlang A, nominal",
        "Erlang C, as offered",
        "Erlang A, as offered",
    ]


def test_each_path_is_one_pcap_with_the_keys_spaced_apart() -> None:
    if not (PCAP_DIR / "dtmf_2833_1.pcap").exists():
        pytest.skip("sip-tester's pcaps are not installed")
    data = dtmf_sequence_pcap("114", 1250).read_bytes()
    offset, records = 24, []
    while offset + 16 <= len(data):
        sec, usec, captured = struct.unpack_from("<III", data, offset)
        rtp = offset + 16 + 42
        records.append(
            (sec + usec / 1e6, data[rtp + 12], struct.unpack_from(">I", data, rtp + 4)[0])
        )
        offset += 16 + captured
    firsts = [records[0]] + [b for a, b in itertools.pairwise(records) if a[2] != b[2]]
    assert [event for _, event, _ in firsts] == [1, 1, 4]
    assert [round(t - firsts[0][0], 3) for t, _, _ in firsts] == [0, 1.25, 2.5]
    scenario = peak_citizen_scenario(
        [dtmf_sequence_pcap("3", 1250), dtmf_sequence_pcap("114", 1250)]
    )
    assert 'condexec="seq1"' in scenario and "gettimeofday" in scenario
    assert '<pause distribution="exponential" mean="18000"/>' in agent_scenario(
        18000, exponential=True
    )


class _FakeLink:
    def __init__(self) -> None:
        self.actions: list[tuple[str, Mapping[str, str]]] = []

    def status(self) -> dict[str, object]:
        return {"event_backlog": 0}

    async def action(self, name: str, fields: Mapping[str, str]) -> list[dict[str, str]]:
        self.actions.append((name, fields))
        return []


async def test_patience_hangs_up_a_caller_still_waiting_and_no_other() -> None:
    link = _FakeLink()
    watch = CallWatch(link, {"0900000001": 0.05, "0900000002": 0.05})  # type: ignore[arg-type]

    def ev(name: str, uid: str, number: str = "", **extra: str) -> None:
        headers = {
            "Event": name,
            "Uniqueid": uid,
            "Channel": f"PJSIP/pstn-{uid}",
            "CallerIDNum": number,
            "Context": "citizens",
            "Exten": "1022",
            **extra,
        }
        watch.on_event(parse_event(headers, 0.0))

    ev("Newchannel", "a", "0900000001")
    ev("Newchannel", "b", "0900000002")
    ev("Newchannel", "x", "0999999999")  # not one of ours
    ev("QueueCallerJoin", "a", Queue="food")
    ev("QueueCallerJoin", "b", Queue="food")
    ev("AgentConnect", "b", Queue="food")
    assert not watch.settled(2)
    await asyncio.sleep(0.15)
    assert link.actions == [("Hangup", {"Channel": "PJSIP/pstn-a", "Cause": "16"})]
    assert watch.gave_up == 1
    ev("Hangup", "a")
    assert watch.settled(2) and watch.arrived() == 2
