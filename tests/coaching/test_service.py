"""Coaching: a supervisor's phone joins an agent's call, changes mode, leaves; what is
audited, and what the agent is told under each policy (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import select

from coaching.errors import CoachingConflict, InvalidCoaching, NotOnCall, PbxDown, SessionNotFound
from coaching.service import CoachingParams, CoachingService, NotifyPolicy, Who, agent_told
from live.hub import Audience, Viewer
from pbx.recording_signals import SpyMode
from store.db import Database
from store.models import Agent, AuditEntry
from store.seed import ensure_agents
from store.users import create_user
from tests.coaching.fakes import FakeAgents, FakeSpyPbx, channel_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    def __init__(self, db: Database, boss: Who, policy: NotifyPolicy = "coaching") -> None:
        self.db = db
        self.boss = boss  # the supervisor who acts
        self.pbx = FakeSpyPbx()
        self.agents = FakeAgents()
        self.clock = Clock()
        self.events: list[tuple[str, dict[str, Any], Audience]] = []
        self.service = CoachingService(
            db,
            self.pbx,
            self.agents,
            self.pbx,
            CoachingParams(ring_s=30, notify_agent=policy, phone_count=4),
            publish=self.publish,
            clock=self.clock,
        )

    def publish(self, kind: str, data: Mapping[str, Any], audience: Audience) -> None:
        self.events.append((kind, dict(data), audience))

    def on_call(self, endpoint: str) -> None:
        self.agents.on_call[endpoint] = f"1.{endpoint}"
        self.pbx.agent_channels[channel_of(endpoint)] = f"1.{endpoint}"

    def seen_by_agent(self, agent_id: int) -> list[dict[str, Any]]:
        viewer = Viewer(role="agent", agent_id=agent_id)
        return [d for k, d, a in self.events if k == "coaching" and a.admits(viewer)]

    def seen_by_supervisors(self) -> list[dict[str, Any]]:
        viewer = Viewer(role="supervisor")
        return [d for k, d, a in self.events if k == "coaching" and a.admits(viewer)]

    async def audit(self) -> list[AuditEntry]:
        async with self.db.session() as s:
            return list((await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


async def agent_id(db: Database, endpoint: str) -> int:
    async with db.session() as s:
        found = await s.scalar(select(Agent.id).where(Agent.endpoint == endpoint))
    assert found is not None
    return found


async def a_supervisor(db: Database) -> Who:
    user, _ = await create_user(db, name="Trần Giám Sát", role="supervisor")
    return Who(user.id, user.name)


@pytest.fixture
async def rig(db: Database) -> Rig:
    await ensure_agents(db, 3)
    return Rig(db, await a_supervisor(db))


async def test_whisper_rings_the_phone_on_the_agents_leg_and_is_audited(rig: Rig) -> None:
    rig.on_call("agent01")
    a1 = await agent_id(rig.db, "agent01")

    s = await rig.service.begin(agent_id=a1, mode=SpyMode.WHISPER, phone="sup02", by=rig.boss)

    assert rig.pbx.calls == [("spy", "sup02", channel_of("agent01"), "whisper", "30")]
    assert s.spy_channel.startswith("PJSIP/sup02-")
    assert (s.agent_id, s.agent_endpoint, s.mode, s.by_name) == (
        a1,
        "agent01",
        SpyMode.WHISPER,
        "Trần Giám Sát",
    )
    [entry] = await rig.audit()
    assert (entry.action, entry.target, entry.user_id, entry.user_name) == (
        "monitor_start",
        f"agent:{a1}",
        rig.boss.user_id,
        "Trần Giám Sát",
    )
    assert entry.latency_ms is not None and entry.latency_ms >= 0
    assert json.loads(entry.detail)["mode"] == "whisper"
    assert rig.seen_by_agent(a1) == [{"agent_id": a1, "mode": "whisper", "active": True}]
    [staff] = rig.seen_by_supervisors()
    assert staff["active"] is True and staff["phone"] == "sup02" and staff["id"] == s.id


async def test_listening_is_never_told_to_the_agent_under_the_coaching_policy(rig: Rig) -> None:
    rig.on_call("agent01")
    a1 = await agent_id(rig.db, "agent01")
    other = await agent_id(rig.db, "agent02")

    s = await rig.service.begin(agent_id=a1, mode=SpyMode.LISTEN, phone="sup01", by=rig.boss)
    assert rig.seen_by_agent(a1) == []  # not even an event saying "nothing"

    await rig.service.change_mode(s.id, SpyMode.WHISPER, by=rig.boss)
    assert rig.seen_by_agent(a1) == [{"agent_id": a1, "mode": "whisper", "active": True}]

    await rig.service.change_mode(s.id, SpyMode.LISTEN, by=rig.boss)
    assert rig.seen_by_agent(a1)[-1] == {"agent_id": a1, "mode": None, "active": False}

    await rig.service.stop(s.id, by=rig.boss)
    assert len(rig.seen_by_agent(a1)) == 2  # already told it ended: nothing more
    assert rig.seen_by_agent(other) == []  # another agent hears of none of it
    assert [e.action for e in await rig.audit()] == [
        "monitor_start",
        "monitor_mode",
        "monitor_mode",
        "monitor_stop",
    ]
    assert [c[0] for c in rig.pbx.calls] == ["spy", "change_mode", "change_mode", "stop"]


@pytest.mark.parametrize(
    ("policy", "mode", "told"),
    [
        ("never", SpyMode.BARGE, False),
        ("never", SpyMode.WHISPER, False),
        ("coaching", SpyMode.LISTEN, False),
        ("coaching", SpyMode.WHISPER, True),
        ("coaching", SpyMode.BARGE, True),
        ("always", SpyMode.LISTEN, True),
    ],
)
async def test_the_policy_decides_what_the_agent_is_told(
    db: Database, policy: NotifyPolicy, mode: SpyMode, told: bool
) -> None:
    await ensure_agents(db, 1)
    rig = Rig(db, await a_supervisor(db), policy)
    rig.on_call("agent01")
    a1 = await agent_id(db, "agent01")

    s = await rig.service.begin(agent_id=a1, mode=mode, phone="sup01", by=rig.boss)
    await rig.service.stop(s.id, by=rig.boss)

    assert agent_told(policy, mode) is told
    expected = (
        [
            {"agent_id": a1, "mode": mode.value, "active": True},
            {"agent_id": a1, "mode": None, "active": False},
        ]
        if told
        else []
    )
    assert rig.seen_by_agent(a1) == expected
    assert [d["active"] for d in rig.seen_by_supervisors()] == [True, False]


async def test_refusals(rig: Rig) -> None:
    a1 = await agent_id(rig.db, "agent01")
    a2 = await agent_id(rig.db, "agent02")
    with pytest.raises(NotOnCall):
        await rig.service.begin(agent_id=a1, mode=SpyMode.LISTEN, phone="sup01", by=rig.boss)
    with pytest.raises(InvalidCoaching, match="sup01, sup02, sup03, sup04"):
        await rig.service.begin(agent_id=a1, mode=SpyMode.LISTEN, phone="sup05", by=rig.boss)
    with pytest.raises(SessionNotFound):
        await rig.service.begin(agent_id=9999, mode=SpyMode.LISTEN, phone="sup01", by=rig.boss)

    rig.on_call("agent01")
    rig.on_call("agent02")
    await rig.service.begin(agent_id=a1, mode=SpyMode.LISTEN, phone="sup01", by=rig.boss)
    with pytest.raises(CoachingConflict, match="agent01"):
        await rig.service.begin(agent_id=a2, mode=SpyMode.LISTEN, phone="sup01", by=rig.boss)

    # The live state says on a call, Asterisk has no such channel any more.
    del rig.pbx.agent_channels[channel_of("agent02")]
    with pytest.raises(NotOnCall):
        await rig.service.begin(agent_id=a2, mode=SpyMode.LISTEN, phone="sup02", by=rig.boss)

    rig.pbx.down = True
    rig.pbx.agent_channels[channel_of("agent02")] = "1.agent02"
    with pytest.raises(PbxDown):
        await rig.service.begin(agent_id=a2, mode=SpyMode.LISTEN, phone="sup02", by=rig.boss)
    with pytest.raises(SessionNotFound):
        await rig.service.stop(12345, by=rig.boss)
    assert [e.action for e in await rig.audit()] == ["monitor_start"]


async def test_a_session_ends_when_asterisk_no_longer_shows_it(rig: Rig) -> None:
    rig.on_call("agent01")
    a1 = await agent_id(rig.db, "agent01")
    s = await rig.service.begin(agent_id=a1, mode=SpyMode.BARGE, phone="sup01", by=rig.boss)

    # Ringing: Asterisk shows no ChanSpy yet, and the phone has ring_s to answer.
    rig.clock.now += 20
    assert [x.id for x in await rig.service.sessions()] == [s.id]

    rig.pbx.answer(s.spy_channel)
    rig.pbx.press(s.spy_channel, SpyMode.WHISPER)  # key 5 on the phone
    [now] = await rig.service.sessions()
    assert now.mode == SpyMode.WHISPER

    rig.pbx.hang_up(s.spy_channel)  # the supervisor hung up, or the call ended
    assert await rig.service.sessions() == []
    with pytest.raises(SessionNotFound):
        await rig.service.change_mode(s.id, SpyMode.LISTEN, by=rig.boss)

    entries = await rig.audit()
    assert [e.action for e in entries] == ["monitor_start", "monitor_mode", "monitor_end"]
    assert json.loads(entries[-1].detail)["note"] == "hung up"
    assert rig.seen_by_agent(a1)[-1] == {"agent_id": a1, "mode": None, "active": False}


async def test_a_phone_never_answered_is_dropped_when_its_channel_goes(rig: Rig) -> None:
    rig.on_call("agent01")
    a1 = await agent_id(rig.db, "agent01")
    s = await rig.service.begin(agent_id=a1, mode=SpyMode.LISTEN, phone="sup03", by=rig.boss)

    rig.clock.now += 60  # still ringing (a long ring_s): it stays while its channel does
    assert [x.id for x in await rig.service.sessions()] == [s.id]
    rig.pbx.hang_up(s.spy_channel)  # the Originate's timeout: the phone never answered
    assert await rig.service.sessions() == []
    entries = await rig.audit()
    assert json.loads(entries[-1].detail)["note"] == "not answered"
    # The phone is free again.
    await rig.service.begin(agent_id=a1, mode=SpyMode.LISTEN, phone="sup03", by=rig.boss)


async def test_between_two_chanspy_runs_the_session_stays(rig: Rig) -> None:
    rig.on_call("agent01")
    a1 = await agent_id(rig.db, "agent01")
    s = await rig.service.begin(agent_id=a1, mode=SpyMode.LISTEN, phone="sup01", by=rig.boss)
    rig.pbx.answer(s.spy_channel)
    assert [x.id for x in await rig.service.sessions()] == [s.id]

    # A Redirect (or keys 4/5/6) under way: the channel is up but not in ChanSpy for a moment.
    del rig.pbx.spying[s.spy_channel]
    rig.pbx.between.add(s.spy_channel)
    assert [x.id for x in await rig.service.sessions()] == [s.id]
    assert [e.action for e in await rig.audit()] == ["monitor_start"]


async def test_a_mode_just_changed_is_not_undone_by_what_asterisk_shows_late(rig: Rig) -> None:
    rig.on_call("agent01")
    a1 = await agent_id(rig.db, "agent01")
    s = await rig.service.begin(agent_id=a1, mode=SpyMode.LISTEN, phone="sup01", by=rig.boss)
    rig.pbx.answer(s.spy_channel)
    await rig.service.change_mode(s.id, SpyMode.BARGE, by=rig.boss)
    rig.pbx.press(s.spy_channel, SpyMode.LISTEN)  # Asterisk still shows the old ChanSpy

    [now] = await rig.service.sessions()
    assert now.mode == SpyMode.BARGE  # within settle_s: ours stands
    rig.clock.now += 3.5
    [later] = await rig.service.sessions()
    assert later.mode == SpyMode.LISTEN  # then what Asterisk shows is the truth (keys)
    assert [e.action for e in await rig.audit()][-1] == "monitor_mode"


async def test_after_a_restart_the_spying_asterisk_shows_is_adopted(rig: Rig) -> None:
    rig.on_call("agent02")
    a2 = await agent_id(rig.db, "agent02")
    first = await rig.service.begin(agent_id=a2, mode=SpyMode.WHISPER, phone="sup04", by=rig.boss)
    rig.pbx.answer(first.spy_channel)

    again = CoachingService(rig.db, rig.pbx, rig.agents, rig.pbx, CoachingParams(poll_s=3600))
    await again.start()
    try:
        [adopted] = await again.sessions()
    finally:
        await again.close()
    assert (adopted.agent_id, adopted.phone, adopted.mode, adopted.spy_channel) == (
        a2,
        "sup04",
        SpyMode.WHISPER,
        first.spy_channel,
    )


async def test_change_mode_when_the_phone_is_gone_ends_the_session(rig: Rig) -> None:
    rig.on_call("agent01")
    a1 = await agent_id(rig.db, "agent01")
    s = await rig.service.begin(agent_id=a1, mode=SpyMode.LISTEN, phone="sup01", by=rig.boss)
    rig.pbx.hang_up(s.spy_channel)

    with pytest.raises(SessionNotFound):
        await rig.service.change_mode(s.id, SpyMode.BARGE, by=rig.boss)
    with pytest.raises(SessionNotFound):
        await rig.service.get(s.id)


async def test_the_target_is_the_agents_leg_of_that_call(rig: Rig) -> None:
    rig.on_call("agent01")
    a1 = await agent_id(rig.db, "agent01")
    # A second channel of the same phone (another line), and an agent whose name is longer.
    rig.pbx.agent_channels["PJSIP/agent01-0000000b"] = "9.other"
    rig.pbx.agent_channels["PJSIP/agent010-0000000c"] = "1.agent01"

    s = await rig.service.begin(agent_id=a1, mode=SpyMode.LISTEN, phone="sup01", by=rig.boss)
    assert s.target_channel == channel_of("agent01")

    # Without the call's linkedid (e.g. a callback's leg), the agent's one channel up is it;
    # two up and neither the call's: no guess.
    assert await rig.service.target_of("agent01", "unknown") is None
    del rig.pbx.agent_channels["PJSIP/agent01-0000000b"]
    assert await rig.service.target_of("agent01", "unknown") == channel_of("agent01")
