"""The conference phones without Asterisk: the SIPp scenario's steps, what the phones log,
µ-law and the leader's tone, the RTP meter fed over UDP, and one real SIPp gateway phone
called by a few lines of SIP from the test (the real-Asterisk runs: tests/integration and
bench/conference_capacity.py)."""

from __future__ import annotations

import math
import socket
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulation.conference_phones import (
    PointBehaviour,
    PointCall,
    RtpMeter,
    SippGatewayPhone,
    free_media_port,
    noise_pcap,
    point_scenario,
    read_calls,
    tone_pcap,
    ulaw_decode,
    ulaw_encode,
)
from simulation.sipp import SippError


def _steps(xml: str) -> list[ET.Element]:
    return list(ET.fromstring(xml))


def _bye_waits(xml: str) -> list[tuple[str | None, str | None, str | None]]:
    return [
        (s.get("timeout"), s.get("ontimeout"), s.get("next"))
        for s in _steps(xml)
        if s.tag == "recv" and s.get("request") == "BYE"
    ]


def test_a_point_answers_presses_1_then_raises_its_hand_and_waits_for_the_bye() -> None:
    xml = point_scenario(
        PointBehaviour.raises_hand(answer_after_ms=800, after_ms=2000, hand_at_ms=9000),
        media_port=40000,
    )
    assert _bye_waits(xml) == [
        ("2000", "k0_0", "bye0"),
        ("7000", "k0_1", "bye0"),  # the hand 9 s after the answer, 7 s after the 1
        ("3600000", "nobye0", "bye0"),
    ]
    plays = [Path(e.get("play_pcap_audio", "")).name for e in ET.fromstring(xml).iter("exec")]
    assert plays == ["dtmf_1_0.pcap", "dtmf_star_1.pcap"]
    assert xml.index("180 Ringing") < xml.index('<pause milliseconds="800"/>')
    assert "m=audio [media_port] RTP/AVP 0 101" in xml


def test_a_point_with_a_meter_offers_the_meter_port_as_an_offset_of_sipps() -> None:
    up = point_scenario(PointBehaviour(rtp_port=40010), media_port=40000)
    down = point_scenario(PointBehaviour(rtp_port=39000), media_port=40000)
    assert "m=audio [media_port+10] RTP/AVP" in up
    assert "m=audio [media_port-1000] RTP/AVP" in down


def test_a_point_that_hangs_up_itself_does_so_after_its_last_key() -> None:
    xml = point_scenario(PointBehaviour(keys=((1000, "1"),), hangup_after_ms=5000), media_port=1)
    assert _bye_waits(xml)[-1] == ("4000", "hangup0", "bye0")
    assert "BYE [next_url] SIP/2.0" in xml and "To: [$caller]" in xml


def test_busy_never_answering_and_silent_points() -> None:
    busy = point_scenario(PointBehaviour.busy_line(), media_port=1)
    assert "486 Busy Here" in busy and "200 OK" not in busy
    ringing = point_scenario(PointBehaviour.never_answers(), media_port=1)
    assert "CSeq: [$cseq] INVITE" in ringing and "487 Request Terminated" in ringing
    silent = point_scenario(PointBehaviour.silent(answer_after_ms=0), media_port=1)
    assert "<pause" not in silent and "play_pcap_audio" not in silent
    assert _bye_waits(silent) == [("3600000", "nobye0", "bye0")]


def test_a_point_sends_its_noise_once_its_key_went_out(tmp_path: Path) -> None:
    noise = tmp_path / "noise.pcap"
    xml = point_scenario(PointBehaviour.presses(after_ms=2000, audio=noise), media_port=1)
    assert _bye_waits(xml) == [
        ("2000", "k0_0", "bye0"),
        ("250", "speak0", "bye0"),  # the key's RFC 4733 events take ~200 ms
        ("60000", "audio0", "bye0"),
    ]
    plays = [Path(e.get("play_pcap_audio", "")).name for e in ET.fromstring(xml).iter("exec")]
    assert plays == ["dtmf_1_0.pcap", "noise.pcap"]
    steps = [(s.tag, s.get("id")) for s in _steps(xml)]
    speak = steps.index(("label", "speak0"))
    assert steps[speak + 1][0] == "nop"  # logs "audio" when the wait ends, then plays
    assert steps[speak + 2] == ("label", "audio0")


def test_the_leader_plays_its_tone_again_until_the_bye(tmp_path: Path) -> None:
    tone = tmp_path / "tone.pcap"
    xml = point_scenario(PointBehaviour.leader(tone, tone_ms=30_000), media_port=1)
    assert _bye_waits(xml) == [("30000", "audio0", "bye0")]
    labels = [s.get("id") for s in _steps(xml) if s.tag == "label"]
    assert "audio0" in labels
    assert [e.get("play_pcap_audio") for e in ET.fromstring(xml).iter("exec")] == [str(tone)]


def test_the_gateway_chooses_the_behaviour_by_the_numbers_prefix() -> None:
    xml = point_scenario(
        PointBehaviour.presses("1"),
        media_port=1,
        by_prefix=[("0900", PointBehaviour.busy_line()), ("leader", PointBehaviour.silent())],
    )
    root = ET.fromstring(xml)
    regs = [e.get("regexp") for e in root.iter("ereg") if e.get("search_in") == "var"]
    assert regs == ["^0900", "^leader"]
    jumps = [(s.get("next"), s.get("test")) for s in _steps(xml) if s.get("test")]
    assert jumps == [("b0", "p0"), ("b1", "p1")]
    labels = [s.get("id") for s in _steps(xml) if s.tag == "label"]
    assert {"b0", "b1", "bye2", "end"} <= set(labels)  # the default's labels end in 2
    assert labels[-1] == "end"


@pytest.mark.parametrize(
    "make",
    [
        lambda: PointBehaviour(answer_after_ms=-1),
        lambda: PointBehaviour(keys=((2000, "1"), (2100, "*"))),  # closer than a key lasts
        lambda: PointBehaviour(keys=((2000, "x"),)),
        lambda: PointBehaviour(keys=((2000, "1"),), hangup_after_ms=1000),
        lambda: PointBehaviour(audio=Path("t.pcap"), hangup_after_ms=1000, keys=()),
    ],
)
def test_impossible_behaviours_are_refused(make: object) -> None:
    with pytest.raises(SippError):
        make()  # type: ignore[operator]


def test_a_prefix_is_not_a_regular_expression() -> None:
    with pytest.raises(SippError):
        point_scenario(PointBehaviour(), media_port=1, by_prefix=[("09.*", PointBehaviour())])


def test_calls_are_read_per_call_with_their_times(tmp_path: Path) -> None:
    (tmp_path / "gateway_1_logs.log").write_text(
        "conf-point 1 0913000001 10 called\n"
        "conf-point 2 team-c25741 12 called\n"
        "conf-point 1 0913000001 520 answered\n"
        "conf-point 2 team-c25741 13 busy\n"
        "noise\n"
        "conf-point 1 0913000001 2525 key 1\n"
        "conf-point 1 0913000001 9530 key *\n"
        "conf-point 1 0913000001 60000 bye\n"
    )
    first, second = read_calls(tmp_path)
    assert first == PointCall(
        "0913000001",
        ("called", "answered", "key 1", "key *", "bye"),
        (10, 520, 2525, 9530, 60000),
    )
    assert (first.keys, first.outcome, first.answered, first.when("key *")) == (
        "1*",
        "bye",
        True,
        9530,
    )
    assert (second.number, second.outcome, second.answered) == ("team-c25741", "busy", False)


def test_ulaw_round_trip_keeps_the_sample_within_its_step() -> None:
    samples = [0, 1, -1, 100, -100, 1000, -1000, 8000, -8000, 32000, -32000]
    back = ulaw_decode(ulaw_encode(samples))
    for s, b in zip(samples, back, strict=True):
        assert abs(s - b) <= max(4, abs(s) // 16)
    assert ulaw_encode([0]) == b"\xff" and ulaw_decode(b"\xff\x7f") == [0, 0]


def _records(pcap: Path) -> Iterator[bytes]:
    data = pcap.read_bytes()
    offset = 24
    while offset < len(data):
        captured = struct.unpack_from("<I", data, offset + 8)[0]
        yield data[offset + 16 : offset + 16 + captured]
        offset += 16 + captured


def test_the_tone_pcap_is_rtp_ulaw_every_20_ms_at_its_frequency() -> None:
    pcap = tone_pcap(1000, seconds=2, level_dbfs=-12)
    frames = list(_records(pcap))
    assert len(frames) == 100
    rtp = frames[1][42:]
    assert (rtp[0], rtp[1] & 0x7F, len(rtp)) == (0x80, 0, 12 + 160)
    assert struct.unpack(">HI", rtp[2:8]) == (1, 160)
    samples = ulaw_decode(rtp[12:])
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    assert 20 * math.log10(rms / 32768) == pytest.approx(-15, abs=0.5)  # a sine: peak - 3 dB
    # 1 kHz at 8 kHz: the waveform repeats every 8 samples.
    assert samples[:8] == pytest.approx(samples[8:16], abs=300)


@pytest.mark.parametrize("every", [3, 4])
def test_a_meter_sampling_some_samples_still_hears_the_tone(every: int) -> None:
    meter = RtpMeter(window_ms=1000, sample_every=every)
    for i, frame in enumerate(_records(tone_pcap(1000, seconds=1))):
        meter.feed(frame[42:], ("127.0.0.1", 1), meter._t0 + i * 0.02)
    (window,) = meter.windows(now=meter._t0 + 1.5)
    assert window.tone_share > 0.95  # from every sample, whatever the level's stride
    if every == 3:
        assert window.level_dbfs == pytest.approx(-15, abs=1)
    meter.stop()


def test_a_points_noise_is_quiet_and_not_a_tone() -> None:
    frames = list(_records(noise_pcap(seconds=1, level_dbfs=-55)))
    assert len(frames) == 50
    meter = RtpMeter(window_ms=1000)
    for i, frame in enumerate(frames):
        meter.feed(frame[42:], ("127.0.0.1", 1), meter._t0 + i * 0.02)
    (window,) = meter.windows(now=meter._t0 + 1.5)
    assert window.level_dbfs == pytest.approx(-55, abs=2) and window.tone_share < 0.1
    assert window.audio_ms == 1000
    meter.stop()


def _rtp(seq: int, payload: bytes, payload_type: int = 0) -> bytes:
    return struct.pack(">BBHII", 0x80, payload_type, seq, 160 * seq, 0x1234) + payload


def test_the_meter_tells_the_tone_from_noise_and_silence_per_window() -> None:
    tone = [frame[54:] for frame in _records(tone_pcap(1000, seconds=1))]
    noise = ulaw_encode((i * 7919) % 8000 - 4000 for i in range(160))  # not a 1 kHz tone
    meter = RtpMeter(window_ms=100)
    t0 = meter._t0
    for i in range(5):  # window 0: silence, 1: noise, 2: the tone, 3: DTMF
        meter.feed(_rtp(i, b"\xff" * 160), ("127.0.0.1", 20000), t0 + 0.01 + i * 0.02)
        meter.feed(_rtp(i, noise), ("127.0.0.1", 20002), t0 + 0.11 + i * 0.02)
        meter.feed(_rtp(i, tone[i]), ("127.0.0.1", 20004), t0 + 0.21 + i * 0.02)
        meter.feed(_rtp(i, b"\x01\x0a\x00\xa0", 101), ("127.0.0.1", 20004), t0 + 0.31)
    meter.feed(b"not rtp", ("127.0.0.1", 1), t0 + 0.32)
    windows = meter.windows(now=t0 + 0.45)
    assert [w.packets for w in windows] == [5, 5, 5, 5]
    silence, noisy, toned, dtmf = windows
    assert silence.level_dbfs == -math.inf and silence.audio_packets == 5
    assert noisy.level_dbfs > -30 and noisy.tone_share < 0.1
    assert toned.level_dbfs == pytest.approx(-15, abs=0.5) and toned.tone_share > 0.95
    assert (dtmf.audio_packets, dtmf.dtmf_packets) == (0, 5)
    assert (toned.audio_ms, dtmf.audio_ms) == (100.0, 0.0)  # 5 packets of 20 ms
    sources = meter.sources()
    assert sorted(p for _, p in sources) == [20000, 20002, 20004]
    assert sources[("127.0.0.1", 20004)].dtmf_packets == 5
    meter.stop()


def test_the_meter_hears_a_local_sender_over_udp() -> None:
    tone = [frame[54:] for frame in _records(tone_pcap(1000, seconds=1))]
    with RtpMeter() as meter, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        since = time.monotonic()
        levels, rates = [], []
        for i, payload in enumerate(tone[:40]):  # 0.8 s
            sender.sendto(_rtp(i, payload), ("127.0.0.1", meter.port))
            time.sleep(0.02)
            if i >= 25:  # the last complete windows, while it sends
                levels.append(meter.level())
                rates.append(meter.rate(since))
        assert meter.wait(lambda m: m.tone_ms(since) >= 400, timeout=2)
        # Every packet, once the window of the last one is complete.
        assert meter.wait(lambda m: m.packets(since - m.window_s) == 40, timeout=2)
        assert max(rates) > 20 and max(levels) > -20
        (source,) = meter.sources()
        assert source[1] == sender.getsockname()[1]
        time.sleep(0.5)  # the sender stops: the meter hears nothing
        assert meter.windows(time.monotonic() - 0.2 - 0.2)[-1].packets == 0


# --- a real SIPp gateway phone, called by the test ---------------------------------------


class _Caller:
    """A few lines of SIP over UDP: what Asterisk's INVITE, ACK and BYE look like to SIPp."""

    def __init__(self, gateway_port: int) -> None:
        self.gateway = ("127.0.0.1", gateway_port)
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind(("127.0.0.1", 0))
        self.sip.settimeout(5)
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp.settimeout(3)
        self.port = self.sip.getsockname()[1]

    def _send(self, method: str, number: str, call_id: str, cseq: int, **kw: str) -> None:
        body = kw.get("body", "")
        to_tag = kw.get("to_tag", "")
        lines = [
            f"{method} sip:{number}@127.0.0.1:{self.gateway[1]} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{kw.get('branch', call_id)}",
            "From: <sip:1022@127.0.0.1>;tag=hotline",
            f"To: <sip:{number}@127.0.0.1>" + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:1022@127.0.0.1:{self.port}>",
            "Max-Forwards: 70",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines += [f"Content-Length: {len(body)}", "", body]
        self.sip.sendto("\r\n".join(lines).encode(), self.gateway)

    def final(self) -> str:
        while True:
            message = self.sip.recv(8192).decode()
            if not message.startswith("SIP/2.0 1"):
                return message

    def invite(self, number: str, call_id: str) -> str:
        rtp_port = self.rtp.getsockname()[1]
        sdp = (
            "v=0\r\no=hotline 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\n"
        )
        self._send("INVITE", number, call_id, 1, body=sdp)
        return self.final()

    def close(self) -> None:
        self.sip.close()
        self.rtp.close()


def _tag(message: str) -> str:
    to = next(line for line in message.splitlines() if line.startswith("To:"))
    return to.split("tag=")[1].strip()


def test_a_gateway_phone_answers_presses_1_from_the_meters_port_and_logs_each_step() -> None:
    gateway_port = free_media_port() + 1  # free for UDP, odd: not a media port
    caller = _Caller(gateway_port)
    with RtpMeter() as meter:
        phone = SippGatewayPhone(
            gateway_port,
            default=PointBehaviour.busy_line(),
            by_prefix=[
                ("09", PointBehaviour(answer_after_ms=100, keys=((300, "1"),), rtp_port=meter.port))
            ],
        )
        phone.start()
        try:
            ok = caller.invite("0912345678", "present-1")
            assert ok.startswith("SIP/2.0 200 OK")
            assert f"m=audio {meter.port} RTP/AVP 0 101" in ok
            caller._send("ACK", "0912345678", "present-1", 1, to_tag=_tag(ok), branch="ack1")
            # The 1, as RFC 4733 events, comes from the port the point's SDP offered: the
            # meter's, so Asterisk's symmetric RTP keeps sending there.
            event, source = caller.rtp.recvfrom(2048)
            assert (event[1] & 0x7F, event[12], source[1]) == (101, 1, meter.port)
            since = time.monotonic()
            tone = [frame[54:] for frame in _records(tone_pcap(1000, seconds=1))]
            for i, payload in enumerate(tone[:25]):
                caller.rtp.sendto(_rtp(i, payload), ("127.0.0.1", meter.port))
                time.sleep(0.02)
            assert meter.wait(lambda m: m.tone_ms(since) >= 200, timeout=2)
            caller._send("BYE", "0912345678", "present-1", 2, to_tag=_tag(ok), branch="bye1")
            assert caller.final().startswith("SIP/2.0 200 OK")

            busy = caller.invite("0700000000", "busy-1")
            assert busy.startswith("SIP/2.0 486")
            caller._send("ACK", "0700000000", "busy-1", 1, to_tag=_tag(busy))

            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and [c.outcome for c in phone.calls()] != [
                "bye",
                "busy",
            ]:
                time.sleep(0.1)
            present, refused = phone.calls()
            assert (present.number, present.events) == (
                "0912345678",
                ("called", "answered", "key 1", "bye"),
            )
            answered, pressed = present.when("answered"), present.when("key 1")
            assert answered is not None and pressed is not None and pressed - answered >= 290
            assert (refused.number, refused.events) == ("0700000000", ("called", "busy"))
        finally:
            phone.stop()
            caller.close()
