"""The surge day's simulation (``simulation.surge``): small days whose outcome is known."""

from __future__ import annotations

import pytest

from simulation.surge import HOTLINE, PLAIN, run_arm, window
from simulation.surge_model import Citizen, RedialModel, SurgeParams, citizens, draws
from simulation.surge_peak import des_figures, replay_plan

NEVER = 1e9  # a patience no wait reaches


def _c(i: int, at: float, need: str = "food", district: int = 1) -> Citizen:
    return Citizen(i, at, need, district, f"09{i:08d}")


def _params(**kw: object) -> SurgeParams:
    base: dict[str, object] = {
        "citizens": 0,
        "agents_by_hour": (1,) * 24,
        "patience_s": NEVER,
        "callback_threshold_s": -1,  # offers off unless a test turns them on
        "redial": RedialModel(first=0.0),
    }
    base.update(kw)
    return SurgeParams(**base)  # type: ignore[arg-type]


def test_redial_probability_decays_and_expected_attempts_by_hand() -> None:
    m = RedialModel(first=0.5, decay=0.5, max_attempts=3)
    assert [m.probability(k) for k in (1, 2, 3)] == [0.5, 0.25, 0.0]
    assert m.expected_attempts() == pytest.approx(1 + 0.5 + 0.5 * 0.25)
    with pytest.raises(ValueError):
        m.probability(0)


def test_one_agent_two_callers_by_hand() -> None:
    p = _params()
    people = [_c(0, 0.0), _c(1, 1.0)]
    for arm in (PLAIN, HOTLINE):
        r = run_arm(arm, people, p, seed=7)
        first_talk = draws(7, 0, 1, p).talk_s
        assert r.served == 2 and r.answered == 2 and r.attempts == 2
        # the second waits for the first's talk and wrap-up, less the second it came later
        assert r.waits_answered == pytest.approx([0.0, first_talk + p.wrapup_s - 1.0])
        assert r.unserved == 0


def test_a_citizen_who_never_gets_through_redials_as_the_model_says() -> None:
    p = _params(
        agents_by_hour=(0,) * 24,
        patience_s=1.0,
        redial=RedialModel(first=1.0, decay=1.0, mean_delay_s=1.0, max_attempts=4),
    )
    people = [_c(i, 10.0 * i) for i in range(20)]
    r = run_arm(PLAIN, people, p, seed=1)
    assert r.attempts == 4 * 20  # exactly max_attempts each
    assert r.abandoned == 80 and r.served == 0 and r.gave_up == 20 and r.still_trying == 0


def test_citizens_are_conserved_and_both_arms_see_the_same_arrivals() -> None:
    p = SurgeParams(citizens=400, agents_by_hour=(2,) * 24, day_s=4 * 3600)
    people = citizens(p, 3)
    assert people == citizens(p, 3)  # drawn once, the same for both arms
    firsts = []
    for arm in (PLAIN, HOTLINE):
        r = run_arm(arm, people, p, seed=3)
        assert r.served + r.gave_up + r.still_trying == r.citizens == 400
        assert sum(r.served_by.values()) == r.served
        assert r.attempts >= 400
        first: dict[int, float] = {}
        for a in r.log:
            first[a.citizen] = min(a.at_s, first.get(a.citizen, a.at_s))
        firsts.append(first)
        arrivals = {c.id: c.arrives_s for c in people}
        assert all(first[i] == arrivals[i] for i in first)
    shared = firsts[0].keys() & firsts[1].keys()
    assert len(shared) > 300


def test_plain_arm_is_fifo_and_hotline_answers_emergencies_first() -> None:
    p = _params()
    people = [_c(0, 0.0), _c(1, 1.0), _c(2, 2.0, need="medical_critical")]
    plain = run_arm(PLAIN, people, p, seed=5)
    hot = run_arm(HOTLINE, people, p, seed=5)
    order = [a.citizen for a in plain.log if a.outcome == "answered"]
    assert order == [0, 1, 2]
    assert [a.citizen for a in hot.log if a.outcome == "answered"] == [0, 2, 1]


def test_information_announcements_serve_without_an_agent() -> None:
    p = _params(agents_by_hour=(0,) * 24, info_wants_agent=0.0)
    people = [_c(i, float(i), need="information") for i in range(10)]
    hot = run_arm(HOTLINE, people, p, seed=1)
    assert hot.served == hot.served_by["announcement"] == 10 and hot.answered == 0
    plain = run_arm(PLAIN, people, p, seed=1)
    assert plain.served == 0 and plain.still_trying == 10  # still waiting at 24:00


def test_a_callback_keeps_the_place_and_the_hourly_cap_refuses_the_next() -> None:
    p = _params(
        callback_threshold_s=0,
        callback_accept=1.0,
        callback_answer=1.0,
        callback_max_per_hour=1,
    )
    people = [_c(0, 0.0), _c(1, 1.0), _c(2, 2.0)]
    r = run_arm(HOTLINE, people, p, seed=2)
    # 0 is answered at once; 1's estimated wait is over 0 s: called back, keeping its place;
    # 2's offer is refused by the hourly cap and 2 holds, behind 1's placeholder
    assert r.callbacks_requested == 1 and r.callback_offers_refused == 1
    assert r.served_by == {"agent": 2, "callback": 1}
    assert [a.outcome for a in sorted(r.log, key=lambda a: a.citizen)] == [
        "answered",
        "callback",
        "answered",
    ]
    first, second = (draws(2, i, 1, p).talk_s + p.wrapup_s for i in (0, 1))
    assert r.waits_answered == pytest.approx([0.0, first + second - 2.0])
    # the agent took 0 on the line, then 1's placeholder (dialling 1), then 2 on the line
    assert [kind for _, kind in r.agent_starts] == ["answered", "dial", "answered"]
    day = window(r, 0, p.day_s)
    assert (day["agent_answers"], day["callback_dials"]) == (2, 1)
    assert window(r, 1.0, first)["callback_dials"] == 0  # 1 is dialled when 0 is done


def test_an_unanswered_callback_is_dialled_again_then_the_citizen_redials() -> None:
    p = _params(
        callback_threshold_s=0,
        callback_accept=1.0,
        callback_answer=0.0,
        redial=RedialModel(first=0.0),
    )
    people = [_c(0, 0.0), _c(1, 1.0)]
    r = run_arm(HOTLINE, people, p, seed=4)
    assert r.callback_dials == p.callback_attempts and r.callbacks_failed == 1
    assert r.served == 1 and r.gave_up == 1


def test_window_counts_the_attempts_arriving_in_it() -> None:
    p = _params()
    r = run_arm(PLAIN, [_c(0, 0.0), _c(1, 4000.0)], p, seed=1)
    assert window(r, 0, 3600)["attempts"] == 1
    assert window(r, 0, 7200)["answered"] == 2


def test_the_replay_places_the_calls_the_arm_queued_with_their_patience() -> None:
    p = _params(patience_s=30.0, redial=RedialModel(first=1.0, mean_delay_s=5.0, max_attempts=2))
    people = [_c(0, 100.0), _c(1, 101.0, need="medical_critical"), _c(2, 102.0)]
    for arm, nodes in ((PLAIN, {"operator"}), (HOTLINE, {"food", "medical_critical"})):
        r = run_arm(arm, people, p, seed=9)
        plan = replay_plan(
            r, people, p, 9, start_s=100.0, end_s=400.0, warmup_s=50.0, scale=10, agents=1
        )
        queued = [a for a in r.log if a.outcome in ("answered", "abandoned")]
        assert len(plan.schedule.arrivals) == len(queued)
        assert {a.node for a in plan.schedule.arrivals} == nodes
        assert plan.schedule.window == (50.0, 350.0)
        firsts = sorted(a.at_s for a in plan.schedule.arrivals)[:3]
        assert firsts == pytest.approx([50.0, 51.0, 52.0])
        patience = {draws(9, a.citizen, a.attempt, p).patience_s for a in queued}
        assert {a.patience_s for a in plan.schedule.arrivals} == patience
        figures = des_figures(r, 100.0, 400.0)
        assert figures["reached_queue"] == len(queued)
        assert figures["answered"] == r.answered and figures["abandoned"] == r.abandoned


@pytest.mark.parametrize(("ahead", "offered"), [("service", 1), ("own-queue", 0)])
def test_the_offer_counts_the_whole_category_as_the_service_does(ahead: str, offered: int) -> None:
    """queues/wait_estimate.py's rule: callers of the category's other district queues are
    ahead too. One agent busy with 0; 1–3 wait in food-2, food-3, food-1 (3 is under the
    600-s threshold: 2 ahead, (2 + 1) × AHT = 540 s); 4 joins food-1: 3 ahead in the category
    (wait (3 + 1) × AHT = 720 s: offered), 1 in its own queue (360 s: not offered)."""
    p = _params(
        callback_threshold_s=600,
        callback_accept=1.0,
        callback_answer=1.0,
        offer_ahead=ahead,
    )
    people = [_c(0, 0.0), _c(1, 1.0, district=2), _c(2, 2.0, district=3), _c(3, 3.0), _c(4, 4.0)]
    assert draws(1, 0, 1, p).talk_s > 10  # 0 still talks when the others come
    r = run_arm(HOTLINE, people, p, seed=1)
    assert r.callbacks_requested == offered
    assert [a.outcome for a in r.log if a.citizen == 4] == (
        ["callback"] if offered else ["answered"]
    )
    assert r.served == 5
