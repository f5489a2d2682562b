"""A recorded day of the hotline (Wednesday 1 May 2024, Vietnam time) for the statistics
tests: calls, and the state changes of two agents, written out by hand.

Every expected figure in the tests that use it was worked out by hand from the tables below,
not by running the code. Times are Vietnam time (UTC+7); the 08:00 hour in Vietnam is
01:00–02:00 UTC.

Calls (wait = seconds in the queue, talk = seconds talking; agent03 has no state rows):

==== ==================== ============== ======== ====== ==== ====== ==========================
uid  queue (category)     entered        outcome  wait   talk agent  note
==== ==================== ============== ======== ====== ==== ====== ==========================
P1   medical              04-30 23:59:59 answered 10     60   a03    the day before (queue);
                                                                     answered 00:00:09 on 1 May
N1   operator (none→gen.) 00:00:00.0     answered 3      30   a03    category from the queue
M1   medical              08:01:00       answered 10     120  a01    wrap-up 30
M2   emergency (medical)  08:05:00       answered 14.5   200  a02    wrap-up 30
M3   medical-718          08:10:00       answered 18     90   a01    wrap-up 20
M4   medical              08:14:59.9     abandon  30                 last instant of 08:00
M5   medical              08:15:00.0     answered 25     60   a02    first of 08:15; wrap 20
M6   medical              08:20:00       short    3
M7   emergency            08:40:00       answered 20     150  a01    exactly 20 s; wrap-up 10
M8   medical              08:50:00       answered 5      30   a02    repeat of M4; wrap-up 10
M9   medical              09:05:00       abandon  5.0                exactly 5 s: abandoned
M10  medical              09:30:00       answered 15.0   100  a02    exactly 15 s; wrap-up 15
F1   food                 08:02:00       answered 40     180  a03
F2   food-724             08:16:00       answered 8      240  a03
F3   food                 08:20:00       abandon  60
F4   food                 08:21:00       short    4.9
F5   food-724             08:35:00       answered 35     120  a03
F6   food                 08:59:59.999   callback                    no wait counted
F7   food                 09:10:00       answered 2      60   a03
F8   food                 09:20:00       abandon  12
V1   violation            08:05:00       answered 20.5   300  a03
V2   violation            08:25:00       answered 0.5    45   a03
V3   violation            09:40:00       short    1
V4   violation            09:41:00       abandon  30                 repeat of V3
X1   — (menu only)        arrived 08:30  abandoned in the IVR: never offered
X2   — (menu only)        arrived 08:31  self-served: never offered
==== ==================== ============== ======== ====== ==== ====== ==========================

Agent agent01 (a01): 07:50 idle (logs in); M1 ring 08:01:05, talk 08:01:10, wrap-up 08:03:10,
idle 08:03:40; M3 ring 08:10:15, talk 08:10:18, wrap-up 08:11:48, idle 08:12:08; pause
"break" 08:13:00–08:28:00 (crosses 08:15); M7 ring 08:40:17, talk 08:40:20, wrap-up
08:42:50, idle 08:43:00; pause "meal" 09:00–09:45; idle; logged out 09:50.

Agent agent02 (a02): 07:55 idle; M2 ring 08:05:10, talk 08:05:14.5, wrap-up 08:08:34.5,
idle 08:09:04.5; M5 ring 08:15:20, talk 08:15:25, wrap-up 08:16:25, idle 08:16:45; pause
"training" 08:30–08:45; M8 ring 08:50:02, talk 08:50:05, wrap-up 08:50:35, idle 08:50:45;
M10 ring 09:30:12, talk 09:30:15, wrap-up 09:31:55; pause "break" 09:32:10–09:42:10; idle,
still logged in at the end (``NOW`` = 12:00).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from stats.demand import VIETNAM
from store.db import Database
from store.models import Agent, AgentStateChange, Call, CallStatus
from store.seed import ensure_agents

__all__ = ["DAY", "NOW", "load_recorded_day", "vn"]


def vn(clock: str, day: int = 1, month: int = 5) -> datetime:
    """``"08:14:59.9"`` on 1 May 2024 in Vietnam, as an aware datetime."""
    hms = clock.split(":")
    seconds = float(hms[2]) if len(hms) > 2 else 0.0
    whole = int(seconds)
    return datetime(
        2024,
        month,
        day,
        int(hms[0]),
        int(hms[1]),
        whole,
        round((seconds - whole) * 1_000_000),
        tzinfo=VIETNAM,
    )


DAY = vn("00:00")  # = 2024-04-30 17:00 UTC
NOW = vn("12:00")

ANSWERED, ABANDON, SHORT, CALLBACK = "answered", "abandon", "short", "callback"

# uid, queue, category (None: missed), entered, outcome, wait, talk, agent endpoint, repeat of
CALLS: list[tuple[str, str, str | None, datetime, str, float | None, float, str, str | None]] = [
    ("P1", "medical", "medical", vn("23:59:59", 30, 4), ANSWERED, 10, 60, "agent03", None),
    ("N1", "operator", None, vn("00:00:00.0"), ANSWERED, 3, 30, "agent03", None),
    ("M1", "medical", "medical", vn("08:01:00"), ANSWERED, 10, 120, "agent01", None),
    ("M2", "emergency", "medical", vn("08:05:00"), ANSWERED, 14.5, 200, "agent02", None),
    ("M3", "medical-718", "medical", vn("08:10:00"), ANSWERED, 18, 90, "agent01", None),
    ("M4", "medical", "medical", vn("08:14:59.9"), ABANDON, 30, 0, "", None),
    ("M5", "medical", "medical", vn("08:15:00.0"), ANSWERED, 25, 60, "agent02", None),
    ("M6", "medical", "medical", vn("08:20:00"), SHORT, 3, 0, "", None),
    ("M7", "emergency", "medical", vn("08:40:00"), ANSWERED, 20, 150, "agent01", None),
    ("M8", "medical", "medical", vn("08:50:00"), ANSWERED, 5, 30, "agent02", "M4"),
    ("M9", "medical", "medical", vn("09:05:00"), ABANDON, 5.0, 0, "", None),
    ("M10", "medical", "medical", vn("09:30:00"), ANSWERED, 15.0, 100, "agent02", None),
    ("F1", "food", "food", vn("08:02:00"), ANSWERED, 40, 180, "agent03", None),
    ("F2", "food-724", "food", vn("08:16:00"), ANSWERED, 8, 240, "agent03", None),
    ("F3", "food", "food", vn("08:20:00"), ABANDON, 60, 0, "", None),
    ("F4", "food", "food", vn("08:21:00"), SHORT, 4.9, 0, "", None),
    ("F5", "food-724", "food", vn("08:35:00"), ANSWERED, 35, 120, "agent03", None),
    ("F6", "food", "food", vn("08:59:59.999"), CALLBACK, None, 0, "", None),
    ("F7", "food", "food", vn("09:10:00"), ANSWERED, 2, 60, "agent03", None),
    ("F8", "food", "food", vn("09:20:00"), ABANDON, 12, 0, "", None),
    ("V1", "violation", "violation", vn("08:05:00"), ANSWERED, 20.5, 300, "agent03", None),
    ("V2", "violation", "violation", vn("08:25:00"), ANSWERED, 0.5, 45, "agent03", None),
    ("V3", "violation", "violation", vn("09:40:00"), SHORT, 1, 0, "", None),
    ("V4", "violation", "violation", vn("09:41:00"), ABANDON, 30, 0, "", "V3"),
]

# endpoint, clock, state, reason, call
STATES: list[tuple[str, str, str, str | None, str | None]] = [
    ("agent01", "07:50:00", "idle", None, None),
    ("agent01", "08:01:05", "ringing", None, "M1"),
    ("agent01", "08:01:10", "on_call", None, "M1"),
    ("agent01", "08:03:10", "wrapup", None, "M1"),
    ("agent01", "08:03:40", "idle", None, None),
    ("agent01", "08:10:15", "ringing", None, "M3"),
    ("agent01", "08:10:18", "on_call", None, "M3"),
    ("agent01", "08:11:48", "wrapup", None, "M3"),
    ("agent01", "08:12:08", "idle", None, None),
    ("agent01", "08:13:00", "paused", "break", None),
    ("agent01", "08:28:00", "idle", None, None),
    ("agent01", "08:40:17", "ringing", None, "M7"),
    ("agent01", "08:40:20", "on_call", None, "M7"),
    ("agent01", "08:42:50", "wrapup", None, "M7"),
    ("agent01", "08:43:00", "idle", None, None),
    ("agent01", "09:00:00", "paused", "meal", None),
    ("agent01", "09:45:00", "idle", None, None),
    ("agent01", "09:50:00", "logged_out", None, None),
    ("agent02", "07:55:00", "idle", None, None),
    ("agent02", "08:05:10", "ringing", None, "M2"),
    ("agent02", "08:05:14.5", "on_call", None, "M2"),
    ("agent02", "08:08:34.5", "wrapup", None, "M2"),
    ("agent02", "08:09:04.5", "idle", None, None),
    ("agent02", "08:15:20", "ringing", None, "M5"),
    ("agent02", "08:15:25", "on_call", None, "M5"),
    ("agent02", "08:16:25", "wrapup", None, "M5"),
    ("agent02", "08:16:45", "idle", None, None),
    ("agent02", "08:30:00", "paused", "training", None),
    ("agent02", "08:45:00", "idle", None, None),
    ("agent02", "08:50:02", "ringing", None, "M8"),
    ("agent02", "08:50:05", "on_call", None, "M8"),
    ("agent02", "08:50:35", "wrapup", None, "M8"),
    ("agent02", "08:50:45", "idle", None, None),
    ("agent02", "09:30:12", "ringing", None, "M10"),
    ("agent02", "09:30:15", "on_call", None, "M10"),
    ("agent02", "09:31:55", "wrapup", None, "M10"),
    ("agent02", "09:32:10", "paused", "break", None),
    ("agent02", "09:42:10", "idle", None, None),
]


def call_row(
    uid: str,
    queue: str,
    category: str | None,
    entered: datetime,
    outcome: str,
    wait: float | None,
    talk: float,
    agent_id: int | None,
    repeat_of: str | None,
) -> Call:
    left = entered + timedelta(seconds=wait or 45)
    call = Call(
        uniqueid=uid,
        linkedid=uid,
        caller_number=f"0912{uid}",
        arrived_at=entered - timedelta(seconds=20),
        queue_entered_at=entered,
        category=category,
        queue=queue,
        wait_s=wait,
        repeat_of=repeat_of,
        complete=True,
    )
    if outcome == ANSWERED:
        call.status = CallStatus.ANSWERED.value
        call.answered_at = left
        call.talk_s = talk
        call.ended_at = left + timedelta(seconds=talk)
        call.agent_id = agent_id
    else:
        call.status = {
            ABANDON: CallStatus.ABANDONED_QUEUE.value,
            SHORT: CallStatus.ABANDONED_QUEUE.value,
            CALLBACK: CallStatus.CALLBACK.value,
        }[outcome]
        call.ended_at = left
    return call


async def load_recorded_day(db: Database) -> dict[str, int]:
    """Writes the day; returns the agents' ids by endpoint."""
    await ensure_agents(db, 3)
    async with db.session() as session:
        ids = {e: i for e, i in await session.execute(select(Agent.endpoint, Agent.id))}
        for uid, queue, category, entered, outcome, wait, talk, agent, repeat in CALLS:
            session.add(
                call_row(uid, queue, category, entered, outcome, wait, talk, ids.get(agent), repeat)
            )
        for when, status in ((vn("08:30"), "abandoned_ivr"), (vn("08:31"), "self_served")):
            session.add(
                Call(
                    uniqueid=f"X{when.minute}",
                    linkedid="x",
                    caller_number="0900000000",
                    arrived_at=when,
                    ended_at=when + timedelta(seconds=40),
                    status=status,
                    complete=True,
                )
            )
        for endpoint, clock, state, reason, call in STATES:
            session.add(
                AgentStateChange(
                    agent_id=ids[endpoint],
                    at=vn(clock),
                    state=state,
                    reason=reason,
                    call_uniqueid=call,
                )
            )
        await session.commit()
    return ids
