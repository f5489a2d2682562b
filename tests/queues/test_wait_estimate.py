"""The estimated wait a callback offer is based on (queues/wait_estimate.py), and the offer it
leads to (queues/callback_states.offer) on a normal day and in a surge."""

from __future__ import annotations

from collections.abc import Mapping

from ivr.ports import CallbackOffer
from pbx.events import AmiEvent, parse_event
from queues import callback_states as rules
from queues.live import LiveQueues
from queues.routing import RoutingPolicy
from queues.wait_estimate import QueueLayout, callers_ahead, estimated_wait_s

POLICY = RoutingPolicy(districts=(1, 2, 3))
SPECS = POLICY.queues()
LAYOUT = QueueLayout({q.name: q.category for q in SPECS}, {q.name: q.weight for q in SPECS})
NUMBER = "0903000002"
AHT = 180.0
THRESHOLD = 120.0


def test_free_agents_take_the_first_callers_and_nobody_able_gives_none() -> None:
    assert estimated_wait_s(ahead=0, free=1, able=3, aht_s=AHT) == 0.0
    assert estimated_wait_s(ahead=2, free=3, able=3, aht_s=AHT) == 0.0
    assert estimated_wait_s(ahead=4, free=1, able=2, aht_s=AHT) == 4 * AHT / 2
    assert estimated_wait_s(ahead=4, free=0, able=0, aht_s=AHT) is None


def test_a_district_queue_competes_with_its_category_and_heavier_queues() -> None:
    assert LAYOUT.competing("food-1") == {
        "food",
        "food-1",
        "food-2",
        "food-3",
        "medical",
        "medical-1",
        "medical-2",
        "medical-3",
        "emergency",
    }
    # medical (weight 10): its own category and the emergency queue, not food or violation
    assert LAYOUT.competing("medical-2") == {
        "medical",
        "medical-1",
        "medical-2",
        "medical-3",
        "emergency",
    }
    # the emergency queue is the heaviest: the other medical callers are behind it
    assert LAYOUT.competing("emergency") == {"emergency"}
    # the operator queue (weight 1) is the lightest: everyone is ahead
    assert LAYOUT.competing("operator") == set(LAYOUT.category)
    # a queue the layout does not know: its own callers only
    assert LAYOUT.competing("somewhere") == {"somewhere"}


def test_callers_of_lighter_queues_are_not_ahead() -> None:
    waiting = {"food-1": 2, "food-2": 3, "food": 1, "violation-1": 7, "operator": 9, "medical": 4}
    assert callers_ahead("food-1", waiting, LAYOUT) == 2 + 3 + 1 + 4
    assert callers_ahead("violation-2", waiting, LAYOUT) == 7 + 2 + 3 + 1 + 4
    assert callers_ahead("emergency", waiting, LAYOUT) == 0
    assert callers_ahead("operator", waiting, LAYOUT) == sum(waiting.values())


def offer_for(
    queue: str, waiting: Mapping[str, int], *, free: int, able: int
) -> CallbackOffer | None:
    wait = estimated_wait_s(
        ahead=callers_ahead(queue, waiting, LAYOUT), free=free, able=able, aht_s=AHT
    )
    return rules.offer(
        queue, NUMBER, pending=False, wait_s=wait, threshold_s=THRESHOLD, never_in=("emergency",)
    )


def test_a_normal_day_is_not_offered_a_callback() -> None:
    # 25 agents, a few callers in every queue: 12 ahead of a food caller, 2 agents free
    waiting = {f"{c}-{d}": 1 for c in ("food", "medical", "violation") for d in (1, 2, 3)}
    waiting |= {"food": 1, "medical": 1, "operator": 3, "emergency": 1}
    assert offer_for("food-1", waiting, free=2, able=25) is None
    assert offer_for("operator", waiting, free=2, able=25) is None
    # nobody waiting and an agent free: no wait at all
    assert offer_for("operator", {}, free=1, able=25) is None


def test_a_swamped_category_is_offered_though_the_own_district_queue_is_short() -> None:
    # 25 agents all busy; 6 callers in each food queue: 24 ahead of a food-1 caller
    waiting = {"food": 6, "food-1": 6, "food-2": 6, "food-3": 6}
    own = estimated_wait_s(ahead=waiting["food-1"], free=0, able=25, aht_s=AHT)
    assert own is not None and own <= THRESHOLD  # the rule before: no offer
    offer = offer_for("food-1", waiting, free=0, able=25)
    assert offer is not None and offer.refused is None
    assert offer.estimated_wait_s == (24 + 1) * AHT / 25
    # a flood of lighter callers (operator) does not hold up food callers
    assert offer_for("food-1", {"operator": 200, "food-1": 3}, free=0, able=25) is None
    # emergency callers always hold, however long the wait
    assert offer_for("emergency", {"emergency": 200}, free=0, able=25) is None


def join(uid: str, queue: str) -> AmiEvent:
    return parse_event({"Event": "QueueCallerJoin", "Queue": queue, "Uniqueid": uid}, 0)


def test_live_queues_count_the_category_s_other_district_queues() -> None:
    live = LiveQueues(SPECS, clock=lambda: 0.0, default_aht_s=AHT)
    for q in LAYOUT.category:
        live.on_event(
            parse_event(
                {
                    "Event": "QueueMemberAdded",
                    "Queue": q,
                    "MemberName": "agent01",
                    "Interface": "PJSIP/agent01",
                    "Status": "2",  # on a call: able, not free
                    "Paused": "0",
                },
                0,
            )
        )
    assert live.estimated_wait_s("food-1") == AHT  # nobody ahead: the one agent's next call
    for uid, queue in (("a", "food-2"), ("b", "food"), ("c", "violation-1"), ("d", "medical-3")):
        live.on_event(join(uid, queue))
    # food-2, food and medical-3 are ahead of a food-1 caller; violation-1 is lighter
    assert live.estimated_wait_s("food-1") == 4 * AHT
    assert live.estimated_wait_s("medical-1") == 2 * AHT
    assert live.estimated_wait_s("violation-1") == 5 * AHT
    # the supervisors' view shows the same figure the offer uses
    view = {v.name: v for v in live.snapshot()}["food-1"]
    assert (view.waiting, view.estimated_wait_s) == (0, 4 * AHT)
