"""SIPp as citizens and agents: scenario files and the processes that play them.

Citizens dial 1022 from the simulated telephone network (unauthenticated, from loopback) and
press keys as RFC 4733 events replayed from the pcaps Debian's ``sip-tester`` ships. Agents
register with their generated credentials, then answer whatever app_queue sends them, talk
for a while and hang up. Rapid-response teams' phones answer the hotline's orders and press
a key (``SippTeamPhone``).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

__all__ = [
    "ScheduledCall",
    "SippAgent",
    "SippAgentPool",
    "SippCallee",
    "SippError",
    "SippTeamPhone",
    "TeamPhoneCall",
    "callee_scenario",
    "citizen_scenario",
    "dtmf_pcap",
    "dtmf_sequence_pcap",
    "late_calls",
    "peak_citizen_scenario",
    "remove_run",
    "run_citizens",
    "run_dir",
    "run_scheduled_citizens",
    "team_phone_scenario",
]

PCAP_DIR = Path("/usr/share/sip-tester")
DTMF_NAMES = {"*": "star", "#": "pound"}
# Each RFC 4733 pcap holds one key's events over ~200 ms; wait that long before the next key.
DTMF_PCAP_MS = 250


class SippError(RuntimeError):
    """SIPp is missing, or a scenario failed."""


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise SippError("sipp is not installed (apt-get install sip-tester)")
    return path


DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
DTMF_CACHE = Path(tempfile.gettempdir()) / "hotline1022-dtmf"


def _dtmf_records(template: bytes, key: str, position: int, shift_ms: int) -> bytes:
    """The template's records (after its file header) as the ``position``-th key of a call:
    RTP sequence numbers and timestamps that grow with the position, the key's event code, and
    capture times ``shift_ms`` later (SIPp replays a pcap at its capture times)."""
    data = bytearray(template[24:])
    offset, index = 0, 0
    while offset + 16 <= len(data):
        sec, usec, captured = struct.unpack_from("<III", data, offset)
        usec += shift_ms * 1000
        struct.pack_into("<II", data, offset, sec + usec // 1_000_000, usec % 1_000_000)
        rtp = offset + 16 + 42  # record header, then Ethernet (14) + IPv4 (20) + UDP (8)
        struct.pack_into(
            ">HI", data, rtp + 2, 1000 * (position + 1) + index, 16000 * (position + 1)
        )
        data[rtp + 12] = DTMF_EVENTS[key]
        offset += 16 + captured
        index += 1
    return bytes(data)


def _template() -> bytes:
    template = PCAP_DIR / "dtmf_2833_1.pcap"
    if not template.exists():
        raise SippError(f"no RFC 4733 pcap at {template} (apt-get install sip-tester)")
    return template.read_bytes()


def _write_cached(dest: Path, data: bytes) -> Path:
    DTMF_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return dest


def dtmf_pcap(key: str, position: int = 0) -> Path:
    """An RFC 4733 pcap for ``key`` as the ``position``-th key of a call.

    Debian's pcaps all carry the same RTP timestamps, and Asterisk drops an event whose
    timestamp is older than the last one it saw on the channel: "21" would lose its "1".
    So each key of a call gets its own copy with timestamps and sequence numbers that grow
    with its position, the event code of the key, and the rest of the template unchanged.
    """
    if key not in DTMF_EVENTS:
        raise SippError(f"no RFC 4733 event for key {key!r}")
    dest = DTMF_CACHE / f"dtmf_{DTMF_NAMES.get(key, key)}_{position}.pcap"
    if dest.exists():
        return dest
    template = _template()
    return _write_cached(dest, template[:24] + _dtmf_records(template, key, position, 0))


def dtmf_sequence_pcap(keys: str, spacing_ms: int) -> Path:
    """One pcap that presses every key of ``keys``, a key every ``spacing_ms``: a call plays
    its whole path with one ``play_pcap_audio``, chosen per call (see ``peak_citizen_scenario``).
    """
    if not keys:
        raise SippError("a key sequence needs at least one key")
    for key in keys:
        if key not in DTMF_EVENTS:
            raise SippError(f"no RFC 4733 event for key {key!r}")
    name = "".join(DTMF_NAMES.get(k, k) for k in keys)
    dest = DTMF_CACHE / f"dtmf_seq_{name}_{spacing_ms}.pcap"
    if dest.exists():
        return dest
    template = _template()
    body = b"".join(_dtmf_records(template, key, i, i * spacing_ms) for i, key in enumerate(keys))
    return _write_cached(dest, template[:24] + body)


def sdp(user: str) -> str:
    """An audio offer/answer: G.711 µ-law and RFC 4733 events (payload type 101, as in
    sip-tester's pcaps)."""
    return f"""v=0
o={user} 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
"""


def citizen_scenario(
    keys: str = "",
    *,
    first_key_after_ms: int = 1500,
    between_keys_ms: int = 1000,
    hangup_after_ms: int | None = None,
    caller_name: str = "Nguyễn Văn An",
    wait_for_bye_ms: int = 300_000,
) -> str:
    """A citizen who dials 1022, presses ``keys`` and then either waits for the hotline to
    hang up (the agent ended the call) or hangs up after ``hangup_after_ms``."""
    from_ = f'From: "{escape(caller_name)}" <sip:[field0]@[local_ip]>;tag=[call_number]'

    def request(method: str, cseq: int) -> str:
        """A request inside the call's dialog (after the 200 OK: the hotline's tag)."""
        return (
            f"{method} sip:1022@[remote_ip]:[remote_port] SIP/2.0\n"
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
            f"{from_}\nTo: <sip:1022@[remote_ip]>[peer_tag_param]\nCall-ID: [call_id]\n"
            f"CSeq: {cseq} {method}\nMax-Forwards: 70\nContent-Length: 0\n"
        )

    actions: list[str] = [f'<pause milliseconds="{first_key_after_ms}"/>']
    for i, key in enumerate(keys):
        if i:
            actions.append(f'<pause milliseconds="{between_keys_ms}"/>')
        actions.append(f'<nop><action><exec play_pcap_audio="{dtmf_pcap(key, i)}"/></action></nop>')
        actions.append(f'<pause milliseconds="{DTMF_PCAP_MS}"/>')
    if hangup_after_ms is None:
        ending = f"""
  <recv request="BYE" timeout="{wait_for_bye_ms}"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"""
    else:
        ending = f"""
  <pause milliseconds="{hangup_after_ms}"/>
  <send retrans="500"><![CDATA[
{request("BYE", 2)}
]]></send>
  <recv response="200" timeout="10000"/>
"""
    body = "\n  ".join(actions)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="citizen dials 1022">
  <send retrans="500"><![CDATA[
INVITE sip:1022@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{from_}
To: <sip:1022@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{sdp("citizen")}
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
{request("ACK", 1)}
]]></send>
  {body}
  {ending}
</scenario>
"""


def register_scenario(
    user: str, password: str, expires: int = 3600, *, auth_keyword: str | None = None
) -> str:
    """Register ``user``, answering the digest challenge with ``password`` or, for many
    users from an injection file, with ``auth_keyword`` (such as ``[field1]`` whose field
    holds a whole ``[authentication username=… password=…]``: SIPp does not expand a
    field inside the authentication keyword)."""
    auth_line = auth_keyword or f"[authentication username={user} password={password}]"

    def register(cseq: int, auth: str) -> str:
        return f"""<send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[remote_ip]>;tag=[call_number]
To: <sip:{user}@[remote_ip]>
Call-ID: [call_id]
CSeq: {cseq} REGISTER
Contact: <sip:{user}@[local_ip]:[local_port]>
Max-Forwards: 70
Expires: {expires}
{auth}Content-Length: 0

]]></send>"""

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="register {user}">
  {register(1, "")}
  <recv response="401" auth="true"/>
  {register(2, auth_line + chr(10))}
  <recv response="200"/>
</scenario>
"""


# The talk of an agent who hangs up after ``{talk_ms}`` or when the other side does first.
_AGENT_WAITS_FOR_BYE = """  <recv request="BYE" timeout="{talk_ms}" ontimeout="hangup"/>
  <send next="end"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <label id="hangup"/>
"""


def agent_scenario(talk_ms: int, *, exponential: bool = False) -> str:
    """An agent's softphone: answer app_queue's call at once, talk, hang up.

    Talk lasts ``talk_ms`` -- unless the other side hangs up first (a called-back citizen
    who does not answer ends the agent's call from the hotline's side). With
    ``exponential`` the talk time is drawn for each call from an exponential distribution
    of that mean (SIPp's GSL distributions), as Erlang C assumes; SIPp cannot wait for a BYE
    for a random time, so such an agent always hangs up itself.
    """
    if exponential:
        talk = f'  <pause distribution="exponential" mean="{talk_ms}"/>\n'
    else:
        talk = _AGENT_WAITS_FOR_BYE.replace("{talk_ms}", str(talk_ms))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="agent answers">
  <recv request="INVITE" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller"/>
    </action>
  </recv>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port]>
Content-Length: 0

]]></send>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

{sdp("agent")}
]]></send>
  <recv request="ACK" crlf="true"/>
{talk}  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[local_ip]:[local_port]>;tag=[call_number]
To: [$caller]
[last_Call-ID:]
CSeq: 2 BYE
Contact: <sip:[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" timeout="10000"/>
  <label id="end"/>
</scenario>
"""


def callee_scenario(*, answer_after_ms: int = 500, silent: str = "") -> str:
    """A citizen's phone the hotline calls back: ring, answer after ``answer_after_ms``, then
    wait for the hotline to hang up. A number matching the regular expression ``silent``
    (matched at the start of the dialled number) rings until the hotline gives up: no answer.
    Each call's number is logged (``-trace_logs``) so a test can tell who was called."""
    silent_check = (
        f'<ereg regexp="^INVITE sip:({silent})" search_in="msg" check_it="false"'
        ' assign_to="silent"/>'
        if silent
        else ""
    )

    def reply(status: str, cseq: str = "[last_CSeq:]", sdp_body: bool = False) -> str:
        body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{sdp('citizen')}"
        return f"""SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:];tag=[call_number]
[last_Call-ID:]
{cseq}
Contact: <sip:[local_ip]:[local_port]>
{body if sdp_body else "Content-Length: 0" + chr(10)}"""

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="citizen called back">
  <recv request="INVITE" rrs="true">
    <action>
      <ereg regexp="^INVITE sip:([^@;]+)" search_in="msg" check_it="true" assign_to="uri,number"/>
      <ereg regexp="CSeq: *([0-9]+)" search_in="msg" check_it="true" assign_to="cs,cseq"/>
      {silent_check}
      <log message="called [$number]"/>
    </action>
  </recv>
  <send><![CDATA[
{reply("180 Ringing")}
]]></send>
  <nop test="silent" next="ring"/>
  <pause milliseconds="{answer_after_ms}"/>
  <send retrans="500"><![CDATA[
{reply("200 OK", sdp_body=True)}
]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send next="end"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <label id="ring"/>
  <recv request="CANCEL"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send><![CDATA[
{reply("487 Request Terminated", cseq="CSeq: [$cseq] INVITE")}
]]></send>
  <recv request="ACK"/>
  <label id="end"/>
  <!-- whole matches of the regular expressions above, never read -->
  <Reference variables="uri,cs"/>
</scenario>
"""


def _uas_args(local_port: int, media_port: int, scenario: Path) -> list[str]:
    """A SIPp that waits to be called (no remote host: it answers whoever calls)."""
    return [
        sipp_binary(),
        "-i",
        "127.0.0.1",
        "-p",
        str(local_port),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(media_port),
        "-nostdin",
        "-nd",
        "-sf",
        str(scenario),
        "-trace_err",
        "-trace_logs",
        "-max_recv_loops",
        "1000",
    ]


def _base_args(local_port: int, media_port: int, server_port: int) -> list[str]:
    return [
        sipp_binary(),
        f"127.0.0.1:{server_port}",
        "-i",
        "127.0.0.1",
        "-p",
        str(local_port),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(media_port),
        "-nostdin",
        "-nd",
        "-aa",
    ]


@dataclass
class SippAgent:
    """One agent's softphone played by SIPp: register, then answer calls until stopped."""

    endpoint: str
    password: str
    server_port: int
    local_port: int
    media_port: int
    talk_ms: int = 2000
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sipp-agent-")))
    proc: subprocess.Popen[bytes] | None = None

    def register(self, timeout: float = 10) -> None:
        scen = self.workdir / "register.xml"
        scen.write_text(register_scenario(self.endpoint, self.password))
        args = [
            *_base_args(self.local_port, self.media_port, self.server_port),
            "-sf",
            str(scen),
            "-m",
            "1",
            "-timeout",
            f"{int(timeout)}s",
            "-timeout_error",
        ]
        proc = subprocess.run(
            args,
            capture_output=True,
            timeout=timeout + 5,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise SippError(
                f"{self.endpoint} could not register (sipp exit {proc.returncode}): "
                f"{proc.stderr.decode(errors='replace')[-800:]}"
            )

    def start(self) -> None:
        """Register, then answer in the background."""
        self.register()
        scen = self.workdir / "agent.xml"
        scen.write_text(agent_scenario(self.talk_ms))
        args = [
            *_base_args(self.local_port, self.media_port, self.server_port),
            "-sf",
            str(scen),
            "-trace_err",
            "-max_recv_loops",
            "1000",
        ]
        self.proc = _start_background(args, self.workdir, f"agent {self.endpoint} SIPp")

    def stop(self) -> None:
        _stop_background(self.proc, self.workdir)


@dataclass
class SippCallee:
    """Citizens' phones the hotline calls back, at ``local_port`` (the ``callback_host`` the
    hotline dials): answer every call, except numbers matching ``silent``, which ring
    unanswered (see ``callee_scenario``)."""

    local_port: int
    media_port: int
    answer_after_ms: int = 500
    silent: str = ""
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sipp-callee-")))
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        scen = self.workdir / "callee.xml"
        scen.write_text(callee_scenario(answer_after_ms=self.answer_after_ms, silent=self.silent))
        # No remote host: a UAS answers whoever calls. -aa is left out: it would answer
        # the hotline's INFO/OPTIONS, and the scenario has none to expect.
        args = _uas_args(self.local_port, self.media_port, scen)
        self.proc = _start_background(args, self.workdir, "callee SIPp", env=None)

    def called(self) -> list[str]:
        """The numbers called so far, in order."""
        numbers: list[str] = []
        for log in sorted(self.workdir.glob("*_logs.log")):
            numbers += [
                line.split("called ", 1)[1].strip()
                for line in log.read_text(errors="replace").splitlines()
                if "called " in line
            ]
        return numbers

    def errors(self) -> str:
        return "".join(
            f.read_text(errors="replace")[-2000:] for f in self.workdir.glob("*_errors.log")
        )

    def stop(self) -> None:
        _stop_background(self.proc, self.workdir)


def team_phone_scenario(
    *,
    keys: str = "1",
    answer_after_ms: int | None = 500,
    busy: bool = False,
    first_key_after_ms: int = 2000,
    between_keys_ms: int = 3000,
    wait_for_bye_ms: int = 120_000,
) -> str:
    """A rapid-response team's phone the hotline calls with an order (``dispatch.phone``).

    It rings, then: with ``busy`` answers 486 Busy Here; with ``answer_after_ms`` None rings
    until the hotline gives up (CANCEL); else answers after ``answer_after_ms``, listens to
    the order for ``first_key_after_ms``, presses ``keys`` (RFC 4733) ``between_keys_ms``
    apart, and waits for the hotline to hang up. A BYE that comes before every key was
    pressed (the hotline took an earlier one) ends the call there.

    Every step is logged (``-trace_logs``) as ``team-phone <call> <number> <what>``:
    ``called``, ``busy``, ``answered``, ``key <k>``, ``bye`` (the hotline hung up),
    ``rang out``, ``no bye``; ``SippTeamPhone.calls()`` reads them.
    """
    if answer_after_ms is not None and answer_after_ms < 0:
        raise SippError("answer_after_ms must be positive, or None to never answer")

    def log(what: str) -> str:
        message = f"team-phone [call_number] [$number] {what}"
        return f'<nop><action><log message="{message}"/></action></nop>'

    def reply(status: str, cseq: str = "[last_CSeq:]", sdp_body: bool = False) -> str:
        body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{sdp('team')}"
        return f"""<![CDATA[
SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:];tag=[call_number]
[last_Call-ID:]
{cseq}
Contact: <sip:[local_ip]:[local_port]>
{body if sdp_body else "Content-Length: 0" + chr(10)}
]]>"""

    ok_bye = """<![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]>"""
    steps: list[str] = []
    if busy:
        steps += [
            f"<send>{reply('486 Busy Here')}</send>",
            '<recv request="ACK"/>',
            log("busy"),
        ]
    elif answer_after_ms is None:
        steps += [
            f"<send>{reply('180 Ringing')}</send>",
            '<recv request="CANCEL"/>',
            f"<send>{reply('200 OK')}</send>",
            f"<send>{reply('487 Request Terminated', cseq='CSeq: [$cseq] INVITE')}</send>",
            '<recv request="ACK"/>',
            log("rang out"),
        ]
    else:
        steps += [
            f"<send>{reply('180 Ringing')}</send>",
            f'<pause milliseconds="{answer_after_ms}"/>',
            f'<send retrans="500">{reply("200 OK", sdp_body=True)}</send>',
            '<recv request="ACK" crlf="true"/>',
            log("answered"),
        ]
        for i, key in enumerate(keys):
            wait = first_key_after_ms if i == 0 else between_keys_ms
            steps += [
                # Listen; a BYE meanwhile ends the call, else press the key.
                f'<recv request="BYE" timeout="{wait}" ontimeout="key{i}" next="bye"/>',
                f'<label id="key{i}"/>',
                f'<nop><action><exec play_pcap_audio="{dtmf_pcap(key, i)}"/></action></nop>',
                log(f"key {key}"),
            ]
        steps += [
            f'<recv request="BYE" timeout="{wait_for_bye_ms}" ontimeout="nobye"/>',
            '<label id="bye"/>',
            log("bye"),
            f'<send next="end">{ok_bye}</send>',
            '<label id="nobye"/>',
            log("no bye"),
            '<label id="end"/>',
        ]
    body = "\n  ".join(steps)
    # Matches never read (SIPp refuses a variable set and not used): the whole matches,
    # and the INVITE's CSeq when there is no CANCEL to answer.
    unread = "uri,cs" if answer_after_ms is None and not busy else "uri,cs,cseq"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="team phone">
  <recv request="INVITE" rrs="true">
    <action>
      <ereg regexp="^INVITE sip:([^@;]+)" search_in="msg" check_it="true" assign_to="uri,number"/>
      <ereg regexp="CSeq: *([0-9]+)" search_in="msg" check_it="true" assign_to="cs,cseq"/>
    </action>
  </recv>
  {log("called")}
  {body}
  <Reference variables="{unread}"/>
</scenario>
"""


@dataclass(frozen=True)
class TeamPhoneCall:
    """One call a ``SippTeamPhone`` took: the number dialled and what happened, in order."""

    number: str
    events: tuple[str, ...]

    @property
    def keys(self) -> str:
        """The keys pressed."""
        return "".join(e.removeprefix("key ") for e in self.events if e.startswith("key "))

    @property
    def outcome(self) -> str:
        """How it ended: ``bye`` (the hotline hung up after the answer), ``busy``, ``rang
        out``, ``no bye``; ``called``/``answered``/``key …`` while it goes on."""
        return self.events[-1] if self.events else ""


@dataclass
class SippTeamPhone:
    """A rapid-response team's phone played by SIPp: answers every call the same way
    (``team_phone_scenario``).

    Either a number on the telephone network (the hotline dials ``PJSIP/<number>@pstn-out``,
    whose gateway ``callback_host`` is this phone's ``local_port``), or, given ``endpoint``,
    ``password`` and ``server_port``, a PJSIP endpoint that first registers from
    ``local_port``. ``calls()`` says who was called and what happened.
    """

    local_port: int
    media_port: int
    keys: str = "1"
    answer_after_ms: int | None = 500
    busy: bool = False
    first_key_after_ms: int = 2000
    between_keys_ms: int = 3000
    wait_for_bye_ms: int = 120_000
    endpoint: str = ""
    password: str = ""
    server_port: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sipp-team-")))
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Register (for an endpoint), then answer in the background."""
        if self.endpoint:
            _register_once(
                self.endpoint,
                self.password,
                server_port=self.server_port,
                local_port=self.local_port,
                media_port=self.media_port,
                workdir=self.workdir,
            )
        scen = self.workdir / "team.xml"
        scen.write_text(
            team_phone_scenario(
                keys=self.keys,
                answer_after_ms=self.answer_after_ms,
                busy=self.busy,
                first_key_after_ms=self.first_key_after_ms,
                between_keys_ms=self.between_keys_ms,
                wait_for_bye_ms=self.wait_for_bye_ms,
            )
        )
        args = _uas_args(self.local_port, self.media_port, scen)
        if self.endpoint:
            # A registered endpoint may be qualified (OPTIONS) between calls.
            args.append("-aa")
        self.proc = _start_background(args, self.workdir, "team phone SIPp")

    def calls(self) -> list[TeamPhoneCall]:
        """Every call taken so far, in the order they came."""
        events: dict[int, tuple[str, list[str]]] = {}
        for log_file in sorted(self.workdir.glob("*_logs.log")):
            for line in log_file.read_text(errors="replace").splitlines():
                _, found, rest = line.partition("team-phone ")
                parts = rest.split(" ", 2)
                if not found or len(parts) < 3 or not parts[0].isdigit():
                    continue
                number, what = parts[1], parts[2].strip()
                events.setdefault(int(parts[0]), (number, []))[1].append(what)
        return [TeamPhoneCall(n, tuple(e)) for _, (n, e) in sorted(events.items())]

    def called(self) -> list[str]:
        """The numbers (or endpoints) called so far, in order."""
        return [c.number for c in self.calls()]

    def errors(self) -> str:
        return "".join(
            f.read_text(errors="replace")[-2000:] for f in self.workdir.glob("*_errors.log")
        )

    def stop(self) -> None:
        _stop_background(self.proc, self.workdir)


def _register_once(
    user: str,
    password: str,
    *,
    server_port: int,
    local_port: int,
    media_port: int,
    workdir: Path,
    timeout: float = 10,
) -> None:
    """Register ``user`` from ``local_port`` with one short SIPp run."""
    scen = workdir / "register.xml"
    scen.write_text(register_scenario(user, password))
    args = [
        *_base_args(local_port, media_port, server_port),
        "-sf",
        str(scen),
        "-m",
        "1",
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
    ]
    proc = subprocess.run(
        args, capture_output=True, timeout=timeout + 5, cwd=workdir, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise SippError(
            f"{user} could not register (sipp exit {proc.returncode}): "
            f"{proc.stderr.decode(errors='replace')[-800:]}"
        )


# Asterisk's default maximum_expiration (pjsip aor): a pool cannot stay registered longer.
MAX_REGISTRATION_S = 7200


@dataclass
class SippAgentPool:
    """Many agents' softphones played by one SIPp process.

    Every endpoint registers from the same local port (one SIPp run reading the credentials
    from an injection file), so app_queue's INVITE to any of them reaches the one SIPp that
    then answers them all, each call with its own talk time. Whether an agent is free is
    app_queue's business (the endpoint's device state), as with real phones: one process per
    agent would add nothing but 80 processes on a 2-core machine.
    """

    credentials: list[tuple[str, str]]  # (endpoint, password)
    server_port: int
    local_port: int
    media_port: int
    talk_ms: int = 2000
    exponential: bool = False
    expires_s: int = 3600
    # SIPp draws distributions from GSL, seeded from GSL_RNG_SEED (else the same sequence
    # every run): a seed makes the talk times reproducible, and differ between seeds.
    seed: int | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sipp-agents-")))
    proc: subprocess.Popen[bytes] | None = None

    def register(self, timeout: float = 30) -> None:
        if not 0 < self.expires_s <= MAX_REGISTRATION_S:
            raise SippError(
                f"a registration lasts at most {MAX_REGISTRATION_S} s, asked {self.expires_s}"
            )
        scen = self.workdir / "register.xml"
        scen.write_text(register_scenario("[field0]", "", self.expires_s, auth_keyword="[field1]"))
        inj = self.workdir / "agents.csv"
        inj.write_text(
            "SEQUENTIAL\n"
            + "".join(
                f"{ep};[authentication username={ep} password={pw}];\n"
                for ep, pw in self.credentials
            )
        )
        args = [
            *_base_args(self.local_port, self.media_port, self.server_port),
            "-sf",
            str(scen),
            "-inf",
            str(inj),
            "-m",
            str(len(self.credentials)),
            "-r",
            "50",
            "-l",
            "50",
            "-timeout",
            f"{int(timeout)}s",
            "-timeout_error",
        ]
        proc = subprocess.run(
            args,
            capture_output=True,
            timeout=timeout + 5,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise SippError(
                f"{len(self.credentials)} agents could not all register (sipp exit "
                f"{proc.returncode}): {proc.stderr.decode(errors='replace')[-800:]}"
            )

    def start(self) -> None:
        """Register every endpoint, then answer in the background on the same port."""
        self.register()
        scen = self.workdir / "agent.xml"
        scen.write_text(agent_scenario(self.talk_ms, exponential=self.exponential))
        args = [
            *_base_args(self.local_port, self.media_port, self.server_port),
            "-sf",
            str(scen),
            "-trace_err",
            "-max_recv_loops",
            "1000",
            "-l",
            str(10 * len(self.credentials)),
        ]
        env = dict(os.environ)
        if self.seed is not None:
            env["GSL_RNG_SEED"] = str(self.seed)
        self.proc = _start_background(args, self.workdir, "the agents' SIPp", env=env)

    def stop(self) -> None:
        _stop_background(self.proc, self.workdir)


def _start_background(
    args: list[str], workdir: Path, what: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a SIPp that runs until stopped; fail at once, saying why, if it exits at once."""
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.1)
    if proc.poll() is not None:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SippError(f"{what} exited at once: {err[-800:]}")
    return proc


def _stop_background(proc: subprocess.Popen[bytes] | None, workdir: Path) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc is not None and proc.stderr:
        proc.stderr.close()
    shutil.rmtree(workdir, ignore_errors=True)


def run_citizens(
    scenario: str,
    numbers: list[str],
    *,
    server_port: int,
    local_port: int,
    media_port: int,
    rate: float = 1.0,
    max_concurrent: int = 500,
    timeout_s: float = 600,
) -> subprocess.Popen[bytes]:
    """Start SIPp placing one call per number in ``numbers`` at ``rate`` calls per second.

    The caller number of each call comes from an injection file, so the test or simulation
    can find each call's record by its number. Returns the running process.
    """
    workdir = Path(tempfile.mkdtemp(prefix="sipp-citizens-"))
    scen = workdir / "citizen.xml"
    scen.write_text(scenario)
    inj = workdir / "numbers.csv"
    inj.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in numbers))
    args = [
        *_base_args(local_port, media_port, server_port),
        "-sf",
        str(scen),
        "-inf",
        str(inj),
        "-m",
        str(len(numbers)),
        # -r X -rp P opens X calls per P ms, spread evenly: a fractional rate per second.
        "-r",
        str(max(1, round(rate * 1000))),
        "-rp",
        "1000000",
        "-l",
        str(max_concurrent),
        "-timeout",
        f"{int(timeout_s)}s",
        "-trace_stat",
        "-trace_err",
        "-stf",
        str(workdir / "stat.csv"),
    ]
    return subprocess.Popen(
        args,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


# A key every 1.25 s from 1.5 s after the answer: the timing of ``citizen_scenario``.
PEAK_FIRST_KEY_MS = 1500
PEAK_KEY_SPACING_MS = DTMF_PCAP_MS + 1000


def peak_citizen_scenario(
    sequences: Sequence[Path],
    *,
    first_key_after_ms: int = PEAK_FIRST_KEY_MS,
    caller_name: str = "Nguyễn Văn An",
    wait_for_bye_ms: int = 3_600_000,
) -> str:
    """Citizens who each dial 1022 at their own moment and press their own path.

    Injection fields: 0 the caller number, 1 when to dial (Unix time in ms), 2 the index of
    the call's key sequence in ``sequences`` (one pcap each, ``dtmf_sequence_pcap``). SIPp
    starts every call at once; each pauses until its moment (computed from
    ``gettimeofday``), so one process places a whole Poisson schedule to the millisecond. A
    call whose moment has passed dials at once and logs ``late <number> <ms>``. After the
    keys the citizen waits for the hotline's BYE (the agent hung up).
    """
    from_ = f'From: "{escape(caller_name)}" <sip:[field0]@[local_ip]>;tag=[call_number]'
    tests = "\n    ".join(
        f'<test assign_to="seq{i}" variable="path" compare="equal" value="{i}"/>'
        for i in range(len(sequences))
    )
    plays = "\n  ".join(
        f'<nop condexec="seq{i}"><action><exec play_pcap_audio="{pcap}"/></action></nop>'
        for i, pcap in enumerate(sequences)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="citizens dial 1022 on schedule">
  <nop><action>
    <assignstr assign_to="at" value="[field1]"/>
    <todouble assign_to="wait" variable="at"/>
    <gettimeofday assign_to="now_s,now_us"/>
    <multiply assign_to="now_s" value="1000"/>
    <divide assign_to="now_us" value="1000"/>
    <subtract assign_to="wait" variable="now_s"/>
    <subtract assign_to="wait" variable="now_us"/>
    <test assign_to="late" variable="wait" compare="less_than" value="0"/>
    <assignstr assign_to="p" value="[field2]"/>
    <todouble assign_to="path" variable="p"/>
    {tests}
  </action></nop>
  <nop condexec="late"><action>
    <log message="late [field0] [$wait]"/>
    <assign assign_to="wait" value="0"/>
  </action></nop>
  <pause variable="wait"/>
  <send retrans="500"><![CDATA[
INVITE sip:1022@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{from_}
To: <sip:1022@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{sdp("citizen")}
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
ACK sip:1022@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{from_}
To: <sip:1022@[remote_ip]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  <pause milliseconds="{first_key_after_ms}"/>
  {plays}
  <recv request="BYE" timeout="{wait_for_bye_ms}"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
"""


@dataclass(frozen=True)
class ScheduledCall:
    """A citizen of ``run_scheduled_citizens``: who calls, when (Unix ms), which keys."""

    number: str
    at_unix_ms: int
    keys: str


def run_scheduled_citizens(
    calls: Sequence[ScheduledCall],
    *,
    server_port: int,
    local_port: int,
    media_port: int,
    timeout_s: float,
    wait_for_bye_ms: int = 3_600_000,
) -> subprocess.Popen[bytes]:
    """Start one SIPp that places every call at its own moment (``peak_citizen_scenario``).

    All calls must have keys. SIPp opens the calls at 1,000 a second and each then waits
    for its moment, so the first moment should be at least ``len(calls) / 1000`` s plus a
    second or two away. Returns the running process; ``late_calls`` reads its log after.
    """
    if any(not c.keys for c in calls):
        raise SippError("every scheduled call needs its keys")
    paths = sorted({c.keys for c in calls})
    index = {keys: i for i, keys in enumerate(paths)}
    sequences = [dtmf_sequence_pcap(keys, PEAK_KEY_SPACING_MS) for keys in paths]
    workdir = Path(tempfile.mkdtemp(prefix="sipp-citizens-"))
    scen = workdir / "citizen.xml"
    scen.write_text(peak_citizen_scenario(sequences, wait_for_bye_ms=wait_for_bye_ms))
    inj = workdir / "calls.csv"
    inj.write_text(
        "SEQUENTIAL\n" + "".join(f"{c.number};{c.at_unix_ms};{index[c.keys]};\n" for c in calls)
    )
    args = [
        *_base_args(local_port, media_port, server_port),
        "-sf",
        str(scen),
        "-inf",
        str(inj),
        "-m",
        str(len(calls)),
        "-r",
        "1000",
        "-l",
        str(len(calls) + 10),
        "-timeout",
        f"{int(timeout_s)}s",
        "-trace_stat",
        "-trace_err",
        "-trace_logs",
        "-log_file",
        str(workdir / "calls.log"),
        "-stf",
        str(workdir / "stat.csv"),
    ]
    return subprocess.Popen(
        args,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def late_calls(proc: subprocess.Popen[bytes]) -> dict[str, float]:
    """Caller number -> ms late, for the calls of a ``run_scheduled_citizens`` process that
    dialled after their moment (read before ``remove_run``)."""
    workdir = run_dir(proc)
    log_file = workdir / "calls.log" if workdir is not None else None
    if log_file is None or not log_file.exists():
        return {}
    late: dict[str, float] = {}
    for line in log_file.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[-3] == "late":
            late[parts[-2]] = -float(parts[-1])
    return late


def run_dir(proc: subprocess.Popen[bytes]) -> Path | None:
    """The work directory of a ``run_citizens`` process (scenario, numbers, statistics)."""
    args = [str(a) for a in proc.args] if isinstance(proc.args, list) else []
    if "-stf" not in args:
        return None
    return Path(args[args.index("-stf") + 1]).parent


def remove_run(proc: subprocess.Popen[bytes]) -> None:
    """Close the process's pipe and delete its work directory, once it has ended."""
    if proc.stderr:
        proc.stderr.close()
    workdir = run_dir(proc)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)
