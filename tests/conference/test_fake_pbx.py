"""The scripted fake PBX that the conference's tests use (``tests/conference/fake_pbx.py``)."""

from __future__ import annotations

import inspect

import pytest

from conference.ports import ConferencePbx
from conference.roll import PointState, advance
from pbx.conference_signals import ALL_MEMBERS, PARTICIPANTS, PointSignal, SignalKind
from pbx.errors import PbxUnavailable
from tests.conference.fake_pbx import (
    FakeConferencePbx,
    absent,
    busy,
    failed,
    hangs_up,
    leader,
    no_answer,
    present,
)

K = SignalKind


def test_it_has_every_method_of_the_protocol_with_the_same_parameters() -> None:
    wanted = {
        name: member
        for name, member in vars(ConferencePbx).items()
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }
    assert set(wanted) >= {"dial_point", "mute", "members", "nodes", "root", "listen"}
    for name, member in wanted.items():
        mine = getattr(FakeConferencePbx, name)
        if isinstance(member, property):
            assert isinstance(mine, property), name
            continue
        assert inspect.iscoroutinefunction(mine) == inspect.iscoroutinefunction(member), name
        assert list(inspect.signature(mine).parameters.values()) == list(
            inspect.signature(member).parameters.values()
        ), name


async def _dial(pbx: FakeConferencePbx, pid: int, dial: str, **kw: object) -> None:
    args: dict[str, object] = {"node": "root", "attempt": 1, "leader": False} | kw
    await pbx.dial_point(
        str(args["node"]),
        conference_id=1,
        point_id=pid,
        attempt=int(str(args["attempt"])),
        dial=dial,
        title_prompt="conf-1",
        ring_s=30,
        leader=bool(args["leader"]),
    )


def _kinds(signals: list[PointSignal], pid: int) -> list[SignalKind]:
    return [s.kind for s in signals if s.point_id == pid]


async def test_scripted_phones_report_like_asterisk() -> None:
    pbx = FakeConferencePbx(
        ["root"],
        {
            "PJSIP/a": present(after_s=0.01),
            "PJSIP/b": absent(),
            "PJSIP/c": busy(),
            "PJSIP/d": no_answer(),
            "PJSIP/e": failed(),
            "PJSIP/f": hangs_up(),
            "PJSIP/leader": leader(),
        },
    )
    seen: list[PointSignal] = []
    pbx.listen(seen.append)
    for pid, dial in enumerate(["a", "b", "c", "d", "e", "f", "leader", "nobody"], start=1):
        await _dial(pbx, pid, f"PJSIP/{dial}", leader=dial == "leader")
    await pbx.settle()

    assert _kinds(seen, 1) == [K.RINGING, K.ANSWERED, K.PRESENT, K.JOINED]
    assert _kinds(seen, 2) == [K.RINGING, K.ANSWERED, K.ABSENT, K.HUNG_UP]
    assert _kinds(seen, 3) == [K.RINGING, K.BUSY]
    assert _kinds(seen, 4) == [K.RINGING, K.NO_ANSWER]
    assert _kinds(seen, 5) == [K.FAILED]
    assert _kinds(seen, 6) == [K.RINGING, K.ANSWERED, K.HUNG_UP]
    assert _kinds(seen, 7) == [K.RINGING, K.PRESENT, K.JOINED]
    assert _kinds(seen, 8) == [K.FAILED]  # no script, no default
    failures = {s.point_id: s.reason for s in seen if s.kind in (K.BUSY, K.NO_ANSWER, K.FAILED)}
    assert failures == {
        3: "BUSY",
        4: "NOANSWER",
        5: "CHANUNAVAIL",
        8: "fake: no behaviour for PJSIP/nobody",
    }
    assert seen == pbx.signals
    assert all(s.node == "root" and s.conference_id == 1 and s.attempt == 1 for s in seen)

    # The roll's state machine reads each sequence to the state it should.
    finals = {}
    for pid in range(1, 9):
        state = PointState.DIALLING
        for kind in _kinds(seen, pid):
            state = advance(state, kind) or state
        finals[pid] = state
    assert finals == {
        1: PointState.JOINED,
        2: PointState.ABSENT,
        3: PointState.FAILED,
        4: PointState.FAILED,
        5: PointState.FAILED,
        6: PointState.ABSENT,
        7: PointState.JOINED,
        8: PointState.FAILED,
    }

    members = {m.point_id: m for m in await pbx.members("root", 1)}
    assert set(members) == {1, 7}
    assert (members[1].muted, members[1].admin, members[1].marked) == (True, False, False)
    assert (members[7].muted, members[7].admin, members[7].marked) == (False, True, True)
    assert not members[1].waiting  # a leader is there


async def test_a_script_per_call_and_the_dial_string() -> None:
    pbx = FakeConferencePbx(["root"], {"PJSIP/a": [busy(), present()]}, default=absent())
    seen: list[PointSignal] = []
    pbx.listen(seen.append)
    for attempt in (1, 2, 3):
        await _dial(pbx, 1, "PJSIP/a", attempt=attempt)
        await pbx.settle()
    await _dial(pbx, 2, pbx.dial_string(endpoint=None, number="0912345678"))
    await pbx.settle()
    by_attempt = [[s.kind for s in seen if s.attempt == a and s.point_id == 1] for a in (1, 2)]
    assert by_attempt == [[K.RINGING, K.BUSY], [K.RINGING, K.ANSWERED, K.PRESENT, K.JOINED]]
    # The last behaviour repeats: attempt 3 joins too.
    assert K.JOINED in [s.kind for s in seen if s.attempt == 3]
    assert _kinds(seen, 2)[-2:] == [K.ABSENT, K.HUNG_UP]
    assert pbx.called("dial_point")[3]["dial"] == "PJSIP/0912345678@pstn-out"
    assert pbx.dial_string(endpoint="team-c25741", number=None) == "PJSIP/team-c25741"


async def test_controls_change_the_members_and_are_recorded() -> None:
    pbx = FakeConferencePbx(["root"], default=present())
    seen: list[PointSignal] = []
    pbx.listen(seen.append)
    await _dial(pbx, 1, "PJSIP/a")
    await _dial(pbx, 2, "PJSIP/b")
    await pbx.settle()
    assert all(m.waiting and m.muted for m in await pbx.members("root", 1))  # no leader yet
    await _dial(pbx, 9, "PJSIP/boss", leader=True)
    await pbx.settle()
    a = pbx.channel_of(1)
    assert a is not None

    await pbx.unmute("root", 1, a)
    assert {m.point_id: m.muted for m in await pbx.members("root", 1)} == {
        1: False,
        2: True,
        9: False,
    }
    await pbx.mute("root", 1, PARTICIPANTS)  # the leader is an admin: not muted
    assert {m.point_id: m.muted for m in await pbx.members("root", 1)} == {
        1: True,
        2: True,
        9: False,
    }
    assert [(s.kind, s.point_id) for s in seen[-2:]] == [(K.UNMUTED, 1), (K.MUTED, 1)]

    pbx.raise_hand(a)
    pbx.talk(a)
    assert [s.kind for s in seen[-2:]] == [K.HAND, K.TALKING]

    await pbx.kick("root", 1, a)
    assert _kinds(seen, 1)[-2:] == [K.LEFT, K.HUNG_UP]
    assert pbx.channel_of(1) is None

    await pbx.lock("root", 1)
    await _dial(pbx, 3, "PJSIP/c")
    await pbx.settle()
    assert _kinds(seen, 3)[-2:] == [K.PRESENT, K.HUNG_UP]  # locked out after pressing 1
    await pbx.unlock("root", 1)

    path = await pbx.start_record(1, "conf-1")
    assert path.endswith("/conf-1.wav")
    await pbx.stop_record(1)
    assert [s.kind for s in seen[-2:]] == [K.RECORDING, K.RECORDING_STOPPED]

    await pbx.kick("root", 1, ALL_MEMBERS)
    assert await pbx.members("root", 1) == []
    assert [c.method for c in pbx.calls if c.method not in ("dial_point", "members")] == [
        "unmute", "mute", "kick", "lock", "unlock", "start_record", "stop_record", "kick",
    ]  # fmt: skip
    assert pbx.called("mute") == [{"node": "root", "conference_id": 1, "target": PARTICIPANTS}]


async def test_two_nodes_and_a_link() -> None:
    pbx = FakeConferencePbx(["root", "b"], default=present())
    seen: list[PointSignal] = []
    pbx.listen(seen.append)
    await _dial(pbx, 1, "PJSIP/a", node="b")
    await pbx.settle()
    assert [m.waiting for m in await pbx.members("b", 1)] == [True]
    await pbx.link_node("b", 1)
    await pbx.link_node("root", 1)  # a no-op on the root
    assert [s.kind for s in seen if s.point_id is None] == [K.LINK_UP]
    b_members = await pbx.members("b", 1)
    assert [(m.point_id, m.waiting) for m in b_members] == [(1, False), (None, False)]
    assert [(m.point_id, m.admin) for m in await pbx.members("root", 1)] == [(None, True)]
    assert pbx.signals[0].node == "b"


async def test_a_node_that_is_down() -> None:
    pbx = FakeConferencePbx(["root", "b"], default=present())
    pbx.down.add("b")
    with pytest.raises(PbxUnavailable):
        await pbx.mute("b", 1, PARTICIPANTS)
    with pytest.raises(PbxUnavailable):
        await pbx.put_prompt("conf-1", b"RIFF")
    with pytest.raises(ValueError):
        await pbx.mute("c", 1, PARTICIPANTS)
    await pbx.mute("root", 1, PARTICIPANTS)
    assert [(c.method, c.ok) for c in pbx.calls] == [
        ("mute", False),
        ("put_prompt", False),
        ("mute", False),
        ("mute", True),
    ]
