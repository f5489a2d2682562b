"""The callback service's state machine on a real database, with a fake PBX and a fake
clock; the events are the ones a real Asterisk 22 sent (tests/integration/test_callbacks.py
drives the same paths on a real Asterisk with SIPp)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ivr.ports import CallbackRefusal, CallbackRequest
from pbx.events import AmiEvent, parse_event
from queues.callback_limits import CallbackCaps
from queues.callbacks import CallbackService
from queues.ports import CallbackNotFound, CallbackStateError
from store.db import Database
from store.models import Callback
from tests.queues.fakes import FakePbx

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
NUMBER = "0903000002"


@dataclass
class FakeLoad:
    waits: dict[str, float | None] = field(default_factory=dict)

    def estimated_wait_s(self, queue: str) -> float | None:
        return self.waits.get(queue, 0.0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Env:
    db: Database
    pbx: FakePbx
    load: FakeLoad
    clock: Clock
    service: CallbackService

    def restart(self) -> CallbackService:
        """A new service on the same database and Asterisk, as after a service restart."""
        self.service = make_service(self.db, self.pbx, self.load, self.clock)
        return self.service


def make_service(db: Database, pbx: FakePbx, load: FakeLoad, clock: Clock) -> CallbackService:
    return CallbackService(
        db, pbx, load, threshold_s=120, attempts=2, retry_s=60, clock=clock, tick_s=0.01
    )


@pytest.fixture
async def env(db: Database) -> Env:
    pbx, load, clock = FakePbx(), FakeLoad(), Clock()
    service = make_service(db, pbx, load, clock)
    await service.start()
    return Env(db, pbx, load, clock, service)


def placeholder(callback_id: int, n: int = 0, side: str = "2") -> str:
    return f"Local/cb{callback_id}@hotline-callback-{n:08x};{side}"


def ev(name: str, channel: str, **headers: str) -> AmiEvent:
    base = {
        "Event": name,
        "Channel": channel,
        "Uniqueid": f"uid-{channel}",
        "Linkedid": f"uid-{channel}",
        "CallerIDNum": NUMBER,
        "Context": "hotline-callback",
        "Exten": "cb1",
    }
    base.update(headers)
    return parse_event(base, 0.0)


def joined(callback_id: int, n: int = 0) -> AmiEvent:
    return ev("QueueCallerJoin", placeholder(callback_id, n), Queue="violation", Position="2")


def taken(callback_id: int, agent: str = "agent01") -> AmiEvent:
    return ev(
        "AgentConnect",
        placeholder(callback_id),
        Queue="violation",
        MemberName=agent,
        Interface=f"PJSIP/{agent}",
    )


def dialled(callback_id: int, status: str) -> AmiEvent:
    return ev(
        "UserEvent",
        placeholder(callback_id, side="1"),
        UserEvent="HotlineCallback",
        **{"Hotline-Callback": str(callback_id), "Hotline-Status": status},
    )


def hangup(callback_id: int, n: int = 0) -> AmiEvent:
    return ev("Hangup", placeholder(callback_id, n), Cause="16")


async def ask(
    env: Env,
    number: str = NUMBER,
    uid: str = "1.1",
    priority: int = 0,
    since: datetime | None = None,
) -> int:
    """Record a callback whose caller would have joined the queue at ``since`` (now)."""
    ok = await env.service.request(
        CallbackRequest(
            uid, number, "violation", "violation", priority, None, since or env.clock.now
        )
    )
    assert ok
    async with env.db.session() as s:
        row = await s.scalar(select(Callback).where(Callback.call_uniqueid == uid))
    assert row is not None
    return row.id


async def row_of(env: Env, callback_id: int) -> Callback:
    async with env.db.session() as s:
        row = await s.get(Callback, callback_id)
    assert row is not None
    return row


async def placed(env: Env, callback_id: int, n: int = 0) -> None:
    """Let the service make the placeholder and see it join its queue."""
    await env.service.step()
    env.service.on_event(joined(callback_id, n))
    await env.service.step()


# -- the offer ------------------------------------------------------------------------------


async def test_offered_only_when_the_wait_is_long_and_the_number_callable(env: Env) -> None:
    svc, env.load.waits = env.service, {"food": 300.0, "violation": 60.0, "medical": None}
    assert svc.offer("food", NUMBER) is not None
    assert svc.offer("food", NUMBER).estimated_wait_s == 300.0  # type: ignore[union-attr]
    assert svc.offer("violation", NUMBER) is None  # 60 s: under the threshold
    offer = svc.offer("medical", NUMBER)  # nobody can answer: no estimate, offered
    assert offer is not None and offer.estimated_wait_s is None
    assert svc.offer("food", "") is None  # withheld
    for uncallable in ("anonymous", "12", "<unknown>"):
        refused = svc.offer("food", uncallable)
        assert refused is not None and refused.refused is CallbackRefusal.NUMBER
    env.load.waits["emergency"] = 900.0  # life-threatening: stays on the line
    assert svc.offer("emergency", NUMBER) is None
    svc.threshold_s = -1  # switched off
    assert svc.offer("food", NUMBER) is None


async def test_premium_international_and_short_numbers_are_never_called_back(env: Env) -> None:
    # Whatever speaks to the FastAGI port may ask with a forged caller id: request() checks.
    env.load.waits["violation"] = 600.0
    for i, number in enumerate(("19001234", "1900123456", "18001234", "+12025550123", "123")):
        offer = env.service.offer("violation", number)
        assert offer is not None and offer.refused is CallbackRefusal.NUMBER, number
        request = CallbackRequest(f"9.{i}", number, "violation", "violation", 0, None, T0)
        assert await env.service.request(request) is False, number
    await env.service.step()
    async with env.db.session() as s:
        assert (await s.scalars(select(Callback))).all() == []
    assert env.pbx.originated == []


async def test_callbacks_are_capped_per_number_and_per_hour(db: Database) -> None:
    pbx, load, clock = FakePbx(), FakeLoad({"violation": 600.0}), Clock()

    def service() -> CallbackService:
        caps = CallbackCaps(per_number=2, number_window=timedelta(days=1), per_hour=3)
        return CallbackService(db, pbx, load, threshold_s=120, clock=clock, caps=caps)

    svc = service()
    await svc.start()
    env = Env(db, pbx, load, clock, svc)
    for uid in ("1.1", "1.2"):  # twice for one number, each cancelled before the next
        await svc.cancel(await ask(env, uid=uid), "supervisor")
        clock.advance(60)
    offer = svc.offer("violation", NUMBER)
    assert offer is not None and offer.refused is CallbackRefusal.LIMIT
    third = CallbackRequest("1.3", NUMBER, "violation", "violation", 0, None, clock.now)
    assert await svc.request(third) is False
    await ask(env, number="0903000009", uid="2.1")  # the third of the hour
    late = CallbackRequest("2.2", "0903000010", "violation", "violation", 0, None, clock.now)
    assert await svc.request(late) is False  # the hour's cap
    # A restarted service counts what the database holds.
    again = service()
    await again.start()
    assert await again.request(third) is False
    clock.advance(3600)  # a new hour: others may ask again, this number not before a day
    assert await again.request(late) is True
    assert await again.request(third) is False
    clock.advance(24 * 3600)
    assert await again.request(third) is True


async def test_a_number_with_a_callback_pending_is_not_offered_another(env: Env) -> None:
    env.load.waits["violation"] = 600.0
    first = await ask(env)
    assert env.service.offer("violation", NUMBER) is None
    pending = env.service.pending(NUMBER)
    assert pending is not None and pending.queue == "violation"
    assert env.service.pending_call(NUMBER) == "1.1"
    assert env.service.pending("0911111111") is None
    assert not await env.service.request(
        CallbackRequest("1.2", NUMBER, "violation", "violation", 0, None, env.clock.now)
    )
    assert (await row_of(env, first)).status == "waiting"


# -- keeping the place ----------------------------------------------------------------------


async def test_the_placeholder_enters_the_same_queue_behind_those_who_came_first(
    env: Env,
) -> None:
    # Two callers wait in the queue: one since 40 s, one of higher priority since 5 s.
    env.pbx.entries["violation"] = [
        {"Channel": "PJSIP/pstn-1", "Priority": "10", "Wait": "5"},
        {"Channel": "PJSIP/pstn-2", "Priority": "0", "Wait": "40"},
    ]
    callback_id = await ask(env)
    await env.service.step()
    [call] = env.pbx.originated
    assert call["channel"] == f"Local/cb{callback_id}@hotline-callback/n"
    assert (call["context"], call["exten"]) == ("hotline-callback-dial", "s")
    assert (call["CB_QUEUE"], call["CB_PRIO"], call["CB_NUMBER"]) == ("violation", "0", NUMBER)
    assert call["CB_POSITION"] == "3"  # the back: both are ahead
    assert call["caller_id"] == f'"Gọi lại {NUMBER}" <{NUMBER}>'
    assert call["ring_timeout_ms"] == 12 * 3600 * 1000
    env.service.on_event(joined(callback_id))
    await env.service.step()
    row = await row_of(env, callback_id)
    assert row.status == "waiting" and row.next_attempt_at is None
    assert row.placeholder_uniqueid == f"uid-{placeholder(callback_id)}"
    await env.service.step()
    assert len(env.pbx.originated) == 1  # one place only


async def test_an_earlier_callback_s_remade_placeholder_stays_ahead(env: Env) -> None:
    # Callback "other" was asked for at T0; its placeholder was just made again (Wait 0).
    other = await ask(env, number="0911111111", uid="1.9")
    env.pbx.entries["violation"] = [{"Channel": placeholder(other), "Priority": "0", "Wait": "0"}]
    env.clock.advance(10)
    # Asked after "other", before its remake: behind it, though its Wait says otherwise.
    callback_id = await ask(env, since=env.clock.now - timedelta(seconds=5))
    await env.service.step()
    positions = {c["CB_ID"]: c["CB_POSITION"] for c in env.pbx.originated}
    assert positions == {str(other): "1", str(callback_id): "2"}


# -- calling the citizen --------------------------------------------------------------------


async def test_agent_takes_the_place_and_the_citizen_answers(env: Env) -> None:
    callback_id = await ask(env)
    await placed(env, callback_id)
    env.service.on_event(taken(callback_id, "agent07"))
    await env.service.step()
    row = await row_of(env, callback_id)
    assert (row.status, row.agent_endpoint) == ("calling", "agent07")
    assert env.service.pending(NUMBER) is not None  # still pending while being called
    env.clock.advance(5)
    env.service.on_event(dialled(callback_id, "answered"))
    await env.service.step()
    row = await row_of(env, callback_id)
    assert (row.status, row.result, row.attempts) == ("completed", "answered", 0)
    assert row.completed_at == env.clock.now
    assert env.service.pending(NUMBER) is None
    # When the call ends: Dial's own status, then the placeholder hangs up. Nothing changes.
    env.service.on_event(dialled(callback_id, "ANSWER"))
    env.service.on_event(hangup(callback_id))
    await env.service.step()
    assert (await row_of(env, callback_id)).status == "completed"
    assert len(env.pbx.originated) == 1 and env.pbx.hung_up == []


async def test_no_answer_retries_at_the_front_then_fails(env: Env) -> None:
    callback_id = await ask(env)
    await placed(env, callback_id)
    env.service.on_event(taken(callback_id))
    env.service.on_event(dialled(callback_id, "NOANSWER"))
    env.service.on_event(hangup(callback_id))
    await env.service.step()
    row = await row_of(env, callback_id)
    assert (row.status, row.attempts, row.result) == ("retry", 1, "noanswer")
    assert row.next_attempt_at == T0 + timedelta(seconds=60)
    # Not before its time; the timer is in the database: a restarted service keeps it.
    env.clock.advance(59)
    await env.service.step()
    assert len(env.pbx.originated) == 1
    await env.restart().start()
    # Callers who came after it wait now; at its time it goes ahead of them.
    env.pbx.entries["violation"] = [{"Channel": "PJSIP/pstn-9", "Priority": "0", "Wait": "30"}]
    env.clock.advance(1)
    await env.service.step()
    assert [c["CB_POSITION"] for c in env.pbx.originated] == ["1", "1"]  # ahead of pstn-9
    assert (await row_of(env, callback_id)).status == "waiting"
    env.service.on_event(joined(callback_id, 1))
    env.service.on_event(taken(callback_id))
    env.service.on_event(dialled(callback_id, "BUSY"))
    await env.service.step()
    row = await row_of(env, callback_id)
    assert (row.status, row.attempts, row.result) == ("failed", 2, "busy")
    assert row.next_attempt_at is None and row.completed_at == env.clock.now
    env.clock.advance(3600)
    await env.service.step()
    assert len(env.pbx.originated) == 2


async def test_an_agent_who_hangs_up_first_does_not_use_an_attempt(env: Env) -> None:
    callback_id = await ask(env)
    await placed(env, callback_id)
    env.service.on_event(taken(callback_id))
    env.service.on_event(dialled(callback_id, "CANCEL"))
    env.service.on_event(hangup(callback_id))
    await env.service.step()  # back in the queue at once
    row = await row_of(env, callback_id)
    assert (row.status, row.attempts, row.result) == ("waiting", 0, "agent_left")
    assert len(env.pbx.originated) == 2


# -- places lost, doubled, left over --------------------------------------------------------


async def test_a_lost_placeholder_is_made_again(env: Env) -> None:
    callback_id = await ask(env)
    await placed(env, callback_id)
    env.service.on_event(hangup(callback_id))  # e.g. hung up by hand in the CLI
    await env.service.step()
    await env.service.step()
    assert len(env.pbx.originated) == 2


async def test_a_second_placeholder_for_one_callback_is_hung_up(env: Env) -> None:
    callback_id = await ask(env)
    await placed(env, callback_id)
    env.service.on_event(joined(callback_id, n=7))
    await env.service.step()
    assert env.pbx.hung_up == [placeholder(callback_id, 7)]
    env.service.on_event(hangup(callback_id, n=7))  # the extra one going: no new place
    await env.service.step()
    assert len(env.pbx.originated) == 1


async def test_a_placeholder_that_never_joins_is_made_again(env: Env) -> None:
    callback_id = await ask(env)
    await env.service.step()
    env.clock.advance(31)
    await env.service.step()  # noticed
    await env.service.step()  # made again
    assert len(env.pbx.originated) == 2
    env.service.on_event(joined(callback_id, 1))
    await env.service.step()
    assert (await row_of(env, callback_id)).next_attempt_at is None


async def test_asterisk_unreachable_delays_the_placeholder(env: Env) -> None:
    env.pbx.down = True
    callback_id = await ask(env)
    await env.service.step()
    assert (await row_of(env, callback_id)).next_attempt_at == T0 + timedelta(seconds=5)
    env.pbx.down = False
    await env.service.step()
    assert env.pbx.originated == []
    env.clock.advance(5)
    await env.service.step()
    assert len(env.pbx.originated) == 1


# -- cancelled ------------------------------------------------------------------------------


async def test_a_supervisor_cancels_and_the_place_is_freed(env: Env) -> None:
    callback_id = await ask(env)
    await placed(env, callback_id)
    await env.service.cancel(callback_id, "boss")
    row = await row_of(env, callback_id)
    assert (row.status, row.result) == ("cancelled", "cancelled by boss")
    assert env.pbx.hung_up == [placeholder(callback_id)]
    await env.service.cancel(callback_id, "boss")  # again: nothing more
    assert env.pbx.hung_up == [placeholder(callback_id)]
    env.service.on_event(hangup(callback_id))
    await env.service.step()
    assert len(env.pbx.originated) == 1
    assert env.service.pending(NUMBER) is None
    with pytest.raises(CallbackNotFound):
        await env.service.cancel(999, "boss")


async def test_completed_and_ringing_callbacks_cannot_be_cancelled(env: Env) -> None:
    callback_id = await ask(env)
    await placed(env, callback_id)
    env.service.on_event(taken(callback_id))
    await env.service.step()
    with pytest.raises(CallbackStateError, match="being called back right now"):
        await env.service.cancel(callback_id, "boss")
    env.service.on_event(dialled(callback_id, "answered"))
    await env.service.step()
    with pytest.raises(CallbackStateError, match="completed already"):
        await env.service.cancel(callback_id, "boss")


async def test_a_placeholder_of_a_cancelled_callback_is_hung_up_when_it_turns_up(
    env: Env,
) -> None:
    callback_id = await ask(env)
    await env.service.step()  # Originate sent...
    await env.service.cancel(callback_id, "boss")  # ...cancelled before it joined
    env.service.on_event(joined(callback_id))
    await env.service.step()
    assert env.pbx.hung_up == [placeholder(callback_id)]


async def test_the_citizen_who_got_through_on_a_call_is_not_called_back(env: Env) -> None:
    callback_id = await ask(env)
    await placed(env, callback_id)
    citizen = ev(
        "AgentConnect",
        "PJSIP/pstn-00000009",
        Queue="violation",
        MemberName="agent02",
        Interface="PJSIP/agent02",
        Context="citizens",
        Exten="1022",
    )
    env.service.on_event(citizen)
    await env.service.step()
    row = await row_of(env, callback_id)
    assert (row.status, row.result) == ("cancelled", "served")
    assert env.pbx.hung_up == [placeholder(callback_id)]


# -- after a restart ------------------------------------------------------------------------


async def test_reconcile_keeps_places_that_survived_and_remakes_lost_ones(env: Env) -> None:
    kept = await ask(env, number="0911000001", uid="1.1")
    lost = await ask(env, number="0911000002", uid="1.2")
    ringing = await ask(env, number="0911000003", uid="1.3")
    gone = await ask(env, number="0911000004", uid="1.4")
    for n, callback_id in enumerate((kept, lost, ringing, gone)):
        await placed(env, callback_id, n)
    for callback_id in (ringing, gone):
        env.service.on_event(taken(callback_id))
    await env.service.step()
    # The service restarts; meanwhile an agent took "kept" too, and "gone"'s call ended
    # without the service hearing how.
    service = env.restart()
    await service.start()
    env.pbx.live_channels = [
        {"Channel": placeholder(kept, 0), "ChannelStateDesc": "Up"},
        {"Channel": placeholder(kept, 0, side="1"), "ChannelStateDesc": "Up"},
        {"Channel": placeholder(ringing, 2, side="1"), "ChannelStateDesc": "Up"},
        {"Channel": "PJSIP/agent01-00000001", "ChannelStateDesc": "Up"},
    ]
    await service.reconcile()
    await service.step()
    status = {i: (await row_of(env, i)).status for i in (kept, lost, ringing, gone)}
    assert status == {kept: "calling", lost: "waiting", ringing: "calling", gone: "waiting"}
    assert (await row_of(env, gone)).result == "lost"
    remade = [c["CB_ID"] for c in env.pbx.originated[4:]]
    assert sorted(remade) == sorted([str(lost), str(gone)])


async def test_changes_wait_for_a_database_that_is_down(env: Env) -> None:
    callback_id = await ask(env)
    await placed(env, callback_id)
    up = env.service.db
    env.service.db = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    env.service.on_event(taken(callback_id))
    with pytest.raises(OSError):
        await env.service.step()
    assert await env.service.flush() == 1  # at shutdown: still kept, and said so
    await env.service.db.dispose()
    env.service.db = up
    assert await env.service.flush() == 0
    assert (await row_of(env, callback_id)).status == "calling"


async def test_while_asterisk_is_down_one_try_a_round_not_one_per_callback(env: Env) -> None:
    first = await ask(env, number="0911000001", uid="1.1")
    second = await ask(env, number="0911000002", uid="1.2")
    env.pbx.down = True
    await env.service.step()
    rows = [await row_of(env, i) for i in (first, second)]
    assert [r.next_attempt_at for r in rows] == [T0 + timedelta(seconds=5), T0]
    env.pbx.down = False
    env.clock.advance(5)
    await env.service.step()
    assert sorted(c["CB_ID"] for c in env.pbx.originated) == sorted([str(first), str(second)])
