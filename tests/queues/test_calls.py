"""The call tracker on synthetic Asterisk 22 event sequences (the real-Asterisk tests in
tests/integration cover the same paths end to end)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ivr.ports import IvrStep
from pbx.cdr import CdrCall
from pbx.events import AmiEvent, parse_event
from queues.calls import CallTracker
from store.db import Database
from store.models import Call, IvrEvent
from store.seed import ensure_agents

UID = "1795316528.0"
T0 = 1_795_316_528.0


def ev(name: str, at: float, uid: str = UID, **headers: str) -> AmiEvent:
    base = {
        "Event": name,
        "Timestamp": f"{at:.6f}",
        "Channel": "PJSIP/pstn-00000001",
        "Uniqueid": uid,
        "Linkedid": uid,
        "CallerIDNum": "0901234567",
        "CallerIDName": "Nguyễn Thị Hằng",
        "Context": "citizens",
        "Exten": "1022",
    }
    base.update(headers)
    return parse_event(base, at)


def route(at: float, category: str, queue: str, prio: str, choice: str, how: str) -> AmiEvent:
    return ev(
        "UserEvent",
        at,
        UserEvent="HotlineRoute",
        **{
            "Hotline-Category": category,
            "Hotline-Queue": queue,
            "Hotline-Priority": prio,
            "Hotline-Choice": choice,
            "Hotline-Route": how,
            "Priority": "7",
        },
    )


def answered_call() -> Iterator[AmiEvent]:
    yield ev("Newchannel", T0)
    yield route(T0 + 3, "medical", "medical", "10", "1", "ivr")
    yield ev("QueueCallerJoin", T0 + 3.1, Queue="medical", Position="1", Count="1")
    yield ev(
        "AgentConnect",
        T0 + 4.6,
        Queue="medical",
        MemberName="agent01",
        Interface="PJSIP/agent01",
        HoldTime="1",
        RingTime="0",
        DestUniqueid="1795316532.1",
    )
    yield ev("QueueCallerLeave", T0 + 4.6, Queue="medical", Position="1", Count="0")
    yield ev(
        "AgentComplete",
        T0 + 6.7,
        Queue="medical",
        MemberName="agent01",
        Interface="PJSIP/agent01",
        HoldTime="1",
        TalkTime="2",
        Reason="agent",
    )
    yield ev("Hangup", T0 + 6.8, Cause="16", **{"Cause-txt": "Normal Clearing"})


@pytest.fixture
async def tracker(db: Database) -> CallTracker:
    await ensure_agents(db, 3)
    return CallTracker(db)


async def rows(db: Database) -> list[Call]:
    async with db.session() as s:
        return list((await s.scalars(select(Call))).all())


async def test_answered_call_is_complete(tracker: CallTracker, db: Database) -> None:
    for e in answered_call():
        tracker.on_event(e)
    assert await tracker.flush() == 1
    [call] = await rows(db)
    assert call.status == "answered" and call.complete
    assert call.caller_name == "Nguyễn Thị Hằng"
    assert (call.category, call.queue, call.priority, call.ivr_choice, call.route) == (
        "medical",
        "medical",
        10,
        "1",
        "ivr",
    )
    assert call.agent_endpoint == "agent01" and call.agent_id == 1
    assert call.wait_s == pytest.approx(1.5)
    assert call.talk_s == pytest.approx(2.1)
    assert call.hangup_cause == "Normal Clearing"
    assert tracker.calls == {}


async def test_completed_calls_are_told_once_written(db: Database) -> None:
    await ensure_agents(db, 1)
    done: list[str] = []
    tracker = CallTracker(db, on_complete=lambda call: done.append(call.uniqueid))
    calls = list(answered_call())
    for e in calls[:-1]:
        tracker.on_event(e)
    await tracker.flush()
    assert done == []  # still talking
    tracker.on_event(calls[-1])
    await tracker.flush()
    assert done == [UID]


async def test_hangup_in_queue_is_abandoned_and_in_menu_is_abandoned_ivr(
    tracker: CallTracker, db: Database
) -> None:
    tracker.on_event(ev("Newchannel", T0))
    tracker.on_event(ev("QueueCallerJoin", T0 + 3, Queue="food", Position="1", Count="1"))
    tracker.on_event(
        ev(
            "QueueCallerAbandon",
            T0 + 9,
            Queue="food",
            Position="1",
            OriginalPosition="1",
            HoldTime="6",
        )
    )
    tracker.on_event(ev("Hangup", T0 + 9, Cause="16"))
    tracker.on_event(ev("Newchannel", T0, uid="2.0"))
    tracker.on_event(ev("Hangup", T0 + 2, uid="2.0", Cause="16"))
    await tracker.flush()
    by_uid = {c.uniqueid: c for c in await rows(db)}
    assert by_uid[UID].status == "abandoned_queue"
    assert by_uid[UID].wait_s == pytest.approx(6)
    assert by_uid["2.0"].status == "abandoned_ivr" and by_uid["2.0"].queue is None


async def test_channels_that_are_not_citizen_calls_are_ignored(
    tracker: CallTracker, db: Database
) -> None:
    tracker.on_event(ev("Newchannel", T0, Context="agents", Exten="s"))
    tracker.on_event(ev("Newchannel", T0, uid="3.0", Exten="600"))
    tracker.on_event(ev("Hangup", T0 + 1, Cause="16"))
    assert await tracker.flush() == 0
    assert await rows(db) == []


async def test_a_call_first_seen_in_the_queue_is_still_recorded(
    tracker: CallTracker, db: Database
) -> None:
    # The service started while this caller was already in the menu.
    for e in list(answered_call())[1:]:
        tracker.on_event(e)
    await tracker.flush()
    [call] = await rows(db)
    assert call.status == "answered" and call.complete and call.category == "medical"


async def test_database_down_loses_nothing(tmp_path: object, db: Database) -> None:
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    tracker = CallTracker(down)
    for e in answered_call():
        tracker.on_event(e)
    with pytest.raises(OSError):
        await tracker.flush()
    assert tracker.pending == 1 and UID in tracker.calls
    await down.dispose()
    await ensure_agents(db, 1)
    tracker.db = db  # the database is back
    assert await tracker.flush() == 1
    [call] = await rows(db)
    assert call.complete and call.status == "answered"
    assert tracker.pending == 0 and tracker.calls == {}


def step(node: str, kind: str, key: str | None = None, at: float = T0) -> IvrStep:
    return IvrStep(node, kind, key, datetime.fromtimestamp(at, UTC))


async def test_menu_steps_are_recorded_with_the_call(tracker: CallTracker, db: Database) -> None:
    # The menu's first step may come before the tracker has seen the Newchannel.
    tracker.ivr_step(UID, step("welcome", "enter"))
    tracker.on_event(ev("Newchannel", T0))
    tracker.ivr_step(UID, step("welcome", "key", "2", T0 + 1))
    tracker.ivr_step(UID, step("aid_district", "enter", at=T0 + 1))
    tracker.ivr_step(UID, step("aid_district", "district", "724", T0 + 2))
    tracker.on_event(ev("QueueCallerJoin", T0 + 3, Queue="food"))
    tracker.on_event(ev("QueueCallerAbandon", T0 + 9, Queue="food", HoldTime="6"))
    tracker.on_event(ev("Hangup", T0 + 9, Cause="16"))
    await tracker.flush()
    [call] = await rows(db)
    assert (call.district_code, call.ivr_outcome, call.ivr_exit_node) == (
        724,
        "transferred",
        "aid_district",
    )
    async with db.session() as s:
        path = (await s.scalars(select(IvrEvent).order_by(IvrEvent.seq))).all()
    assert [(e.seq, e.node, e.kind, e.key) for e in path] == [
        (0, "welcome", "enter", None),
        (1, "welcome", "key", "2"),
        (2, "aid_district", "enter", None),
        (3, "aid_district", "district", "724"),
    ]


@pytest.mark.parametrize(
    ("steps", "status", "outcome", "exit_node"),
    [
        (
            [("welcome", "enter"), ("info_cases", "enter"), ("info_cases", "heard")],
            "self_served",
            "self_served",
            "info_cases",
        ),
        (
            [("welcome", "enter"), ("goodbye", "enter"), ("goodbye", "hangup")],
            "self_served",
            "self_served",
            "goodbye",
        ),
        (
            [("welcome", "enter"), ("medical_severity", "enter")],
            "abandoned_ivr",
            "abandoned",
            "medical_severity",
        ),
        (  # chose a callback at the queue node, heard the confirmation, hung up
            [
                ("welcome", "enter"),
                ("violation", "enter"),
                ("violation", "queue"),
                ("violation", "offer"),
                ("violation", "callback"),
            ],
            "callback",
            "callback",
            "violation",
        ),
        (  # has a callback pending, kept it
            [("welcome", "repeat"), ("welcome", "callback")],
            "callback",
            "callback",
            "welcome",
        ),
        (  # offered a callback, declined it, hung up before reaching the queue
            [("welcome", "enter"), ("violation", "enter"), ("violation", "offer")],
            "abandoned_ivr",
            "abandoned",
            "violation",
        ),
    ],
)
async def test_leaving_inside_the_menu(
    tracker: CallTracker,
    db: Database,
    steps: list[tuple[str, str]],
    status: str,
    outcome: str,
    exit_node: str,
) -> None:
    tracker.on_event(ev("Newchannel", T0))
    for node, kind in steps:
        tracker.ivr_step(UID, step(node, kind))
    tracker.on_event(ev("Hangup", T0 + 9, Cause="16"))
    await tracker.flush()
    [call] = await rows(db)
    assert (call.status, call.ivr_outcome, call.ivr_exit_node) == (status, outcome, exit_node)


async def test_steps_written_once_across_flushes(tracker: CallTracker, db: Database) -> None:
    tracker.on_event(ev("Newchannel", T0))
    tracker.ivr_step(UID, step("welcome", "enter"))
    await tracker.flush()
    tracker.ivr_step(UID, step("welcome", "timeout"))
    tracker.on_event(ev("Hangup", T0 + 9, Cause="16"))
    await tracker.flush()
    async with db.session() as s:
        kinds = (await s.scalars(select(IvrEvent.kind).order_by(IvrEvent.seq))).all()
    assert list(kinds) == ["enter", "timeout"]


async def test_reconcile_after_a_restart_of_the_service(db: Database) -> None:
    """Before: one call waiting, one talking, one in the menu, recorded by the old process.
    While the service was down the talking one ended and a new caller joined a queue."""
    await ensure_agents(db, 1)
    old = CallTracker(db)
    for uid, extra in (("w.1", "queued"), ("t.1", "talking"), ("m.1", "menu")):
        old.on_event(ev("Newchannel", T0, uid=uid))
        if extra != "menu":
            old.on_event(ev("QueueCallerJoin", T0 + 3, uid=uid, Queue="food-724", Position="1"))
        if extra == "talking":
            old.on_event(
                ev(
                    "AgentConnect",
                    T0 + 5,
                    uid=uid,
                    Queue="food-724",
                    MemberName="agent01",
                    Interface="PJSIP/agent01",
                    HoldTime="2",
                    RingTime="1",
                )
            )
    await old.flush()

    new = CallTracker(db)  # the service restarted: nothing in memory
    counts = await new.reconcile(
        entries=[
            {"Queue": "food-724", "Uniqueid": "w.1", "Wait": "40", "CallerIDNum": "0901234567"},
            {"Queue": "medical-718", "Uniqueid": "n.1", "Wait": "12", "CallerIDNum": "0987"},
        ],
        channels=[{"Uniqueid": "w.1"}, {"Uniqueid": "m.1"}, {"Uniqueid": "n.1"}],
        category_of={"medical-718": "medical", "food-724": "food"},
    )
    assert counts == {"adopted": 2, "ended": 1, "found_waiting": 1, "found_in_menu": 0}
    await new.flush()
    by_uid = {c.uniqueid: c for c in await rows(db)}
    assert by_uid["t.1"].status == "answered" and by_uid["t.1"].complete
    assert by_uid["t.1"].hangup_cause == "ended while the service was not listening"
    assert by_uid["w.1"].status == "queued" and not by_uid["w.1"].complete
    assert by_uid["n.1"].status == "queued" and by_uid["n.1"].category == "medical"
    assert by_uid["n.1"].caller_number == "0987"
    # The waiting caller is then answered: the new process finishes the record.
    new.on_event(
        ev(
            "AgentConnect",
            T0 + 60,
            uid="w.1",
            Queue="food-724",
            MemberName="agent01",
            Interface="PJSIP/agent01",
            HoldTime="57",
            RingTime="1",
        )
    )
    new.on_event(ev("Hangup", T0 + 90, uid="w.1", Cause="16", **{"Cause-txt": "Normal"}))
    await new.flush()
    w = {c.uniqueid: c for c in await rows(db)}["w.1"]
    assert (w.status, w.complete, w.caller_name) == ("answered", True, "Nguyễn Thị Hằng")
    assert w.wait_s == 57 and w.talk_s == 30


async def test_a_call_picked_up_mid_way_keeps_what_the_database_knew(db: Database) -> None:
    old = CallTracker(db)
    old.on_event(ev("Newchannel", T0))
    old.ivr_step(UID, step("welcome", "enter", at=T0 + 1))
    await old.flush()
    # The service restarts while the caller is in the menu; FastAGI breaks, the dialplan
    # falls back to the operator queue: the new process first sees the route event.
    new = CallTracker(db)
    new.on_event(route(T0 + 20, "general", "operator", "0", "", "fallback"))
    await new.flush()
    [call] = await rows(db)
    assert call.arrived_at == datetime.fromtimestamp(T0, UTC)  # not the route's time
    assert (call.route, call.queue, call.ivr_exit_node) == ("fallback", "operator", "welcome")


async def test_calls_only_asterisk_saw_are_recovered_from_its_cdr(db: Database) -> None:
    await ensure_agents(db, 1)
    seen = CallTracker(db)
    for e in answered_call():
        seen.on_event(e)
    await seen.flush()
    t0 = datetime.fromtimestamp(T0, UTC)
    cdr = [
        CdrCall(UID, "0901234567", "", t0, t0, "agent01", "Queue"),  # already recorded
        CdrCall("x.1", "0907", "Phạm Văn C", t0, t0, None, "Queue"),
        CdrCall("x.2", "0908", "", t0, t0, "agent01", "Queue"),
        CdrCall("x.3", "0909", "", t0, None, None, "AGI"),  # still alive: not now
    ]
    tracker = CallTracker(db)
    assert await tracker.recover(cdr, alive=["x.3"]) == 2
    await tracker.flush()
    by_uid = {c.uniqueid: c for c in await rows(db)}
    assert by_uid["x.1"].status == "abandoned_queue" and by_uid["x.1"].caller_name == "Phạm Văn C"
    assert by_uid["x.2"].status == "answered" and by_uid["x.2"].agent_id is not None
    assert "x.3" not in by_uid and by_uid[UID].hangup_cause != by_uid["x.1"].hangup_cause
    assert await tracker.recover(cdr, alive=["x.3"]) == 0  # twice: nothing more


async def test_a_redial_is_marked_as_a_repeat_of_the_open_call(db: Database) -> None:
    pending = {"0909999999": "7.0"}  # a number with a callback pending, asked by call 7.0
    tracker = CallTracker(db, pending_callback=pending.get)
    tracker.on_event(ev("Newchannel", T0))
    tracker.on_event(ev("QueueCallerJoin", T0 + 3, Queue="food"))
    # The same number again while the first call waits in the queue: a redial.
    tracker.on_event(ev("Newchannel", T0 + 20, uid="2.0"))
    # A number whose callback is pending: a repeat of the call that asked for it.
    tracker.on_event(ev("Newchannel", T0 + 21, uid="3.0", CallerIDNum="0909999999"))
    # Withheld numbers cannot be told apart; other numbers are new calls.
    tracker.on_event(ev("Newchannel", T0 + 22, uid="4.0", CallerIDNum="<unknown>"))
    tracker.on_event(ev("Newchannel", T0 + 22, uid="5.0", CallerIDNum="<unknown>"))
    tracker.on_event(ev("Newchannel", T0 + 23, uid="6.0", CallerIDNum="0908888888"))
    for uid in (UID, "2.0", "3.0", "4.0", "5.0", "6.0"):
        tracker.on_event(ev("Hangup", T0 + 30, uid=uid, Cause="16"))
    # Once the first call is over, calling again is a new call.
    tracker.on_event(ev("Newchannel", T0 + 40, uid="8.0"))
    await tracker.flush()
    repeats = {c.uniqueid: c.repeat_of for c in await rows(db)}
    assert repeats == {
        UID: None,
        "2.0": UID,
        "3.0": "7.0",
        "4.0": None,
        "5.0": None,
        "6.0": None,
        "8.0": None,
    }
