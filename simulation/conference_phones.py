"""The phones of a command conference played by SIPp: the points the hotline calls and that
answer, press ``1`` (or not), raise a hand with ``*``; the leader's phone that speaks (a
continuous tone); and ``RtpMeter``, the ear that shows what a point heard.

- ``SippConferencePoints``: PJSIP endpoints (``team-c25741``…) in groups, one SIPp per group
  registering all of its endpoints from one port, each group answering with its
  ``PointBehaviour``.
- ``SippGatewayPhone``: one SIPp where ``PJSIP/<number>@pstn-out`` arrives (the gateway's
  ``callback_host``), answering every number the same way, or by the number's prefix; no
  registration, so thousands of points cost one process.
- ``PointBehaviour.leader()`` with ``tone_pcap()``: the commander speaking.
- ``RtpMeter``: a UDP receiver whose port a point advertises in its SDP instead of SIPp's own,
  so the point's incoming audio comes to Python: packets, µ-law level and a tone's share per
  200 ms window.

Every call is logged per step (``-trace_logs``) as ``conf-point <call> <number> <ms> <what>``
(``called``, ``busy``, ``rang out``, ``answered``, ``key <k>``, ``audio``, ``bye``, ``hung
up``, ``no bye``); ``calls()`` reads them back as ``PointCall``.

A point whose SDP names a meter also sends its key presses from that port (SIPp sends a
pcap from the port its SDP names), so Asterisk's symmetric RTP keeps sending to the meter.
"""

from __future__ import annotations

import math
import operator
import os
import random
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provision.secrets import team_phone_password
from simulation.agents import SippAgentPool
from simulation.ports import free_conference_media_port
from simulation.sipp import (
    DTMF_EVENTS,
    DTMF_PCAP_MS,
    SippError,
    dtmf_pcap,
    start_background,
    stop_background,
    uas_args,
)
from simulation.stack import free_udp_tcp_port

__all__ = [
    "LOG_TAG",
    "MeterWindow",
    "PointBehaviour",
    "PointCall",
    "PointGroup",
    "RtpMeter",
    "SippConferencePoints",
    "SippGatewayPhone",
    "SourceStats",
    "free_media_port",
    "noise_pcap",
    "point_scenario",
    "read_calls",
    "team_credentials",
    "tone_pcap",
    "ulaw_decode",
    "ulaw_encode",
]

LOG_TAG = "conf-point"
# How long a point waits for the hotline's BYE when nothing else is asked: an hour.
WAIT_FOR_BYE_MS = 3_600_000
TONE_CACHE = Path(tempfile.gettempdir()) / "hotline1022-tone"


# --- behaviours -------------------------------------------------------------------------


@dataclass(frozen=True)
class PointBehaviour:
    """What a phone does when the hotline calls it.

    ``busy``: answers 486. ``answer_after_ms`` None: rings until the hotline gives up
    (CANCEL). Else it answers after ``answer_after_ms``, presses each ``(ms, key)`` of
    ``keys`` that long after the answer (``((2000, "1"), (9000, "*"))``: present, then a
    raised hand), then with ``audio`` plays that pcap over and over (the leader's tone; a
    point's room noise, as a real phone keeps sending), and stays until the hotline's BYE --
    or hangs up itself ``hangup_after_ms`` after the answer. A key stops a pcap playing, so
    the audio starts after the last key.
    ``rtp_port``: the port its SDP offers (an ``RtpMeter``'s), else SIPp's own media port.
    """

    answer_after_ms: int | None = 500
    keys: tuple[tuple[int, str], ...] = ((2000, "1"),)
    busy: bool = False
    hangup_after_ms: int | None = None
    audio: Path | None = None
    audio_ms: int = 60_000  # the audio pcap's length: it is played again after that long
    rtp_port: int | None = None
    wait_for_bye_ms: int = WAIT_FOR_BYE_MS

    def __post_init__(self) -> None:
        if self.answer_after_ms is not None and self.answer_after_ms < 0:
            raise SippError("answer_after_ms must be positive, or None to never answer")
        previous = -DTMF_PCAP_MS
        for at, key in self.keys:
            if key not in DTMF_EVENTS:
                raise SippError(f"no RFC 4733 event for key {key!r}")
            if at < previous + DTMF_PCAP_MS:
                raise SippError(f"keys must come in order, {DTMF_PCAP_MS} ms apart: {self.keys}")
            previous = at
        if self.hangup_after_ms is not None and self.hangup_after_ms <= previous:
            raise SippError("a point hangs up after its last key")
        if self.audio is not None and self.hangup_after_ms is not None:
            raise SippError("a phone playing audio stays until the hotline hangs up")

    @classmethod
    def presses(
        cls,
        key: str = "1",
        *,
        answer_after_ms: int = 500,
        after_ms: int = 2000,
        rtp_port: int | None = None,
        audio: Path | None = None,
        audio_ms: int = 60_000,
    ) -> PointBehaviour:
        """Answers, listens to the roll call's question, presses ``key``, stays."""
        return cls(
            answer_after_ms=answer_after_ms,
            keys=((after_ms, key),),
            rtp_port=rtp_port,
            audio=audio,
            audio_ms=audio_ms,
        )

    @classmethod
    def silent(cls, *, answer_after_ms: int = 500) -> PointBehaviour:
        """Answers and presses nothing (absent after the question is asked twice)."""
        return cls(answer_after_ms=answer_after_ms, keys=())

    @classmethod
    def raises_hand(
        cls, *, answer_after_ms: int = 500, after_ms: int = 2000, hand_at_ms: int = 15_000
    ) -> PointBehaviour:
        """Answers, presses 1, and at ``hand_at_ms`` after the answer presses ``*``."""
        return cls(answer_after_ms=answer_after_ms, keys=((after_ms, "1"), (hand_at_ms, "*")))

    @classmethod
    def busy_line(cls) -> PointBehaviour:
        return cls(busy=True, keys=())

    @classmethod
    def never_answers(cls) -> PointBehaviour:
        return cls(answer_after_ms=None, keys=())

    @classmethod
    def leader(
        cls, tone: Path, *, answer_after_ms: int = 200, tone_ms: int = 60_000
    ) -> PointBehaviour:
        """The commander's phone: answers and speaks (a tone) until the hotline hangs up."""
        return cls(answer_after_ms=answer_after_ms, keys=(), audio=tone, audio_ms=tone_ms)


# --- the scenario -------------------------------------------------------------------------


def _log(what: str) -> str:
    message = f"{LOG_TAG} [call_number] [$number] [clock_tick] {what}"
    return f'<nop><action><log message="{message}"/></action></nop>'


def _reply(status: str, *, cseq: str = "[last_CSeq:]", body: str = "") -> str:
    content = (
        f"Content-Type: application/sdp\nContent-Length: [len]\n\n{body}"
        if body
        else "Content-Length: 0\n"
    )
    return f"""<![CDATA[
SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:];tag=[call_number]
[last_Call-ID:]
{cseq}
Contact: <sip:[local_ip]:[local_port]>
{content}
]]>"""


def _sdp(offset: int) -> str:
    """µ-law and RFC 4733 on SIPp's media port moved by ``offset`` (a meter's port): SIPp
    also sends its pcaps from the port so written."""
    port = "[media_port]" if offset == 0 else f"[media_port{offset:+d}]"
    return f"""v=0
o=point 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio {port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
"""


_OK_BYE = """<![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]>"""

_BYE = """<![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[local_ip]:[local_port]>;tag=[call_number]
To: [$caller]
[last_Call-ID:]
CSeq: 2 BYE
Contact: <sip:[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]>"""


def _branch(b: PointBehaviour, n: int, media_port: int) -> list[str]:
    """The steps of one behaviour, its labels suffixed with ``n``; each path ends at
    ``end``."""
    if b.busy:
        return [
            f"<send>{_reply('486 Busy Here')}</send>",
            '<recv request="ACK"/>',
            _log("busy"),
            '<nop next="end"/>',
        ]
    if b.answer_after_ms is None:
        return [
            f"<send>{_reply('180 Ringing')}</send>",
            '<recv request="CANCEL"/>',
            f"<send>{_reply('200 OK')}</send>",
            f"<send>{_reply('487 Request Terminated', cseq='CSeq: [$cseq] INVITE')}</send>",
            '<recv request="ACK"/>',
            _log("rang out"),
            '<nop next="end"/>',
        ]
    offset = 0 if b.rtp_port is None else b.rtp_port - media_port
    steps = [f"<send>{_reply('180 Ringing')}</send>"]
    if b.answer_after_ms > 0:
        steps.append(f'<pause milliseconds="{b.answer_after_ms}"/>')
    steps += [
        f'<send retrans="500">{_reply("200 OK", body=_sdp(offset))}</send>',
        '<recv request="ACK" crlf="true"/>',
        _log("answered"),
    ]
    at = 0
    for i, (key_at, key) in enumerate(b.keys):
        if key_at > at:
            # Listen; a BYE meanwhile ends the call, else press the key.
            steps.append(
                f'<recv request="BYE" timeout="{key_at - at}" ontimeout="k{n}_{i}" next="bye{n}"/>'
            )
        steps += [
            f'<label id="k{n}_{i}"/>',
            f'<nop><action><exec play_pcap_audio="{dtmf_pcap(key, i)}"/></action></nop>',
            _log(f"key {key}"),
        ]
        at = key_at
    if b.audio is not None:
        if b.keys:
            # A pcap started stops the one playing: let the last key's events all go first.
            steps.append(
                f'<recv request="BYE" timeout="{DTMF_PCAP_MS}" ontimeout="speak{n}" next="bye{n}"/>'
            )
        steps += [
            f'<label id="speak{n}"/>',
            _log("audio"),
            f'<label id="audio{n}"/>',
            f'<nop><action><exec play_pcap_audio="{b.audio}"/></action></nop>',
            f'<recv request="BYE" timeout="{b.audio_ms}" ontimeout="audio{n}" next="bye{n}"/>',
        ]
    elif b.hangup_after_ms is not None:
        steps.append(
            f'<recv request="BYE" timeout="{b.hangup_after_ms - at}" ontimeout="hangup{n}"'
            f' next="bye{n}"/>'
        )
    else:
        steps.append(
            f'<recv request="BYE" timeout="{b.wait_for_bye_ms}" ontimeout="nobye{n}"'
            f' next="bye{n}"/>'
        )
    steps += [
        f'<label id="hangup{n}"/>',
        f'<send retrans="500">{_BYE}</send>',
        '<recv response="200" timeout="10000"/>',
        _log("hung up"),
        '<nop next="end"/>',
        f'<label id="nobye{n}"/>',
        _log("no bye"),
        '<nop next="end"/>',
        f'<label id="bye{n}"/>',
        _log("bye"),
        f'<send next="end">{_OK_BYE}</send>',
    ]
    return steps


def point_scenario(
    default: PointBehaviour,
    *,
    media_port: int,
    by_prefix: Sequence[tuple[str, PointBehaviour]] = (),
) -> str:
    """A SIPp UAS answering every call with ``default``, or with the behaviour of the first
    prefix of ``by_prefix`` the called number (or endpoint) starts with. ``media_port``:
    the SIPp's ``-mp``, from which a behaviour's ``rtp_port`` is written as an offset."""
    for prefix, _ in by_prefix:
        if not prefix or any(c in prefix for c in "\\^$.|?*+()[]{}\"'<>&"):
            raise SippError(f"a prefix is letters, digits, '-' or '_': {prefix!r}")
    tests = [
        f'<ereg regexp="^{prefix}" search_in="var" variable="number" assign_to="p{i}"/>'
        for i, (prefix, _) in enumerate(by_prefix)
    ]
    steps = [_log("called")]
    steps += [f'<nop next="b{i}" test="p{i}"/>' for i in range(len(by_prefix))]
    steps += _branch(default, len(by_prefix), media_port)
    for i, (_, behaviour) in enumerate(by_prefix):
        steps += [f'<label id="b{i}"/>', *_branch(behaviour, i, media_port)]
    steps.append('<label id="end"/>')
    actions = "\n      ".join(
        [
            '<ereg regexp="^INVITE sip:([^@;]+)" search_in="msg" check_it="true"'
            ' assign_to="uri,number"/>',
            '<ereg regexp="CSeq: *([0-9]+)" search_in="msg" check_it="true" assign_to="cs,cseq"/>',
            '<ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller"/>',
            *tests,
        ]
    )
    body = "\n  ".join(steps)
    # SIPp refuses a variable set and never read: the whole matches, and what a scenario
    # without a CANCEL or its own BYE leaves unread.
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="conference point">
  <recv request="INVITE" rrs="true">
    <action>
      {actions}
    </action>
  </recv>
  {body}
  <Reference variables="uri,cs,cseq,caller"/>
</scenario>
"""


# --- what the phones did ------------------------------------------------------------------


@dataclass(frozen=True)
class PointCall:
    """One call a phone took: the number (or endpoint) called, what happened in order, and
    when (ms since its SIPp started)."""

    number: str
    events: tuple[str, ...]
    at_ms: tuple[int, ...] = ()

    @property
    def keys(self) -> str:
        return "".join(e.removeprefix("key ") for e in self.events if e.startswith("key "))

    @property
    def outcome(self) -> str:
        """The last step: ``bye`` (the hotline hung up), ``hung up`` (the phone did),
        ``busy``, ``rang out``, ``no bye``, or where the call is now."""
        return self.events[-1] if self.events else ""

    @property
    def answered(self) -> bool:
        return "answered" in self.events

    def when(self, event: str) -> int | None:
        """Ms since the SIPp started at which ``event`` happened first."""
        for what, at in zip(self.events, self.at_ms, strict=False):
            if what == event:
                return at
        return None


def read_calls(workdir: Path) -> list[PointCall]:
    """The calls logged by the SIPp that runs in ``workdir``, in the order they came."""
    events: dict[int, tuple[str, list[str], list[int]]] = {}
    for log_file in sorted(workdir.glob("*_logs.log")):
        for line in log_file.read_text(errors="replace").splitlines():
            _, found, rest = line.partition(f"{LOG_TAG} ")
            parts = rest.split(" ", 3)
            if not found or len(parts) < 4 or not parts[0].isdigit() or not parts[2].isdigit():
                continue
            entry = events.setdefault(int(parts[0]), (parts[1], [], []))
            entry[1].append(parts[3].strip())
            entry[2].append(int(parts[2]))
    return [PointCall(n, tuple(e), tuple(t)) for _, (n, e, t) in sorted(events.items())]


def _errors(workdir: Path) -> str:
    return "".join(f.read_text(errors="replace")[-2000:] for f in workdir.glob("*_errors.log"))


# --- ports --------------------------------------------------------------------------------


def free_media_port() -> int:
    """An even UDP port, it and the next three free (SIPp binds the media port and +2), in
    this test worker's conference media ports: apart from ``Stack.next_media_port``, from
    every Asterisk's RTP and below the ephemeral range (``simulation.ports``)."""
    try:
        return free_conference_media_port()
    except RuntimeError as exc:
        raise SippError(str(exc)) from exc


# --- the phones ---------------------------------------------------------------------------


def team_credentials(secrets: Any, endpoints: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(endpoint, password) of team phones from ``Settings().secrets``."""
    return tuple((e, team_phone_password(secrets, e)) for e in endpoints)


@dataclass(frozen=True)
class PointGroup:
    """Endpoints answering the same way: ``credentials`` are (endpoint, password)."""

    name: str
    behaviour: PointBehaviour
    credentials: tuple[tuple[str, str], ...]


@dataclass
class _Sipp:
    name: str
    local_port: int
    media_port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class SippConferencePoints:
    """Registered conference points (and leaders): one SIPp per ``PointGroup``, registering
    all its endpoints from one port, then answering them all with its behaviour.

    Usage::

        points = SippConferencePoints([
            PointGroup("present", PointBehaviour.presses("1"), team_credentials(s, eps)),
            PointGroup("busy", PointBehaviour.busy_line(), team_credentials(s, busy_eps)),
        ], server_port=settings.sip_port)
        points.start()
        ...
        points.calls()["team-c25741"]  # [PointCall(...)]
        points.stop()
    """

    groups: Sequence[PointGroup]
    server_port: int
    expires_s: int = 3600
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sipp-conf-")))
    _sipps: list[_Sipp] = field(default_factory=list)

    def start(self) -> None:
        """Register every group's endpoints, then answer in the background."""
        try:
            for group in self.groups:
                self._start(group)
        except BaseException:
            self.stop()
            raise

    def _start(self, group: PointGroup) -> None:
        if not group.credentials:
            return
        sipp = _Sipp(group.name, free_udp_tcp_port(), free_media_port(), self.workdir / group.name)
        sipp.workdir.mkdir(parents=True, exist_ok=True)
        SippAgentPool(
            list(group.credentials),
            self.server_port,
            sipp.local_port,
            sipp.media_port,
            expires_s=self.expires_s,
            workdir=sipp.workdir,
        ).register()
        scen = sipp.workdir / "point.xml"
        scen.write_text(point_scenario(group.behaviour, media_port=sipp.media_port))
        # -aa: a registered endpoint may be qualified (OPTIONS) between calls.
        args = [*uas_args(sipp.local_port, sipp.media_port, scen), "-aa"]
        sipp.proc = start_background(args, sipp.workdir, f"conference points {group.name}")
        self._sipps.append(sipp)

    def calls(self) -> dict[str, list[PointCall]]:
        """Every endpoint's calls so far, in the order they came."""
        found: dict[str, list[PointCall]] = {}
        for sipp in self._sipps:
            for call in read_calls(sipp.workdir):
                found.setdefault(call.number, []).append(call)
        return found

    def errors(self) -> str:
        return "".join(_errors(s.workdir) for s in self._sipps)

    def pids(self) -> list[int]:
        return [s.proc.pid for s in self._sipps if s.proc is not None]

    def stop(self) -> None:
        for sipp in self._sipps:
            stop_background(sipp.proc, sipp.workdir)
        self._sipps.clear()


@dataclass
class SippGatewayPhone:
    """The telephone network behind the hotline's gateway: one SIPp UAS on ``local_port``
    (the gateway's ``callback_host``) answering every ``PJSIP/<number>@pstn-out`` with
    ``default``, or with the behaviour of the first matching prefix of ``by_prefix``."""

    local_port: int
    default: PointBehaviour = field(default_factory=PointBehaviour.presses)
    by_prefix: Sequence[tuple[str, PointBehaviour]] = ()
    media_port: int = 0  # 0: a free one
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sipp-gw-")))
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.media_port == 0:
            self.media_port = free_media_port()
        scen = self.workdir / "gateway.xml"
        scen.write_text(
            point_scenario(self.default, media_port=self.media_port, by_prefix=self.by_prefix)
        )
        args = [*uas_args(self.local_port, self.media_port, scen), "-aa"]
        self.proc = start_background(args, self.workdir, "gateway phone SIPp")

    def calls(self) -> list[PointCall]:
        return read_calls(self.workdir)

    def errors(self) -> str:
        return _errors(self.workdir)

    def stop(self) -> None:
        stop_background(self.proc, self.workdir)
        self.proc = None


# --- µ-law and the tone -------------------------------------------------------------------

_BIAS = 0x84
_CLIP = 32635


def _encode(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, _CLIP) + _BIAS
    exponent = max((magnitude >> 7).bit_length() - 1, 0)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _decode(byte: int) -> int:
    u = ~byte & 0xFF
    sample = (((u & 0x0F) << 3) + _BIAS) << ((u >> 4) & 0x07)
    return -(sample - _BIAS) if u & 0x80 else sample - _BIAS


_DECODED = [_decode(b) for b in range(256)]
_SQUARED = [s * s for s in _DECODED]


def ulaw_encode(samples: Iterable[int]) -> bytes:
    """G.711 µ-law of 16-bit linear samples."""
    return bytes(_encode(int(s)) for s in samples)


def ulaw_decode(data: bytes) -> list[int]:
    return [_DECODED[b] for b in data]


def _checksum(header: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _write_pcap(dest: Path, payloads: Iterable[bytes]) -> Path:
    """G.711 µ-law RTP (payload type 0) in a pcap, one 160-byte payload every 20 ms, as
    SIPp's ``play_pcap_audio`` replays it."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for n, payload in enumerate(payloads):
        rtp = (
            struct.pack(">BBHII", 0x80, 0x80 if n == 0 else 0x00, n & 0xFFFF, n * 160, 0x10221022)
            + payload
        )
        udp = struct.pack(">HHHH", 10000, 10000, 8 + len(rtp), 0) + rtp
        ip = bytearray(
            struct.pack(
                ">BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(udp),
                n & 0xFFFF,
                0,
                64,
                17,
                0,
                bytes([127, 0, 0, 1]),
                bytes([127, 0, 0, 1]),
            )
        )
        struct.pack_into(">H", ip, 10, _checksum(bytes(ip)))
        frame = b"\x00" * 12 + b"\x08\x00" + bytes(ip) + udp
        usec = n * 20_000
        out += struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame))
        out += frame
    TONE_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(bytes(out))
    tmp.replace(dest)
    return dest


def tone_pcap(hz: int = 1000, seconds: int = 60, level_dbfs: float = -12.0) -> Path:
    """A pcap of µ-law RTP (20 ms packets) playing a sine of ``hz`` at ``level_dbfs``
    (peak) for ``seconds``: the leader's voice. Cached by its parameters.

    Make it last the whole call: SIPp replays a pcap from its first sequence number and
    timestamp, and Asterisk drops what seems to go back in time (the leader falls silent
    after the first replay). A multiple of 50 Hz fills every packet the same, so even an
    hour is written in a second."""
    if not 0 < hz < 4000 or seconds <= 0:
        raise SippError("a tone is below 4 kHz and lasts at least a second")
    dest = TONE_CACHE / f"tone_{hz}hz_{seconds}s_{-level_dbfs:g}dB.pcap"
    if dest.exists():
        return dest
    amplitude = 32767 * 10 ** (level_dbfs / 20)
    period = 1 if hz % 50 == 0 else seconds * 50  # packets before the payloads repeat
    payloads = [
        ulaw_encode(
            round(amplitude * math.sin(2 * math.pi * hz * (n * 160 + i) / 8000)) for i in range(160)
        )
        for n in range(period)
    ]
    return _write_pcap(dest, (payloads[n % period] for n in range(seconds * 50)))


def noise_pcap(seconds: int = 60, level_dbfs: float = -55.0) -> Path:
    """A pcap of µ-law RTP of quiet white noise at ``level_dbfs`` (RMS): a muted point's
    room, which a real phone keeps sending (Asterisk reads it, and with ``dsp_drop_silence``
    finds it silent). Seeded, cached by its parameters; 5 s of noise repeated, so a long
    one (as long as the call: see ``tone_pcap``) is quick to write."""
    if seconds <= 0:
        raise SippError("noise lasts at least a second")
    dest = TONE_CACHE / f"noise_{seconds}s_{-level_dbfs:g}dB.pcap"
    if dest.exists():
        return dest
    rng = random.Random(1022)
    sigma = 32768 * 10 ** (level_dbfs / 20)
    pool = [ulaw_encode(round(rng.gauss(0, sigma)) for _ in range(160)) for _ in range(250)]
    return _write_pcap(dest, (pool[n % len(pool)] for n in range(seconds * 50)))


# --- the ear --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterWindow:
    """One window of what an ``RtpMeter`` received (every source together)."""

    start: float  # time.monotonic()
    packets: int
    audio_packets: int  # µ-law (payload type 0)
    dtmf_packets: int  # RFC 4733 (payload type 101)
    audio_ms: float  # how much audio the µ-law packets carried (8 samples a ms)
    level_dbfs: float  # RMS of the µ-law audio; -inf when silent or none
    tone_share: float  # the tone's share of the audio's energy (0..1)


@dataclass
class SourceStats:
    """What one sender (an Asterisk RTP port: one call) sent to the meter."""

    packets: int = 0
    audio_packets: int = 0
    dtmf_packets: int = 0
    audio_ms: float = 0.0
    first_at: float = 0.0
    last_at: float = 0.0


@dataclass
class _Acc:
    packets: int = 0
    audio: int = 0
    dtmf: int = 0
    energy: float = 0.0
    samples: int = 0
    tone: float = 0.0
    audio_ms: float = 0.0


class RtpMeter:
    """A UDP receiver for a point's incoming RTP: packets and µ-law level per window, and
    the share of a ``tone_hz`` tone in it (the leader's 1 kHz, told from music or speech).

    Give its ``port`` as a ``PointBehaviour.rtp_port``; times are ``time.monotonic()``.
    Usage::

        with RtpMeter() as meter:
            ... PointBehaviour.presses("1", ...) with rtp_port=meter.port ...
            since = time.monotonic()
            ... the leader joins ...
            assert meter.wait(lambda m: m.tone_ms(since) >= 1000, timeout=10)

    Many points may share one meter (the bench's probes): windows add them all up;
    ``sources()`` tells them apart. ``sample_every`` > 1 measures the level on every n-th
    sample only, for a meter that receives many streams: take a prime such as 3 or 5, as
    every 4th sample of a 1 kHz sine at 8 kHz can be its zero crossings.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        window_ms: int = 200,
        tone_hz: float | None = 1000.0,
        sample_every: int = 1,
    ) -> None:
        self.window_s = window_ms / 1000
        self.tone_hz = tone_hz
        self.sample_every = max(sample_every, 1)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._sock.bind((host, port))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._t0 = time.monotonic()
        self._windows: dict[int, _Acc] = {}
        self._sources: dict[tuple[str, int], SourceStats] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._cos: list[float] = []
        self._sin: list[float] = []

    def __enter__(self) -> RtpMeter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rtp-meter", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        self._sock.close()

    def _tables(self, n: int) -> None:
        if len(self._cos) != n and self.tone_hz is not None:
            w = 2 * math.pi * self.tone_hz / 8000
            self._cos = [math.cos(w * i) for i in range(n)]
            self._sin = [math.sin(w * i) for i in range(n)]

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                data, addr = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.feed(data, addr, time.monotonic())

    def feed(self, data: bytes, source: tuple[str, int], now: float) -> None:
        """Count one received datagram (the receiving thread calls it; tests may too)."""
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        offset = 12 + 4 * (data[0] & 0x0F)
        if data[0] & 0x10 and len(data) >= offset + 4:
            offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
        payload_type = data[1] & 0x7F
        payload = data[offset:]
        energy, tone, samples = 0.0, 0.0, 0
        if payload_type == 0 and payload:
            picked = payload[:: self.sample_every]
            samples = len(picked)
            energy = float(sum(map(_SQUARED.__getitem__, picked)))
            whole = sum(map(_SQUARED.__getitem__, payload)) if self.tone_hz is not None else 0
            if whole > 0:
                decoded = list(map(_DECODED.__getitem__, payload))
                self._tables(len(decoded))
                re = sum(map(operator.mul, decoded, self._cos))
                im = sum(map(operator.mul, decoded, self._sin))
                tone = min(2 * (re * re + im * im) / (len(decoded) * whole), 1.0)
        index = int((now - self._t0) / self.window_s)
        with self._lock:
            acc = self._windows.setdefault(index, _Acc())
            acc.packets += 1
            stats = self._sources.get(source)
            if stats is None:
                stats = self._sources[source] = SourceStats(first_at=now)
            stats.packets += 1
            stats.last_at = now
            if payload_type == 0:
                acc.audio += 1
                acc.energy += energy
                acc.samples += samples
                acc.tone += tone
                acc.audio_ms += len(payload) / 8
                stats.audio_packets += 1
                stats.audio_ms += len(payload) / 8
            elif payload_type == 101:
                acc.dtmf += 1
                stats.dtmf_packets += 1

    def windows(self, since: float = 0.0, *, now: float | None = None) -> list[MeterWindow]:
        """The complete windows that started at or after ``since``, in order; windows that
        received nothing are there too (0 packets)."""
        now = time.monotonic() if now is None else now
        last = int((now - self._t0) / self.window_s)  # the current, incomplete window
        first = max(math.ceil((since - self._t0) / self.window_s - 1e-9), 0)
        with self._lock:
            accs = {i: self._windows.get(i) for i in range(first, last)}
        out = []
        for i, acc in accs.items():
            start = self._t0 + i * self.window_s
            if acc is None:
                out.append(MeterWindow(start, 0, 0, 0, 0.0, -math.inf, 0.0))
                continue
            rms = math.sqrt(acc.energy / acc.samples) if acc.samples else 0.0
            level = 20 * math.log10(rms / 32768) if rms > 0 else -math.inf
            share = acc.tone / acc.audio if acc.audio else 0.0
            out.append(
                MeterWindow(start, acc.packets, acc.audio, acc.dtmf, acc.audio_ms, level, share)
            )
        return out

    def level(self) -> float:
        """The level (dBFS) of the last complete window."""
        windows = self.windows(time.monotonic() - 2 * self.window_s)
        return windows[-1].level_dbfs if windows else -math.inf

    def loud_ms(self, since: float, threshold_dbfs: float = -45.0) -> float:
        """How long, since ``since``, the audio was at least ``threshold_dbfs``."""
        ws = self.windows(since)
        return 1000 * self.window_s * sum(1 for w in ws if w.level_dbfs >= threshold_dbfs)

    def tone_ms(self, since: float, threshold_dbfs: float = -45.0, share: float = 0.6) -> float:
        """How long, since ``since``, the audio was loud and mostly the tone."""
        ws = self.windows(since)
        return (
            1000
            * self.window_s
            * sum(1 for w in ws if w.level_dbfs >= threshold_dbfs and w.tone_share >= share)
        )

    def packets(self, since: float = 0.0) -> int:
        return sum(w.packets for w in self.windows(since))

    def rate(self, since: float) -> float:
        """Packets per second received since ``since`` (complete windows only)."""
        ws = self.windows(since)
        return sum(w.packets for w in ws) / (len(ws) * self.window_s) if ws else 0.0

    def sources(self) -> dict[tuple[str, int], SourceStats]:
        with self._lock:
            return {k: SourceStats(**vars(v)) for k, v in self._sources.items()}

    def wait(
        self, condition: Callable[[RtpMeter], bool], timeout: float, poll_s: float = 0.1
    ) -> bool:
        """Wait (blocking) until ``condition(self)`` holds; whether it did in time."""
        deadline = time.monotonic() + timeout
        while True:
            if condition(self):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)
