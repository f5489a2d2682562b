"""AMI events parse into the typed classes (header sets as Asterisk 22 sends them)."""

from __future__ import annotations

import dataclasses

import pytest

from pbx.events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentRingNoAnswer,
    AmiEvent,
    DialEnd,
    DialFailure,
    FullyBooted,
    Hangup,
    Newchannel,
    Newstate,
    OriginateResponse,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueMemberAdded,
    QueueMemberEvent,
    QueueMemberPause,
    QueueMemberRemoved,
    QueueMemberStatus,
    UserEvent,
    dial_failure,
    parse_event,
)

CALLER = {
    "Channel": "PJSIP/citizen-00000001",
    "ChannelState": "6",
    "ChannelStateDesc": "Up",
    "CallerIDNum": "0912345678",
    "CallerIDName": "Nguyễn Thị Hằng",
    "ConnectedLineNum": "<unknown>",
    "ConnectedLineName": "<unknown>",
    "Language": "vi",
    "AccountCode": "",
    "Context": "hotline-queue",
    "Exten": "1022",
    "Priority": "7",
    "Uniqueid": "1700000000.1",
    "Linkedid": "1700000000.1",
}
AGENT = {
    "DestChannel": "PJSIP/agent101-00000002",
    "DestChannelState": "6",
    "DestChannelStateDesc": "Up",
    "DestCallerIDNum": "101",
    "DestCallerIDName": "Trần Văn Bình",
    "DestConnectedLineNum": "0912345678",
    "DestConnectedLineName": "Nguyễn Thị Hằng",
    "DestLanguage": "vi",
    "DestAccountCode": "",
    "DestContext": "hotline-agents",
    "DestExten": "",
    "DestPriority": "1",
    "DestUniqueid": "1700000000.2",
    "DestLinkedid": "1700000000.1",
}
MEMBER = {
    "Queue": "q-medical",
    "MemberName": "Trần Văn Bình",
    "Interface": "PJSIP/agent101",
    "StateInterface": "PJSIP/agent101",
    "Membership": "dynamic",
    "Penalty": "2",
    "CallsTaken": "3",
    "LastCall": "1700000100",
    "LastPause": "0",
    "LoginTime": "1700000000",
    "InCall": "1",
    "Status": "2",
    "Paused": "0",
    "PausedReason": "",
    "Ringinuse": "0",
    "Wrapuptime": "0",
}


def event(name: str, *parts: dict[str, str], **extra: str) -> AmiEvent:
    headers = {"Event": name, "Privilege": "call,all"}
    for part in parts:
        headers.update(part)
    headers.update(extra)
    return parse_event(headers, 1700000123.5)


def test_channel_events_carry_the_channel_snapshot() -> None:
    new = event("Newchannel", CALLER, ChannelState="0", ChannelStateDesc="Down")
    assert isinstance(new, Newchannel)
    assert (new.channel, new.uniqueid, new.linkedid) == (
        "PJSIP/citizen-00000001",
        "1700000000.1",
        "1700000000.1",
    )
    assert (new.caller_id_num, new.caller_id_name) == ("0912345678", "Nguyễn Thị Hằng")
    assert (new.context, new.exten, new.channel_state_desc) == ("hotline-queue", "1022", "Down")
    assert new.received_at == 1700000123.5
    assert new.get("language") == "vi"  # every header stays readable, any case
    assert isinstance(event("Newstate", CALLER), Newstate)


def test_hangup_reads_cause_and_cause_txt() -> None:
    hangup = event("Hangup", CALLER, **{"Cause": "16", "Cause-txt": "Normal Clearing"})
    assert isinstance(hangup, Hangup)
    assert (hangup.cause, hangup.cause_txt) == (16, "Normal Clearing")
    originated = event("Hangup", CALLER | {"AccountCode": "dispatch-abc"}, Cause="17")
    assert isinstance(originated, Hangup) and originated.account_code == "dispatch-abc"


def test_originate_response_says_whether_and_how_the_phone_answered() -> None:
    """As Asterisk 22 sends it after an Async Originate: the Originate's ActionID, and for a
    phone that did not answer, AST_CONTROL_* in Reason."""
    headers = {
        "Event": "OriginateResponse",
        "ActionID": "a7",
        "Response": "Failure",
        "Channel": "PJSIP/team-c25741-00000003",
        "Context": "hotline-dispatch",
        "Exten": "s",
        "Reason": "5",
        "Uniqueid": "<null>",
        "CallerIDNum": "1022",
    }
    busy = parse_event(headers, 1.0)
    assert isinstance(busy, OriginateResponse)
    assert (busy.action_id, busy.reason, busy.answered) == ("a7", 5, False)
    assert dial_failure(busy.reason) is DialFailure.BUSY
    answered = parse_event(headers | {"Response": "Success", "Reason": "4"}, 1.0)
    assert isinstance(answered, OriginateResponse) and answered.answered


def test_dial_failure_reads_the_reason_then_the_dial_status() -> None:
    assert dial_failure(3) is DialFailure.NO_ANSWER  # rang out
    assert dial_failure(5, "NOANSWER") is DialFailure.BUSY  # the reason comes first
    # Asterisk 22 gives Reason 0 for a 486 Busy Here: only the DialEnd says busy.
    assert dial_failure(0, " busy ") is DialFailure.BUSY
    assert dial_failure(0, "NOANSWER") is DialFailure.NO_ANSWER
    assert dial_failure(0, "CHANUNAVAIL") is DialFailure.FAILED
    assert dial_failure(8) is DialFailure.FAILED  # congestion


def test_dial_end_of_an_originated_call_names_its_account() -> None:
    ev = parse_event(
        {
            "Event": "DialEnd",
            "DestChannel": "PJSIP/team-c25741-00000003",
            "DestUniqueid": "1700000000.9",
            "DestAccountCode": "dispatch-abc",
            "DialStatus": "BUSY",
        },
        1.0,
    )
    assert isinstance(ev, DialEnd)
    assert (ev.dest_account_code, ev.dial_status, ev.dest_uniqueid) == (
        "dispatch-abc",
        "BUSY",
        "1700000000.9",
    )


def test_queue_caller_events() -> None:
    join = event("QueueCallerJoin", CALLER, Queue="q-medical", Position="2", Count="2")
    assert isinstance(join, QueueCallerJoin)
    assert (join.queue, join.position, join.count) == ("q-medical", 2, 2)
    leave = event("QueueCallerLeave", CALLER, Queue="q-medical", Count="1", Position="1")
    assert isinstance(leave, QueueCallerLeave)
    assert (leave.position, leave.count) == (1, 1)
    abandon = event(
        "QueueCallerAbandon",
        CALLER,
        Queue="q-medical",
        Position="1",
        OriginalPosition="3",
        HoldTime="41",
    )
    assert isinstance(abandon, QueueCallerAbandon)
    assert (abandon.position, abandon.original_position, abandon.hold_time) == (1, 3, 41)


def test_agent_events_keep_caller_and_agent_apart() -> None:
    common = {"Queue": "q-medical", "MemberName": "Trần Văn Bình", "Interface": "PJSIP/agent101"}
    connect = event("AgentConnect", CALLER, AGENT, common, RingTime="3", HoldTime="12")
    assert isinstance(connect, AgentConnect)
    assert connect.channel == "PJSIP/citizen-00000001"  # the caller's, in Asterisk 22
    assert connect.uniqueid == "1700000000.1"
    assert connect.dest_channel == "PJSIP/agent101-00000002"
    assert connect.dest_uniqueid == "1700000000.2"
    assert (connect.queue, connect.member_name, connect.interface) == (
        "q-medical",
        "Trần Văn Bình",
        "PJSIP/agent101",
    )
    assert (connect.hold_time, connect.ring_time) == (12, 3)

    complete = event(
        "AgentComplete", CALLER, AGENT, common, HoldTime="12", TalkTime="95", Reason="caller"
    )
    assert isinstance(complete, AgentComplete)
    assert (complete.hold_time, complete.talk_time, complete.reason) == (12, 95, "caller")

    called = event("AgentCalled", CALLER, AGENT, common)
    assert isinstance(called, AgentCalled)
    assert called.dest_uniqueid == "1700000000.2"

    no_answer = event("AgentRingNoAnswer", CALLER, AGENT, common, RingTime="15")
    assert isinstance(no_answer, AgentRingNoAnswer)
    assert no_answer.ring_time == 15


@pytest.mark.parametrize(
    "name,cls",
    [
        ("QueueMemberAdded", QueueMemberAdded),
        ("QueueMemberRemoved", QueueMemberRemoved),
        ("QueueMemberStatus", QueueMemberStatus),
        ("QueueMemberPause", QueueMemberPause),
    ],
)
def test_queue_member_events(name: str, cls: type[AmiEvent]) -> None:
    member = event(name, MEMBER)
    assert isinstance(member, cls) and isinstance(member, QueueMemberEvent)
    assert (member.queue, member.member_name, member.interface, member.state_interface) == (
        "q-medical",
        "Trần Văn Bình",
        "PJSIP/agent101",
        "PJSIP/agent101",
    )
    assert (member.status, member.paused, member.in_call, member.penalty) == (2, False, True, 2)
    paused = event(name, MEMBER, Paused="1", PausedReason="lunch")
    assert isinstance(paused, QueueMemberEvent)
    assert paused.paused is True and paused.paused_reason == "lunch"


def test_user_event_exposes_its_name_and_own_headers() -> None:
    user = event("UserEvent", CALLER, UserEvent="HotlineRoute", Category="medical", Place="7")
    assert isinstance(user, UserEvent)
    assert user.user_event == "HotlineRoute"
    assert (user.get("Category"), user.get("place")) == ("medical", "7")
    assert user.uniqueid == "1700000000.1"


def test_fully_booted() -> None:
    booted = event("FullyBooted", Status="Fully Booted", Uptime="120", LastReload="60")
    assert isinstance(booted, FullyBooted)
    assert (booted.status, booted.uptime, booted.last_reload) == ("Fully Booted", 120, 60)


def test_unknown_event_is_a_plain_ami_event() -> None:
    other = event("VarSet", CALLER, Variable="HOTLINE_QUEUE", Value="q-medical")
    assert type(other) is AmiEvent
    assert other.name == "VarSet"
    assert other.get("VARIABLE") == "HOTLINE_QUEUE"
    assert other.get("missing", "dflt") == "dflt"


def test_header_names_are_case_insensitive() -> None:
    hangup = parse_event({"event": "hangup", "CAUSE": "17", "uniqueID": "1.5"}, 0.0)
    assert isinstance(hangup, Hangup)
    assert (hangup.name, hangup.cause, hangup.uniqueid) == ("hangup", 17, "1.5")


def test_bad_numbers_do_not_raise() -> None:
    join = event("QueueCallerJoin", CALLER, Queue="q", Position="first", Count="")
    assert isinstance(join, QueueCallerJoin)
    assert (join.position, join.count) == (0, 0)
    # Missing headers default too.
    bare = parse_event({"Event": "AgentComplete"}, 0.0)
    assert isinstance(bare, AgentComplete)
    assert (bare.talk_time, bare.reason, bare.channel) == (0, "", "")


def test_events_are_frozen_and_hashable() -> None:
    hangup = event("Hangup", CALLER, Cause="16")
    assert isinstance(hangup, Hangup)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hangup.cause = 1  # type: ignore[misc]
    assert hash(hangup) == hash(event("Hangup", CALLER, Cause="16"))
