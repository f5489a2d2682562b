"""Recording and listening in at the PBX level, on a real Asterisk (issue 15).

A SIPp citizen dials 1022, picks the medical queue and then plays a 1 kHz tone (its voice);
a SIPp agent answers. ``AmiRecordingPbx`` reports STARTED from the dialplan's
UserEvent(HotlineRecording) and CLOSED once the file is final; the WAV file is read back: the
tone is in it, and a pause (MixMonitorMute) is a stretch of digital silence between tone.
A SIPp supervisor's phone (sup01) is rung into the agent's call by ``AmiSpyPbx`` in each
mode, and CoreShowChannels shows ChanSpy on the agent's channel in that mode.
"""

from __future__ import annotations

import asyncio
import math
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from pbx.conference import AmiConferencePbx
from pbx.events import AgentConnect, AmiEvent
from pbx.recording import AmiRecordingPbx, AmiSpyPbx
from pbx.recording_signals import RecordingKind, RecordingSignal, SignalKind, SpyMode
from provision.secrets import supervisor_password
from simulation.citizens import citizen_scenario, run_citizens
from simulation.conference_phones import RtpMeter, tone_pcap
from simulation.sipp import remove_run
from simulation.stack import Stack, free_udp_tcp_port
from simulation.supervisor_phones import SippSupervisorPhone
from simulation.team_phones import SippTeamPhone

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]

TONE_HZ = 1000
WINDOW_S = 0.1


@dataclass
class Rec:
    stack: Stack
    pbx: AmiRecordingPbx
    spy: AmiSpyPbx
    signals: list[RecordingSignal] = field(default_factory=list)
    connects: list[AgentConnect] = field(default_factory=list)
    uniqueids: dict[str, str] = field(default_factory=dict)  # caller number -> uniqueid

    def start_call(self, number: str, *, keys: str = "121") -> asyncio.Task[None]:
        """A citizen calls, picks medical (121) and then plays the tone until the agent (who
        talks ``stack.talk_ms``) hangs up."""
        proc = run_citizens(
            citizen_scenario(keys, voice=tone_pcap(TONE_HZ, 90), wait_for_bye_ms=120_000),
            [number],
            server_port=self.stack.settings.sip_port,
            local_port=free_udp_tcp_port(),
            media_port=self.stack.next_media_port(),
        )

        async def run() -> None:
            try:
                rc = await asyncio.wait_for(asyncio.to_thread(proc.wait), 120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            remove_run(proc)
            assert rc == 0, f"SIPp citizen {number} failed ({rc}): {err[-1500:]}"

        return asyncio.create_task(run())

    async def signal(self, kind: SignalKind, number: str, within_s: float = 30) -> RecordingSignal:
        """The signal of ``kind`` for the call from ``number`` (found by its uniqueid)."""
        uid = await self.uniqueid_of(number)
        await self.stack.wait_for(
            lambda: any(s.kind is kind and s.uniqueid == uid for s in self.signals),
            within_s,
            f"{kind} of {number}",
        )
        return next(s for s in self.signals if s.kind is kind and s.uniqueid == uid)

    async def uniqueid_of(self, number: str, within_s: float = 20) -> str:
        """The uniqueid of the call from ``number``, as the tracker saw it while the call was
        up (kept here: a finished call leaves the tracker's memory once it is written)."""
        if number in self.uniqueids:
            return self.uniqueids[number]
        tracker = self.stack.running.tracker
        found: list[str] = []

        def seen() -> bool:
            found[:] = [c.uniqueid for c in tracker.calls.values() if c.caller_number == number]
            return bool(found)

        await self.stack.wait_for(seen, within_s, f"the call from {number}")
        self.uniqueids[number] = found[0]
        return found[0]

    async def agent_channel(self, uniqueid: str, within_s: float = 40) -> str:
        """The agent's channel once app_queue connected the call ``uniqueid``."""
        await self.stack.wait_for(
            lambda: any(c.uniqueid == uniqueid for c in self.connects),
            within_s,
            f"an agent to take {uniqueid}",
        )
        return next(c for c in self.connects if c.uniqueid == uniqueid).dest_channel


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rec(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rec]:
    async with Stack(
        state_dir=tmp_path_factory.mktemp("hotline"),
        talk_ms=14_000,
        settings={"callback_threshold_s": -1, "supervisor_phone_count": 2},
    ) as stack:
        assert stack.asterisk is not None
        link = stack.running.link
        pbx = AmiRecordingPbx(link, stack.asterisk)
        spy = AmiSpyPbx(link)
        r = Rec(stack, pbx, spy)
        pbx.listen(r.signals.append)

        def on_event(ev: AmiEvent) -> None:
            if isinstance(ev, AgentConnect):
                r.connects.append(ev)

        link.add_listener(on_event)
        await stack.start_agents(1)
        try:
            yield r
        finally:
            await pbx.close()


def windows(path: Path) -> list[tuple[float, float]]:
    """(RMS, share of the energy at the tone's frequency) of each 100 ms of the file."""
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        raw = w.readframes(w.getnframes())
    samples = [int.from_bytes(raw[i : i + 2], "little", signed=True) for i in range(0, len(raw), 2)]
    n = int(8000 * WINDOW_S)
    coeff = 2 * math.cos(2 * math.pi * TONE_HZ / 8000)
    out: list[tuple[float, float]] = []
    for start in range(0, len(samples) - n + 1, n):
        chunk = samples[start : start + n]
        energy = sum(x * x for x in chunk)
        s1 = s2 = 0.0
        for x in chunk:
            s1, s2 = x + coeff * s1 - s2, s1
        tone = (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2 / n  # Goertzel: power at TONE_HZ
        out.append((math.sqrt(energy / n), tone / energy if energy else 0.0))
    return out


def there(path: Path) -> bool:
    return path.exists()


def is_tone(w: tuple[float, float]) -> bool:
    return w[0] > 300 and w[1] > 0.5


async def test_an_answered_call_is_recorded_with_the_callers_voice_and_a_pause_is_silence(
    rec: Rec,
) -> None:
    number = "0902000001"
    call = rec.start_call(number)
    started = await rec.signal(SignalKind.STARTED, number)
    assert started.recording is RecordingKind.CALL
    assert started.ref == started.uniqueid
    assert started.name.startswith(f"calls/{started.at:%Y/%m/%d}/")
    assert started.name.endswith(f"/{started.uniqueid}.wav")
    assert started.path == str(
        rec.stack.asterisk.host_path(  # type: ignore[union-attr]
            f"{rec.stack.asterisk.recordings_dir}/{started.name}"  # type: ignore[union-attr]
        )
    )
    final = Path(started.path)
    part = final.with_name(final.name.removesuffix(".wav") + ".part.wav")
    assert there(part) and not there(final)  # recording: not final yet
    assert [s.name for s in await rec.pbx.open_recordings()] == [started.name]

    await rec.agent_channel(started.uniqueid)
    await asyncio.sleep(2)  # the caller's tone with the agent
    await rec.pbx.pause(started.channel)
    paused_at = time.time()
    await asyncio.sleep(3)
    await rec.pbx.resume(started.channel)
    resumed_at = time.time()
    with pytest.raises(LookupError):
        await rec.pbx.pause("PJSIP/nobody-00000000")

    await call
    closed = await rec.signal(SignalKind.CLOSED, number)
    assert closed.path == started.path and closed.name == started.name
    assert there(final) and not there(part)
    assert closed.at >= started.at
    assert await rec.pbx.open_recordings() == []

    ws = windows(final)
    assert len(ws) * WINDOW_S > 10  # menu, queue, talk
    tone = [i for i, w in enumerate(ws) if is_tone(w)]
    assert len(tone) * WINDOW_S > 5, "the caller's tone is not in the recording"
    # The pause: the longest run of digital silence, between stretches of the tone.
    best, run_start, run = (0, 0), 0, 0
    for i, (rms, _) in enumerate(ws):
        if rms < 1:
            run += 1
            if run > best[1]:
                best = (run_start, run)
        else:
            run, run_start = 0, i + 1
    silent_s = best[1] * WINDOW_S
    assert resumed_at - paused_at - 1.0 <= silent_s <= resumed_at - paused_at + 1.0, silent_s
    assert any(i < best[0] for i in tone) and any(i > best[0] + best[1] for i in tone)


async def test_a_supervisor_phone_joins_the_agents_call_in_each_mode(rec: Rec) -> None:
    stack = rec.stack
    media_port = stack.next_media_port()
    ear = RtpMeter(tone_hz=TONE_HZ)  # what the supervisor's phone hears
    phone = SippSupervisorPhone(
        endpoint="sup01",
        password=supervisor_password(stack.settings.secrets, "sup01"),
        server_port=stack.settings.sip_port,
        local_port=free_udp_tcp_port(),
        media_port=media_port,
        port_offset=ear.port - media_port,
    )
    ear.start()
    await asyncio.to_thread(phone.start)
    try:
        number = "0902000002"
        call = rec.start_call(number)
        uid = await rec.uniqueid_of(number)
        agent = await rec.agent_channel(uid)
        with pytest.raises(LookupError):
            await rec.spy.spy(
                phone="sup01",
                target_channel="PJSIP/agent09-0000ffff",
                mode=SpyMode.LISTEN,
                ring_s=10,
            )

        async def mode_shown(spy_channel: str, mode: SpyMode) -> None:
            async def shown() -> bool:
                return any(
                    s.spy_channel == spy_channel and s.target_channel == agent and s.mode is mode
                    for s in await rec.spy.sessions()
                )

            deadline = time.monotonic() + 10
            while not await shown():
                assert time.monotonic() < deadline, f"{spy_channel} never shown in {mode}"
                await asyncio.sleep(0.2)

        for mode in SpyMode:
            spy_channel = await rec.spy.spy(
                phone="sup01", target_channel=agent, mode=mode, ring_s=10
            )
            assert spy_channel.startswith("PJSIP/sup01-")
            await mode_shown(spy_channel, mode)
            since = time.monotonic()
            # The supervisor hears the call: the caller's tone.
            heard = await asyncio.to_thread(ear.wait, lambda m, t=since: m.tone_ms(t) >= 1000, 8)
            assert heard, f"no tone heard in {mode}: {ear.level():.0f} dBFS"
            other = SpyMode.BARGE if mode is not SpyMode.BARGE else SpyMode.LISTEN
            await rec.spy.change_mode(spy_channel, other)
            await mode_shown(spy_channel, other)
            await rec.spy.stop(spy_channel)
            deadline = time.monotonic() + 10
            while any(s.spy_channel == spy_channel for s in await rec.spy.sessions()):
                assert time.monotonic() < deadline, f"{spy_channel} still spying after stop"
                await asyncio.sleep(0.2)
            await rec.spy.stop(spy_channel)  # gone: a no-op
            with pytest.raises(LookupError):
                await rec.spy.change_mode(spy_channel, SpyMode.LISTEN)
        await call
    finally:
        phone.stop()
        ear.stop()


async def test_a_supervisor_changes_the_mode_with_the_phones_keys(rec: Rec) -> None:
    stack = rec.stack
    phone = SippSupervisorPhone(
        endpoint="sup02",
        password=supervisor_password(stack.settings.secrets, "sup02"),
        server_port=stack.settings.sip_port,
        local_port=free_udp_tcp_port(),
        media_port=stack.next_media_port(),
        keys="56",
        first_key_after_ms=1500,
        between_keys_ms=1500,
    )
    await asyncio.to_thread(phone.start)
    try:
        number = "0902000003"
        call = rec.start_call(number)
        agent = await rec.agent_channel(await rec.uniqueid_of(number))
        spy_channel = await rec.spy.spy(
            phone="sup02", target_channel=agent, mode=SpyMode.LISTEN, ring_s=10
        )
        seen: list[SpyMode] = []
        deadline = time.monotonic() + 12
        while SpyMode.BARGE not in seen:
            assert time.monotonic() < deadline, f"modes seen: {seen}"
            for s in await rec.spy.sessions():
                if s.spy_channel == spy_channel and (not seen or seen[-1] is not s.mode):
                    seen.append(s.mode)
            await asyncio.sleep(0.1)
        assert seen == [SpyMode.LISTEN, SpyMode.WHISPER, SpyMode.BARGE]
        assert phone.calls()[0].keys == "56"
        await call
        # The agent's call ended: ChanSpy (E) leaves and the supervisor's phone is hung up.
        deadline = time.monotonic() + 10
        while any(s.spy_channel == spy_channel for s in await rec.spy.sessions()):
            assert time.monotonic() < deadline, f"{spy_channel} outlived the agent's call"
            await asyncio.sleep(0.2)
        await stack.wait_for(lambda: phone.calls()[0].outcome == "bye", 10, "the BYE")
        with pytest.raises(LookupError):
            await rec.spy.spy(phone="sup02", target_channel=agent, mode=SpyMode.LISTEN, ring_s=5)
    finally:
        phone.stop()


async def test_a_callbacks_citizen_leg_and_a_dispatch_order_are_recorded(rec: Rec) -> None:
    """The two other dialplan places: Dial's U() subroutine on the called-back citizen's
    channel (hotline-callback-answered) and the team phone's answered call
    (hotline-dispatch), both reached here over the telephone network's gateway."""
    stack = rec.stack
    gateway = SippTeamPhone(
        local_port=int(stack.settings.callback_host.rsplit(":", 1)[1]),
        media_port=stack.next_media_port(),
        keys="",
        wait_for_bye_ms=60_000,
    )
    await asyncio.to_thread(gateway.start)
    link = stack.running.link
    try:
        await link.action(
            "Originate",
            {
                "Channel": "Local/s@hotline-callback-dial",
                "Application": "Wait",
                "Data": "3",
                "Variable": ["CB_ID=4242", "CB_NUMBER=0903000001"],
                "Async": "true",
            },
        )
        await link.action(
            "Originate",
            {
                "Channel": f"PJSIP/0903000002@{stack.settings.callback_endpoint}",
                "Context": "hotline-dispatch",
                "Exten": "s",
                "Priority": "1",
                "Variable": ["DISPATCH_ORDER=7777", "DISPATCH_TEAM=1", "DISPATCH_INCIDENT=31"],
                "Async": "true",
            },
        )

        def both(kind: SignalKind) -> list[RecordingSignal]:
            return [
                s
                for s in rec.signals
                if s.kind is kind
                and (s.ref, s.recording)
                in {
                    ("4242", RecordingKind.CALLBACK),
                    ("7777", RecordingKind.DISPATCH),
                }
            ]

        await stack.wait_for(lambda: len(both(SignalKind.CLOSED)) == 2, 40, "both CLOSED")
        started = sorted(both(SignalKind.STARTED), key=lambda s: s.ref)
        closed = sorted(both(SignalKind.CLOSED), key=lambda s: s.ref)
        assert [s.name.split("/")[0] for s in started] == ["callbacks", "dispatch"]
        assert [s.incident_id for s in started] == [None, 31]  # the order names its incident
        assert [s.name for s in closed] == [s.name for s in started]
        for s in closed:
            assert there(Path(s.path)), s.path
        assert sorted(gateway.called()) == ["0903000001", "0903000002"]
    finally:
        gateway.stop()


async def test_a_conferences_recording_is_announced_and_closed(rec: Rec) -> None:
    stack = rec.stack
    assert stack.asterisk is not None
    conf = AmiConferencePbx(
        stack.running.link, "root", stack.asterisk, ("127.0.0.1", stack.settings.sip_port), []
    )
    try:
        path = await conf.start_record(99, "conference-99-test")
        started = await wait_signal(rec, SignalKind.STARTED, "99")
        assert started.recording is RecordingKind.CONFERENCE
        assert started.name == "conferences/conference-99-test.wav"
        assert started.path == path
        await asyncio.sleep(1.5)
        await conf.stop_record(99)
        closed = await wait_signal(rec, SignalKind.CLOSED, "99")
        assert closed.name == started.name and there(Path(path))
        with wave.open(path, "rb") as w:
            assert w.getnframes() > 8000 // 2  # about 1.5 s, closed with its header
    finally:
        await conf.close()


async def wait_signal(rec: Rec, kind: SignalKind, ref: str) -> RecordingSignal:
    def found() -> list[RecordingSignal]:
        return [s for s in rec.signals if s.kind is kind and s.ref == ref]

    await rec.stack.wait_for(lambda: bool(found()), 20, f"{kind} of {ref}")
    return found()[0]
