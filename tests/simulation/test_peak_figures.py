"""Figures from the service's records, scaled back; double booking; the ideal FIFO replay;
Erlang's predictions beside them."""

from __future__ import annotations

import pytest

from simulation.peak_figures import CallFacts, double_booked, fifo_replay, measure, predict
from simulation.peak_plan import plan_from_args
from simulation.peak_report import predictions
from simulation.traffic import (
    Arrival,
    Schedule,
    TimeScale,
)
from tests.simulation.support import TARGETS, peak_args


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
