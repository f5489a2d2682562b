"""AmiConferencePbx against fake AMIs (two nodes): the actions it sends, and the AMI events
it turns into PointSignals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conference.ports import ConferencePbx
from pbx.ami import AmiLink
from pbx.conference import AmiConferencePbx, ConferenceNode, conference_nodes_from
from pbx.conference_signals import ALL_MEMBERS, PARTICIPANTS, PointSignal, SignalKind
from pbx.errors import PbxUnavailable
from pbx.paths import AsteriskPaths
from tests.pbx.fake_ami import FakeAmi, frame
from tests.pbx.helpers import wait_until

ROOT_SIP = ("127.0.0.1", 5060)


class ConfAmi(FakeAmi):
    """A fake AMI with ConfBridge: one bridge (``hotline-conf-7``) and its members."""

    def __init__(self) -> None:
        super().__init__()
        self.bridges: dict[str, list[dict[str, str]]] = {"hotline-conf-7": []}
        # How the next Originate ends: None answered, else (OriginateResponse Reason,
        # DialEnd DialStatus or "" for no DialEnd).
        self.outcome: tuple[str, str] | None = None

    def _action_originate(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        queued = frame(
            [("Response", "Success"), *aid, ("Message", "Originate successfully queued")]
        )
        if self.outcome is None:
            return queued
        reason, status = self.outcome
        dial_end = b""
        if status:
            dial_end = frame(
                [
                    ("Event", "DialEnd"),
                    ("DestChannel", "PJSIP/team-c25741-00000001"),
                    ("DestAccountCode", action.get("Account", "")),
                    ("DialStatus", status),
                ]
            )
        response = frame(
            [
                ("Event", "OriginateResponse"),
                *aid,
                ("Response", "Failure"),
                ("Channel", action.get("Channel", "")),
                ("Reason", reason),
                ("Uniqueid", "<null>"),
            ]
        )
        return queued + dial_end + response

    def _bridge_action(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        if action.get("Conference") not in self.bridges:
            return frame(
                [("Response", "Error"), *aid, ("Message", "No Conference by that name found.")]
            )
        return frame([("Response", "Success"), *aid, ("Message", "done")])

    _action_confbridgemute = _bridge_action
    _action_confbridgeunmute = _bridge_action
    _action_confbridgekick = _bridge_action
    _action_confbridgelock = _bridge_action
    _action_confbridgeunlock = _bridge_action

    def _action_confbridgelist(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        members = self.bridges.get(action.get("Conference", ""))
        if members is None:
            return frame(
                [("Response", "Error"), *aid, ("Message", "No Conference by that name found.")]
            )
        out = [frame([("Response", "Success"), *aid, ("EventList", "start")])]
        out += [frame([("Event", "ConfbridgeList"), *aid, *m.items()]) for m in members]
        out.append(
            frame(
                [
                    ("Event", "ConfbridgeListComplete"),
                    *aid,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(members))),
                ]
            )
        )
        return b"".join(out)


@dataclass
class Pair:
    pbx: AmiConferencePbx
    root: ConfAmi
    b: ConfAmi
    signals: list[PointSignal]
    root_paths: AsteriskPaths
    b_paths: AsteriskPaths

    def sent(self, ami: ConfAmi, action: str) -> list[dict[str, str]]:
        return [a for a in ami.received if a.get("Action", "").lower() == action.lower()]


def node_b(port: int) -> ConferenceNode:
    return ConferenceNode(
        name="b",
        ami_host="127.0.0.1",
        ami_port=port,
        ami_username="hotline",
        ami_secret="s3cret-Ami",
        sip_host="127.0.0.1",
        sip_port=5070,
        instance="nodeb",
    )


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    root, b = ConfAmi(), ConfAmi()
    await root.start()
    await b.start()
    links = [
        AmiLink(
            host="127.0.0.1",
            port=ami.port,
            username=ami.username,
            secret=ami.secret,
            action_timeout=1.0,
            heartbeat_interval=60.0,
        )
        for ami in (root, b)
    ]
    for link in links:
        await link.start()
    root_paths = AsteriskPaths("main", tmp_path / "root")
    b_paths = AsteriskPaths("nodeb", tmp_path / "root")
    for paths in (root_paths, b_paths):
        paths.host_path(paths.prompts_dir).mkdir(parents=True)
    pbx = AmiConferencePbx(
        links[0],
        "root",
        root_paths,
        ROOT_SIP,
        [(node_b(b.port), links[1], b_paths)],
        dial_end_grace_s=0.2,
    )
    signals: list[PointSignal] = []
    pbx.listen(signals.append)
    yield Pair(pbx, root, b, signals, root_paths, b_paths)
    await pbx.close()
    for link in links:
        await link.close()
    await root.stop()
    await b.stop()


def kinds(signals: list[PointSignal]) -> list[SignalKind]:
    return [s.kind for s in signals]


def test_it_is_the_conference_port(pair: Pair) -> None:
    port: ConferencePbx = pair.pbx  # mypy checks the Protocol
    assert port.nodes == ["root", "b"] and port.root == "root"


async def test_a_point_is_originated_into_the_roll_call_with_its_account_code(pair: Pair) -> None:
    dial = pair.pbx.dial_string(endpoint="team-c25741", number=None)
    await pair.pbx.dial_point(
        "b",
        conference_id=7,
        point_id=42,
        attempt=2,
        dial=dial,
        title_prompt="conf-title-7",
        ring_s=20,
    )
    await pair.pbx.dial_point(
        "root",
        conference_id=7,
        point_id=1,
        attempt=1,
        dial=pair.pbx.dial_string(endpoint=None, number="0912345678"),
        title_prompt="",
        ring_s=30,
        leader=True,
    )

    [point] = pair.sent(pair.b, "Originate")
    assert point["Channel"] == "PJSIP/team-c25741"
    assert (point["Context"], point["Exten"], point["Priority"]) == ("hotline-conf-point", "s", "1")
    assert point["Account"] == "conf-7-42-2"
    assert point["Async"] == "true" and point["Timeout"] == "20000"
    assert point["Variable"].split("\n") == [
        "CONF_ID=7",
        "CONF_POINT=42",
        "CONF_ATTEMPT=2",
        "CONF_TITLE=conf-title-7",
    ]
    [leader] = pair.sent(pair.root, "Originate")
    assert leader["Channel"] == "PJSIP/0912345678@pstn-out"
    assert leader["Context"] == "hotline-conf-leader" and leader["Account"] == "conf-7-1-1"


async def test_the_roll_call_and_the_bridge_become_signals_by_account_code(pair: Pair) -> None:
    channel = "PJSIP/team-c25741-00000002"
    snapshot = [("Channel", channel), ("AccountCode", "conf-7-42-2"), ("Uniqueid", "1.2")]

    def user_event(name: str, state: str = "") -> bytes:
        extra = [("State", state)] if state else []
        return frame(
            [
                ("Event", "UserEvent"),
                *snapshot,
                ("UserEvent", name),
                ("Conference", "7"),
                ("Point", "42"),
                ("Attempt", "2"),
                *extra,
            ]
        )

    def bridge(event: str, *extra: tuple[str, str]) -> bytes:
        return frame([("Event", event), ("Conference", "hotline-conf-7"), *snapshot, *extra])

    await pair.b.send(
        frame([("Event", "Newstate"), *snapshot, ("ChannelStateDesc", "Ringing")])
        + user_event("HotlineConfPoint", "answered")
        + user_event("HotlineConfPoint", "present")
        + bridge("ConfbridgeJoin", ("Admin", "No"), ("Muted", "Yes"))
        + bridge("ConfbridgeUnmute", ("Admin", "No"))
        + bridge("ConfbridgeTalking", ("TalkingStatus", "on"))
        + bridge("ConfbridgeTalking", ("TalkingStatus", "off"))
        + bridge("ConfbridgeMute", ("Admin", "No"))
        + user_event("HotlineConfHand")
        + bridge("ConfbridgeLeave")
        + frame([("Event", "Hangup"), *snapshot, ("Cause", "16"), ("Cause-txt", "Normal")])
        + frame([("Event", "ConfbridgeEnd"), ("Conference", "hotline-conf-7")])
    )
    await wait_until(lambda: len(pair.signals) == 12, "twelve signals")

    assert kinds(pair.signals) == [
        SignalKind.RINGING,
        SignalKind.ANSWERED,
        SignalKind.PRESENT,
        SignalKind.JOINED,
        SignalKind.UNMUTED,
        SignalKind.TALKING,
        SignalKind.SILENT,
        SignalKind.MUTED,
        SignalKind.HAND,
        SignalKind.LEFT,
        SignalKind.HUNG_UP,
        SignalKind.ENDED,
    ]
    assert {(s.node, s.conference_id) for s in pair.signals} == {("b", 7)}
    points = [s for s in pair.signals if s.kind is not SignalKind.ENDED]
    assert {(s.point_id, s.attempt, s.channel) for s in points} == {(42, 2, channel)}
    assert pair.signals[-2].reason == "Normal"


async def test_an_absent_point_and_other_calls_events(pair: Pair) -> None:
    await pair.root.send(
        frame(
            [
                ("Event", "UserEvent"),
                ("UserEvent", "HotlineConfPoint"),
                ("Conference", "7"),
                ("Point", "5"),
                ("Attempt", "1"),
                ("State", "absent"),
            ]
        )
        # Not a conference's: a dispatch call and another UserEvent.
        + frame([("Event", "Hangup"), ("AccountCode", "dispatch-abc"), ("Cause", "16")])
        + frame([("Event", "UserEvent"), ("UserEvent", "HotlineRoute")])
    )
    await wait_until(lambda: len(pair.signals) >= 1, "a signal")
    await pair.root.send(frame([("Event", "ConfbridgeEnd"), ("Conference", "hotline-conf-8")]))
    await wait_until(lambda: len(pair.signals) == 2, "the end")
    assert [(s.kind, s.point_id, s.node) for s in pair.signals] == [
        (SignalKind.ABSENT, 5, "root"),
        (SignalKind.ENDED, None, "root"),
    ]


@pytest.mark.parametrize(
    ("reason", "dial_status", "kind"),
    [
        ("0", "BUSY", SignalKind.BUSY),  # Asterisk 22 says 0 for a 486: the DialEnd says busy
        ("5", "", SignalKind.BUSY),
        ("3", "NOANSWER", SignalKind.NO_ANSWER),
        ("0", "", SignalKind.FAILED),  # no DialEnd within the grace
        ("8", "CONGESTION", SignalKind.FAILED),
    ],
)
async def test_a_call_not_answered_is_busy_no_answer_or_failed(
    pair: Pair, reason: str, dial_status: str, kind: SignalKind
) -> None:
    pair.b.outcome = (reason, dial_status)
    await pair.pbx.dial_point(
        "b",
        conference_id=7,
        point_id=42,
        attempt=3,
        dial="PJSIP/team-c25741",
        title_prompt="t",
        ring_s=5,
    )
    # Its channel's Hangup (never answered) is not a HUNG_UP: the failure says it all.
    await pair.b.send(frame([("Event", "Hangup"), ("AccountCode", "conf-7-42-3"), ("Cause", "17")]))
    await wait_until(lambda: len(pair.signals) >= 1, "the failure")
    await pair.b.send(frame([("Event", "ConfbridgeEnd"), ("Conference", "hotline-conf-9")]))
    await wait_until(lambda: len(pair.signals) >= 2, "a later event")
    [failure, _] = pair.signals
    assert (failure.kind, failure.node, failure.point_id, failure.attempt) == (kind, "b", 42, 3)


async def test_controls_go_to_the_node_named_and_a_missing_bridge_is_a_no_op(pair: Pair) -> None:
    await pair.pbx.mute("b", 7, PARTICIPANTS)
    await pair.pbx.unmute("root", 7, "PJSIP/team-c25741-00000002")
    await pair.pbx.kick("b", 7, ALL_MEMBERS)
    await pair.pbx.lock("b", 7)
    await pair.pbx.unlock("b", 7)
    await pair.pbx.mute("b", 99, PARTICIPANTS)  # no such bridge there: nothing to do

    assert [(a["Action"], a["Conference"], a.get("Channel")) for a in pair.b.received[1:]] == [
        ("ConfbridgeMute", "hotline-conf-7", "participants"),
        ("ConfbridgeKick", "hotline-conf-7", "all"),
        ("ConfbridgeLock", "hotline-conf-7", None),
        ("ConfbridgeUnlock", "hotline-conf-7", None),
        ("ConfbridgeMute", "hotline-conf-99", "participants"),
    ]
    [unmute] = pair.sent(pair.root, "ConfbridgeUnmute")
    assert unmute["Channel"] == "PJSIP/team-c25741-00000002"
    with pytest.raises(ValueError, match="unknown conference node 'c'"):
        await pair.pbx.mute("c", 7, PARTICIPANTS)


async def test_an_unreachable_node_is_pbx_unavailable(pair: Pair) -> None:
    pair.b.ignore.add("confbridgemute")
    with pytest.raises(PbxUnavailable):
        await pair.pbx.mute("b", 7, PARTICIPANTS)


async def test_members_are_read_from_confbridge_list(pair: Pair) -> None:
    pair.b.bridges["hotline-conf-7"] = [
        {
            "Conference": "hotline-conf-7",
            "Channel": "PJSIP/team-c25741-00000002",
            "AccountCode": "conf-7-42-2",
            "Admin": "No",
            "MarkedUser": "No",
            "WaitMarked": "Yes",
            "Waiting": "Yes",
            "Muted": "Yes",
            "Talking": "No",
        },
        {
            "Conference": "hotline-conf-7",
            "Channel": "PJSIP/hotline-link-00000001",
            "AccountCode": "conflink-7",
            "Admin": "Yes",
            "MarkedUser": "Yes",
            "Waiting": "No",
            "Muted": "No",
            "Talking": "Yes",
        },
    ]

    point, link = await pair.pbx.members("b", 7)

    assert (point.node, point.point_id, point.muted, point.waiting, point.admin) == (
        "b",
        42,
        True,
        True,
        False,
    )
    assert (link.point_id, link.admin, link.marked, link.muted, link.talking) == (
        None,
        True,
        True,
        False,
        True,
    )
    assert await pair.pbx.members("b", 99) == []


async def test_a_node_links_to_the_root_and_says_when_the_link_is_up(pair: Pair) -> None:
    await pair.pbx.link_node("root", 7)  # the root is the tree's top: nothing to dial
    await pair.pbx.link_node("b", 7)

    assert pair.sent(pair.root, "Originate") == []
    [leg] = pair.sent(pair.b, "Originate")
    assert leg["Channel"] == "PJSIP/hotline-link/sip:conf-7@127.0.0.1:5060"
    assert leg["Context"] == "hotline-conf-link" and leg["Variable"] == "CONF_ID=7"
    join = [
        ("Conference", "hotline-conf-7"),
        ("Channel", "PJSIP/hotline-link-00000001"),
        ("AccountCode", leg["Account"]),
        ("Admin", "Yes"),
    ]
    await pair.b.send(
        frame([("Event", "ConfbridgeJoin"), *join]) + frame([("Event", "ConfbridgeLeave"), *join])
    )
    await wait_until(lambda: len(pair.signals) == 2, "link up and down")
    assert [(s.kind, s.node, s.point_id) for s in pair.signals] == [
        (SignalKind.LINK_UP, "b", None),
        (SignalKind.LINK_DOWN, "b", None),
    ]


async def test_a_failed_link_is_link_down(pair: Pair) -> None:
    pair.b.outcome = ("8", "CONGESTION")
    await pair.pbx.link_node("b", 7)
    await wait_until(lambda: len(pair.signals) == 1, "the link's failure")
    assert pair.signals[0].kind is SignalKind.LINK_DOWN and pair.signals[0].reason == "CONGESTION"


async def test_a_prompt_is_put_on_every_node(pair: Pair) -> None:
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)
    await pair.pbx.put_prompt("conf-title-7", wav)
    for paths in (pair.root_paths, pair.b_paths):
        assert (paths.host_path(paths.prompts_dir) / "conf-title-7.wav").read_bytes() == wav
    with pytest.raises(ValueError, match="bad prompt name"):
        await pair.pbx.put_prompt("../../etc/x", wav)
    with pytest.raises(ValueError, match="not a WAV"):
        await pair.pbx.put_prompt("conf-title-8", b"hello")


async def test_the_root_bridge_is_recorded_by_a_listener_leg(pair: Pair) -> None:
    path = await pair.pbx.start_record(7, "conference-7")

    inner = f"{pair.root_paths.inst}/spool/recordings/conferences/conference-7.wav"
    assert path == str(pair.root_paths.host_path(inner))
    assert Path(path).parent.is_dir()
    [rec] = pair.sent(pair.root, "Originate")
    assert rec["Channel"] == "Local/rec-7@hotline-conf-recorder/n"
    assert rec["Context"] == "hotline-conf-record"
    assert f"CONF_RECFILE={inner}" in rec["Variable"].split("\n")
    recorder = "Local/rec-7@hotline-conf-recorder-00000003;2"
    join = [("Conference", "hotline-conf-7"), ("Channel", recorder), ("Admin", "Yes")]
    await pair.root.send(frame([("Event", "ConfbridgeJoin"), *join]))
    await wait_until(lambda: len(pair.signals) == 1, "recording")
    assert pair.signals[0].kind is SignalKind.RECORDING

    pair.root.channels = [recorder, "Local/rec-7@hotline-conf-recorder-00000003;1", "PJSIP/x-1"]
    await pair.pbx.stop_record(7)
    assert pair.root.channels == ["PJSIP/x-1"]
    with pytest.raises(ValueError, match="bad recording name"):
        await pair.pbx.start_record(7, "../x")


def test_nodes_are_parsed_from_the_settings() -> None:
    good = {
        "name": "b",
        "ami_host": "127.0.0.1",
        "ami_port": "5039",
        "ami_username": "hotline",
        "ami_secret": "x",
        "sip_host": "127.0.0.1",
        "sip_port": 5070,
        "instance": "nodeb",
    }
    [node] = conference_nodes_from([good])
    assert node.ami_port == 5039 and node.sip_port == 5070 and node.instance == "nodeb"
    assert "x" not in repr(node).replace("127.0.0.1", "")  # the secret is not printed
    for bad, message in [
        ({k: v for k, v in good.items() if k != "sip_port"}, "no 'sip_port'"),
        ({**good, "ami_port": 70000}, "not a port"),
        ({**good, "name": "b c"}, "bad node name"),
        ({**good, "colour": "red"}, "unknown field"),
    ]:
        with pytest.raises(ValueError, match=message):
            conference_nodes_from([bad])
    with pytest.raises(ValueError, match="twice"):
        conference_nodes_from([good, good])
