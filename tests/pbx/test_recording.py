"""AmiRecordingPbx and AmiSpyPbx against a fake AMI: the events that become STARTED and
CLOSED (only once the file has its final name), the actions pause/resume, spying and its
modes send, and how a gone channel or a down Asterisk is reported."""

from __future__ import annotations

import asyncio
import os
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coaching.ports import SpyPbx
from pbx.ami import AmiLink
from pbx.errors import PbxUnavailable
from pbx.paths import AsteriskPaths
from pbx.recording import AmiRecordingPbx, AmiSpyPbx, SpyPhoneUnreachable, spy_mode_of
from pbx.recording_signals import RecordingKind, RecordingSignal, SignalKind, SpyMode
from recordings.ports import RecordingPbx
from tests.pbx.fake_ami import FakeAmi, frame
from tests.pbx.helpers import wait_until

CITIZEN = "PJSIP/pstn-00000007"
UID = "1765000000.7"
NAME = f"calls/2026/12/06/{UID}.wav"


class RecAmi(FakeAmi):
    """A fake AMI with channels (CoreShowChannels), their variables (Getvar), MixMonitorMute,
    Redirect, Hangup and Originate as Asterisk 22 answers them."""

    def __init__(self) -> None:
        super().__init__()
        # channel -> (uniqueid, application, application data, variables)
        self.chans: dict[str, tuple[str, str, str, dict[str, str]]] = {}
        self.recording: set[str] = set()  # channels with a MixMonitor
        self.phone_registered = True

    def _ok(self, aid: list[tuple[str, str]], message: str = "Success") -> bytes:
        return frame([("Response", "Success"), *aid, ("Message", message)])

    def _error(self, aid: list[tuple[str, str]], message: str) -> bytes:
        return frame([("Response", "Error"), *aid, ("Message", message)])

    def _action_coreshowchannels(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        out = [frame([("Response", "Success"), *aid, ("EventList", "start")])]
        for name, (uid, app, data, _) in self.chans.items():
            out.append(
                frame(
                    [
                        ("Event", "CoreShowChannel"),
                        *aid,
                        ("Channel", name),
                        ("Uniqueid", uid),
                        ("Application", app),
                        ("ApplicationData", data),
                        ("Duration", "00:01:05"),
                    ]
                )
            )
        out.append(
            frame(
                [
                    ("Event", "CoreShowChannelsComplete"),
                    *aid,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(self.chans))),
                ]
            )
        )
        return b"".join(out)

    def _action_getvar(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        chan = self.chans.get(action.get("Channel", ""))
        if chan is None:
            return self._error(aid, f"No such channel: {action.get('Channel')}")
        value = chan[3].get(action.get("Variable", ""), "")
        return frame(
            [("Response", "Success"), *aid, ("Variable", action["Variable"]), ("Value", value)]
        )

    def _action_mixmonitormute(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        channel = action.get("Channel", "")
        if channel not in self.chans:
            return self._error(aid, "No such channel")
        if channel not in self.recording:
            return self._error(aid, "Cannot set mute flag")
        return self._ok(aid)

    def _action_redirect(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        channel = action.get("Channel", "")
        if channel not in self.chans:
            return self._error(aid, f"Channel does not exist: {channel}")
        uid, _, data, variables = self.chans[channel]
        options = {"listen": "qEX", "whisper": "qEXw", "barge": "qEXB"}[action["Exten"]]
        target = data.partition(",")[0]
        self.chans[channel] = (uid, "ChanSpy", f"{target},{options}", variables)
        return self._ok(aid, "Redirect successful")

    def _action_hangup(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        if self.chans.pop(action.get("Channel", ""), None) is None:
            return self._error(aid, "No such channel")
        return self._ok(aid, "Channel Hungup")

    def _action_originate(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        queued = self._ok(aid, "Originate successfully queued")
        uid = action["ChannelId"]
        if not self.phone_registered:
            return queued + frame(
                [
                    ("Event", "OriginateResponse"),
                    *aid,
                    ("Response", "Failure"),
                    ("Channel", action["Channel"]),
                    ("Reason", "0"),
                    ("Uniqueid", uid),
                ]
            )
        name = f"{action['Channel']}-0000000a"
        target = action["Variable"].removeprefix("SPY_TARGET=")
        options = {"listen": "qEX", "whisper": "qEXw", "barge": "qEXB"}[action["Exten"]]
        self.chans[name] = (uid, "ChanSpy", f"{target},{options}", {})
        return queued + frame(
            [("Event", "Newchannel"), ("Channel", name), ("Uniqueid", uid), ("Exten", "s")]
        )


@dataclass
class Fixture:
    ami: RecAmi
    link: AmiLink
    paths: AsteriskPaths
    pbx: AmiRecordingPbx
    signals: list[RecordingSignal]

    def host(self, name: str) -> Path:
        return self.paths.host_path(f"{self.paths.recordings_dir}/{name}")

    async def announce(self, kind: str = "call", ref: str = UID, name: str = NAME) -> None:
        await self.ami.send(
            frame(
                [
                    ("Event", "UserEvent"),
                    ("UserEvent", "HotlineRecording"),
                    ("Channel", CITIZEN),
                    ("Uniqueid", UID),
                    ("Kind", kind),
                    ("Ref", ref),
                    ("File", name),
                    ("Timestamp", "1765000000.250000"),
                ]
            )
        )

    async def hangup(self) -> None:
        await self.ami.send(
            frame([("Event", "Hangup"), ("Channel", CITIZEN), ("Uniqueid", UID), ("Cause", "16")])
        )


@pytest.fixture
async def fx(tmp_path: Path) -> AsyncIterator[Fixture]:
    ami = RecAmi()
    await ami.start()
    link = AmiLink(
        host="127.0.0.1",
        port=ami.port,
        username=ami.username,
        secret=ami.secret,
        action_timeout=1.0,
        heartbeat_interval=60.0,
    )
    await link.start()
    paths = AsteriskPaths("main", tmp_path / "root")
    pbx = AmiRecordingPbx(link, paths, close_wait_s=5)
    signals: list[RecordingSignal] = []
    pbx.listen(signals.append)
    yield Fixture(ami, link, paths, pbx, signals)
    await pbx.close()
    await link.close()
    await ami.stop()


def write(path: Path, data: bytes = b"RIFF....WAVE") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_they_are_the_ports(fx: Fixture) -> None:
    rec: RecordingPbx = fx.pbx  # mypy checks the Protocols
    spy: SpyPbx = AmiSpyPbx(fx.link)
    assert rec is not None and spy is not None


async def test_the_dialplans_user_event_is_started_and_closed_waits_for_the_final_file(
    fx: Fixture,
) -> None:
    final = fx.host(NAME)
    part = final.with_name(f"{UID}.part.wav")
    write(part)
    await fx.announce()
    await wait_until(lambda: len(fx.signals) == 1, "STARTED")
    started = fx.signals[0]
    assert started == RecordingSignal(
        kind=SignalKind.STARTED,
        recording=RecordingKind.CALL,
        ref=UID,
        uniqueid=UID,
        channel=CITIZEN,
        path=str(final),
        name=NAME,
        at=datetime(2025, 12, 6, 5, 46, 40, 250000, tzinfo=UTC),
        instance="main",
    )
    await fx.hangup()
    # The channel ended but MixMonitor has not closed (renamed) the file yet: no CLOSED.
    await wait_until(lambda: bool(fx.pbx._tasks), "the wait for the file")
    write(final, b"RIFF-final")
    os.utime(final, (1765000100.0, 1765000100.0))
    await asyncio.sleep(0.3)
    assert len(fx.signals) == 1  # the .part file is still there
    part.unlink()  # the post-process rename done
    await wait_until(lambda: len(fx.signals) == 2, "CLOSED")
    closed = fx.signals[1]
    assert closed.kind is SignalKind.CLOSED
    assert (closed.name, closed.path, closed.ref, closed.channel) == (
        NAME,
        str(final),
        UID,
        CITIZEN,
    )
    assert closed.at == datetime.fromtimestamp(1765000100.0, UTC)  # when the file was closed


async def test_callbacks_dispatch_orders_and_conferences_have_their_ref(fx: Fixture) -> None:
    await fx.announce("callback", "42", f"callbacks/2026/12/06/{UID}.wav")
    await fx.announce("dispatch", "77", f"dispatch/2026/12/06/{UID}.wav")
    await fx.announce("conference", "5", "conferences/conference-5-20261206T101010Z.wav")
    await wait_until(lambda: len(fx.signals) == 3, "three STARTED")
    assert [(s.recording, s.ref) for s in fx.signals] == [
        (RecordingKind.CALLBACK, "42"),
        (RecordingKind.DISPATCH, "77"),
        (RecordingKind.CONFERENCE, "5"),
    ]
    # Record() closed the conference's file before its channel's Hangup: final at once.
    write(fx.host("conferences/conference-5-20261206T101010Z.wav"))
    await fx.hangup()
    await wait_until(lambda: len(fx.signals) == 4, "the conference's CLOSED")
    assert fx.signals[3].kind is SignalKind.CLOSED
    assert fx.signals[3].recording is RecordingKind.CONFERENCE


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("call", "../../etc/passwd"),
        ("call", f"calls/2026/12/06/../../{UID}.wav"),
        ("call", f"/abs/calls/2026/12/06/{UID}.wav"),
        ("call", f"callbacks/2026/12/06/{UID}.wav"),  # a call's file in callbacks/
        ("conference", f"calls/2026/12/06/{UID}.wav"),
        ("conference", "conferences/../x.wav"),
        ("conference", "conferences/.hidden.wav"),
        ("nonsense", f"calls/2026/12/06/{UID}.wav"),
        ("call", ""),
    ],
)
async def test_an_odd_announcement_is_ignored(fx: Fixture, kind: str, name: str) -> None:
    await fx.announce(kind, UID, name)
    await fx.announce()  # a good one after it
    await wait_until(lambda: len(fx.signals) == 1, "the good one")
    assert fx.signals[0].name == NAME


async def test_pause_and_resume_mute_both_directions(fx: Fixture) -> None:
    fx.ami.chans[CITIZEN] = (UID, "Queue", "medical", {})
    fx.ami.recording.add(CITIZEN)
    await fx.pbx.pause(CITIZEN)
    await fx.pbx.resume(CITIZEN)
    sent = [a for a in fx.ami.received if a["Action"] == "MixMonitorMute"]
    assert [(a["Channel"], a["Direction"], a["State"]) for a in sent] == [
        (CITIZEN, "both", "1"),
        (CITIZEN, "both", "0"),
    ]
    fx.ami.recording.clear()
    with pytest.raises(LookupError):
        await fx.pbx.pause(CITIZEN)  # records nothing
    with pytest.raises(LookupError):
        await fx.pbx.resume("PJSIP/gone-00000001")
    with pytest.raises(ValueError, match="bad channel"):
        await fx.pbx.pause("PJSIP/x\r\nAction: Originate")


async def test_a_down_asterisk_is_pbx_unavailable(fx: Fixture) -> None:
    fx.ami.ignore.add("mixmonitormute")
    with pytest.raises(PbxUnavailable):
        await fx.pbx.pause(CITIZEN)
    await fx.link.close()
    with pytest.raises(PbxUnavailable):
        await fx.pbx.open_recordings()


async def test_open_recordings_after_a_restart_are_found_and_followed(fx: Fixture) -> None:
    fx.ami.chans[CITIZEN] = (UID, "Queue", "medical", {"HOTLINE_REC": f"call:{UID}:{NAME}"})
    fx.ami.chans["PJSIP/agent01-00000008"] = ("1765000000.8", "AppQueue", "", {})
    final = fx.host(NAME)
    write(final.with_name(f"{UID}.part.wav"))
    found = await fx.pbx.open_recordings()
    assert [(s.kind, s.recording, s.ref, s.name, s.channel) for s in found] == [
        (SignalKind.STARTED, RecordingKind.CALL, UID, NAME, CITIZEN)
    ]
    assert fx.signals == []  # returned, not signalled
    # It ends while nobody watched its Hangup: the renamed file is enough.
    final.with_name(f"{UID}.part.wav").rename(final)
    await wait_until(lambda: len(fx.signals) == 1, "CLOSED", 5)
    assert fx.signals[0].kind is SignalKind.CLOSED and fx.signals[0].name == NAME


def test_the_mode_is_read_from_chanspys_options() -> None:
    assert spy_mode_of("qEX") is SpyMode.LISTEN
    assert spy_mode_of("qEXw") is SpyMode.WHISPER
    assert spy_mode_of("qEXB") is SpyMode.BARGE


async def test_spying_rings_the_phone_into_the_modes_extension(fx: Fixture) -> None:
    spy = AmiSpyPbx(fx.link)
    agent = "PJSIP/agent01-00000008"
    with pytest.raises(LookupError):
        await spy.spy(phone="sup01", target_channel=agent, mode=SpyMode.LISTEN, ring_s=20)
    fx.ami.chans[agent] = ("1765000000.8", "AppQueue", "", {})
    channel = await spy.spy(phone="sup01", target_channel=agent, mode=SpyMode.WHISPER, ring_s=20)
    assert channel == "PJSIP/sup01-0000000a"
    originate = next(a for a in fx.ami.received if a["Action"] == "Originate")
    assert originate["Channel"] == "PJSIP/sup01"
    assert (originate["Context"], originate["Exten"], originate["Priority"]) == (
        "hotline-spy",
        "whisper",
        "1",
    )
    assert originate["Variable"] == f"SPY_TARGET={agent}"
    assert originate["Timeout"] == "20000"
    sessions = await spy.sessions()
    assert [(s.spy_channel, s.target_channel, s.mode) for s in sessions] == [
        (channel, agent, SpyMode.WHISPER)
    ]
    await spy.change_mode(channel, SpyMode.BARGE)
    redirect = next(a for a in fx.ami.received if a["Action"] == "Redirect")
    assert (redirect["Channel"], redirect["Context"], redirect["Exten"]) == (
        channel,
        "hotline-spy",
        "barge",
    )
    assert [s.mode for s in await spy.sessions()] == [SpyMode.BARGE]
    await spy.stop(channel)
    assert await spy.sessions() == []
    await spy.stop(channel)  # gone: nothing to do
    with pytest.raises(LookupError):
        await spy.change_mode(channel, SpyMode.LISTEN)


async def test_a_phone_that_cannot_be_called_is_said_so(fx: Fixture) -> None:
    spy = AmiSpyPbx(fx.link)
    agent = "PJSIP/agent01-00000008"
    fx.ami.chans[agent] = ("1765000000.8", "AppQueue", "", {})
    fx.ami.phone_registered = False
    with pytest.raises(SpyPhoneUnreachable):
        await spy.spy(phone="sup02", target_channel=agent, mode=SpyMode.LISTEN, ring_s=20)
    with pytest.raises(ValueError, match="bad phone"):
        await spy.spy(phone="sup01/x", target_channel=agent, mode=SpyMode.LISTEN, ring_s=20)
    with pytest.raises(ValueError, match="bad channel"):
        await spy.spy(phone="sup01", target_channel=f"{agent},qB", mode=SpyMode.LISTEN, ring_s=20)


async def test_a_file_asterisk_never_closed_is_finished_with_what_was_recorded(
    tmp_path: Path,
) -> None:
    """Asterisk died mid-call: the part file's header still says 0 bytes. Long after the
    channel's end the service fixes the header and gives it its final name."""
    ami = RecAmi()
    await ami.start()
    link = AmiLink(
        host="127.0.0.1",
        port=ami.port,
        username=ami.username,
        secret=ami.secret,
        action_timeout=1.0,
        heartbeat_interval=60.0,
    )
    await link.start()
    paths = AsteriskPaths("main", tmp_path / "root")
    pbx = AmiRecordingPbx(link, paths, close_wait_s=0.3)
    signals: list[RecordingSignal] = []
    pbx.listen(signals.append)
    fx = Fixture(ami, link, paths, pbx, signals)
    try:
        final = fx.host(NAME)
        part = final.with_name(f"{UID}.part.wav")
        with wave.open(str(tmp_path / "full.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\x01\x00" * 8000)
        data = bytearray((tmp_path / "full.wav").read_bytes())
        data[4:8] = data[40:44] = b"\x00\x00\x00\x00"  # as Asterisk leaves it until closed
        write(part, bytes(data))
        await fx.announce()
        await fx.hangup()
        await wait_until(lambda: len(signals) == 2, "CLOSED after the salvage", 5)
        assert signals[1].kind is SignalKind.CLOSED
        assert there(final) and not there(part)
        with wave.open(str(final), "rb") as w:
            assert w.getnframes() == 8000
    finally:
        await pbx.close()
        await link.close()
        await ami.stop()


async def test_a_hangup_missed_while_the_link_was_down_is_caught_up(fx: Fixture) -> None:
    final = fx.host(NAME)
    write(final.with_name(f"{UID}.part.wav"))
    await fx.announce()
    await wait_until(lambda: len(fx.signals) == 1, "STARTED")
    logins = fx.ami.login_attempts
    await fx.ami.drop()  # the Hangup is sent while nobody listens; the channel is gone
    final.with_name(f"{UID}.part.wav").rename(final)
    await wait_until(lambda: fx.ami.login_attempts > logins, "the link to log in again")
    await wait_until(lambda: len(fx.signals) == 2, "CLOSED")
    assert fx.signals[1].kind is SignalKind.CLOSED


def there(path: Path) -> bool:
    return path.exists()
