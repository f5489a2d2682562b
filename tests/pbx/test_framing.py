"""AMI framing on one connection, driven byte by byte without a network."""

from __future__ import annotations

import asyncio

import pytest
from panoramisk import actions
from panoramisk.message import Message

from pbx.errors import AmiActionError, AmiActionTimeout, AmiNotConnected
from pbx.framing import AmiProtocol
from tests.pbx.fake_ami import BANNER, frame

NAME = "Nguyễn Thị Hằng"


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing


def connect() -> tuple[AmiProtocol, FakeTransport, list[dict[str, str]]]:
    events: list[dict[str, str]] = []
    protocol = AmiProtocol(events.append, lambda _protocol, _reason: None)
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport, events


def action_id(transport: FakeTransport) -> str:
    for line in bytes(transport.written).decode().split("\r\n"):
        if line.startswith("ActionID: "):
            return line.removeprefix("ActionID: ")
    raise AssertionError("no ActionID written")


async def test_utf8_split_anywhere_survives() -> None:
    """Defect 6: every possible TCP read boundary, including inside multi-byte characters."""
    data = BANNER + frame(
        {"Event": "Newchannel", "Channel": "PJSIP/citizen-00000001", "CallerIDName": NAME}
    )
    assert len(NAME.encode()) > len(NAME)  # the name really has multi-byte characters
    for cut in range(1, len(data)):
        protocol, _, events = connect()
        protocol.data_received(data[:cut])
        protocol.data_received(data[cut:])
        assert [e["CallerIDName"] for e in events] == [NAME], f"split at byte {cut}"
        assert protocol.version == "9.0.0"


async def test_one_byte_per_read_and_many_frames_per_read() -> None:
    frames = b"".join(frame({"Event": "Newstate", "Seq": str(i)}) for i in range(50))
    protocol, _, events = connect()
    for byte in BANNER + frames:
        protocol.data_received(bytes([byte]))
    assert [e["Seq"] for e in events] == [str(i) for i in range(50)]
    protocol, _, events = connect()
    protocol.data_received(BANNER + frames)
    assert len(events) == 50


async def test_list_action_collects_events_carrying_its_action_id() -> None:
    """Defect 9: events with our ActionID are the action's result, not listener events."""
    protocol, transport, events = connect()
    protocol.data_received(BANNER)
    pending = asyncio.create_task(protocol.request("QueueStatus", {}, as_list=True, within=2.0))
    await asyncio.sleep(0)
    aid = action_id(transport)
    protocol.data_received(
        frame({"Response": "Success", "ActionID": aid, "EventList": "start"})
        + frame({"Event": "QueueMember", "ActionID": aid, "Name": NAME})
        + frame({"Event": "Hangup", "Uniqueid": "1.1"})  # someone else's event, interleaved
        + frame({"Event": "QueueStatusComplete", "ActionID": aid, "EventList": "Complete"})
    )
    replies = await pending
    assert [r.get("Event", r.get("Response")) for r in replies] == [
        "Success",
        "QueueMember",
        "QueueStatusComplete",
    ]
    assert replies[1]["Name"] == NAME
    assert [e["Event"] for e in events] == ["Hangup"]
    assert protocol.pending == 0


async def test_list_action_answered_with_error_completes() -> None:
    protocol, transport, _ = connect()
    pending = asyncio.create_task(
        protocol.request("CoreShowChannels", {}, as_list=True, within=2.0)
    )
    await asyncio.sleep(0)
    aid = action_id(transport)
    protocol.data_received(
        BANNER + frame({"Response": "Error", "ActionID": aid, "Message": "Permission denied"})
    )
    with pytest.raises(AmiActionError, match="Permission denied") as caught:
        await pending
    assert caught.value.message == "Permission denied"
    assert caught.value.response["Response"] == "Error"


async def test_queue_add_reply_completes_a_non_list_action() -> None:
    """Defect 2: panoramisk guesses 'Added interface to queue' is a list and never resolves."""
    reply = Message({"Response": "Success", "Message": "Added interface to queue"})
    guessed = actions.Action({"Action": "QueueAdd"})
    guessed.add_message(reply)
    assert not guessed.future.done()  # the upstream hazard this layer avoids

    protocol, transport, _ = connect()
    pending = asyncio.create_task(
        protocol.request("QueueAdd", {"Queue": "q"}, as_list=False, within=2.0)
    )
    await asyncio.sleep(0)
    protocol.data_received(
        BANNER
        + frame(
            {
                "Response": "Success",
                "ActionID": action_id(transport),
                "Message": "Added interface to queue",
            }
        )
    )
    assert (await pending)[0]["Message"] == "Added interface to queue"


async def test_timeout_removes_the_pending_action() -> None:
    """Defect 4."""
    protocol, transport, events = connect()
    with pytest.raises(AmiActionTimeout, match="CoreStatus"):
        await protocol.request("CoreStatus", {}, as_list=False, within=0.05)
    assert protocol.pending == 0
    # A late answer is dropped quietly, not delivered anywhere.
    protocol.data_received(
        BANNER + frame({"Response": "Success", "ActionID": action_id(transport)})
    )
    assert events == []


async def test_connection_loss_fails_pending_actions_instead_of_queueing_them() -> None:
    """Defect 8: nothing is kept for replay."""
    protocol, _, _ = connect()
    pending = asyncio.create_task(
        protocol.request("Originate", {"Channel": "PJSIP/101"}, as_list=False, within=5.0)
    )
    await asyncio.sleep(0)
    protocol.connection_lost(None)
    with pytest.raises(AmiNotConnected, match="may or may not have run"):
        await pending
    assert protocol.pending == 0
    with pytest.raises(AmiNotConnected):
        await protocol.request("Ping", {}, as_list=False, within=1.0)


async def test_header_injection_is_refused() -> None:
    protocol, transport, _ = connect()
    with pytest.raises(ValueError, match="invalid AMI header"):
        await protocol.request(
            "Originate", {"CallerID": "x\r\nAction: Logoff"}, as_list=False, within=1.0
        )
    assert transport.written == b""
    assert protocol.pending == 0


async def test_repeated_headers_are_sent_and_received() -> None:
    protocol, transport, events = connect()
    pending = asyncio.create_task(
        protocol.request("Originate", {"Variable": ["A=1", "B=2"]}, as_list=False, within=2.0)
    )
    await asyncio.sleep(0)
    assert b"Variable: A=1\r\nVariable: B=2\r\n" in transport.written
    protocol.data_received(
        BANNER
        + frame({"Response": "Success", "ActionID": action_id(transport)})
        + b"Event: Newchannel\r\nChanVariable: X=1\r\nChanVariable: Y=2\r\n\r\n"
    )
    await pending
    assert events[0]["ChanVariable"] == "X=1\nY=2"


@pytest.mark.parametrize(
    "frame",
    [
        "Event: Newchannel\r\nPrivilege: call,all\r\nCallerIDName: Nguyễn Văn An\r\n"
        "Uniqueid: 1.1\r\nVariable: a=1\r\nVariable: b=2",
        "Event: AGIExecEnd\r\nResult: 200%20result%3D1\r\nCommand: GET DATA",
        "Event: Odd\nBare: LF lines\nNoColonLine\nEmpty: ",
    ],
)
def test_fast_event_path_gives_what_panoramisk_s_path_gives(frame: str) -> None:
    from panoramisk import utils
    from panoramisk.message import Message

    from pbx.framing import _LINE_BREAK, _plain_event, message_to_dict

    slow = message_to_dict(Message.from_line(utils.EOL.join(_LINE_BREAK.split(frame))))
    assert _plain_event(frame) == slow


@pytest.mark.parametrize(
    "frame",
    [
        "Response: Success\r\nActionID: x\r\nMessage: ok",
        "Event: QueueMember\r\nActionID: action/1/2\r\nQueue: food",  # belongs to an action
        "Event: Shutdown\r\nShutdown: Cleanly",
    ],
)
def test_replies_list_events_and_shutdown_take_panoramisk_s_path(frame: str) -> None:
    from pbx.framing import _plain_event

    assert _plain_event(frame) is None


class Selector:
    def __init__(self, *names: str) -> None:
        self.wanted: frozenset[bytes] | None = frozenset(n.lower().encode() for n in names)


def member_status(queue: str, status: str) -> bytes:
    return frame(
        {
            "Event": "QueueMemberStatus",
            "Queue": queue,
            "MemberName": "agent01",
            "Interface": "PJSIP/agent01",
            "StateInterface": "PJSIP/agent01",
            "Status": status,
            "Paused": "0",
            "PausedReason": "",
        }
    )


async def test_events_nobody_wants_are_dropped_unread_but_replies_and_shutdown_are_not() -> None:
    events: list[dict[str, str]] = []
    protocol = AmiProtocol(events.append, lambda _p, _r: None, Selector("Hangup", "UserEvent"))
    transport = FakeTransport()
    protocol.connection_made(transport)
    protocol.data_received(BANNER)
    pending = asyncio.create_task(protocol.request("QueueStatus", {}, as_list=True, within=2.0))
    await asyncio.sleep(0)
    aid = action_id(transport)
    protocol.data_received(
        frame({"Event": "VarSet", "Variable": "X", "Value": "1"})
        + frame({"Event": "hangup", "Uniqueid": "1.1"})  # names match in any case
        + frame({"Response": "Success", "ActionID": aid, "EventList": "start"})
        + frame({"Event": "QueueMember", "ActionID": aid, "Name": NAME})  # nobody "wants" it
        + frame({"Event": "QueueStatusComplete", "ActionID": aid, "EventList": "Complete"})
        + frame({"Event": "UserEvent", "UserEvent": "HotlineRoute"})
    )
    replies = await pending
    assert [r.get("Event", r.get("Response")) for r in replies] == [
        "Success",
        "QueueMember",
        "QueueStatusComplete",
    ]
    assert [e["Event"] for e in events] == ["hangup", "UserEvent"]
    protocol.data_received(frame({"Event": "Shutdown", "Shutdown": "Cleanly"}))
    assert protocol.lost.done()  # Shutdown still reaches panoramisk's path


async def test_a_member_s_device_state_passes_once_per_device() -> None:
    events: list[dict[str, str]] = []
    protocol = AmiProtocol(events.append, lambda _p, _r: None, Selector("QueueMemberStatus"))
    protocol.connection_made(FakeTransport())
    protocol.data_received(BANNER)
    burst = b"".join(member_status(q, "1") for q in ("q1", "q2"))
    protocol.data_received(burst + b"".join(member_status(q, "2") for q in ("q1", "q2")))
    assert [(e["Queue"], e["Status"]) for e in events] == [("q1", "1"), ("q2", "1"), ("q1", "2")]
    # Another member event (a pause, here unwanted) makes the link forget: all pass again.
    protocol.data_received(frame({"Event": "QueueMemberPause", "Queue": "q1"}) + burst)
    assert [(e["Queue"], e["Status"]) for e in events][3:] == [("q1", "1"), ("q2", "1")]


async def test_without_a_selective_selector_every_event_passes() -> None:
    for selector in (None, Selector()):
        events: list[dict[str, str]] = []
        if selector is not None:
            selector.wanted = None  # a listener wants every event
        protocol = AmiProtocol(events.append, lambda _p, _r: None, selector)
        protocol.connection_made(FakeTransport())
        protocol.data_received(BANNER + frame({"Event": "VarSet"}) + member_status("q1", "1") * 2)
        assert [e["Event"] for e in events] == ["VarSet", "QueueMemberStatus", "QueueMemberStatus"]
