"""Citizens played by SIPp: who dial 1022 and press keys (a few calls, or a whole Poisson
schedule from one process), and their phones that the hotline calls back.

Citizens dial from the simulated telephone network (unauthenticated, from loopback) and press
keys as RFC 4733 events (``simulation.sipp``). One concern, the citizen's end of the line; it
is long because its three SIPp scenarios are written out whole, as SIPp reads them.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from simulation.sipp import (
    DTMF_PCAP_MS,
    SippError,
    base_args,
    dtmf_pcap,
    dtmf_sequence_pcap,
    run_dir,
    sdp,
    start_background,
    stop_background,
    uas_args,
)

__all__ = [
    "CallTimes",
    "ScheduledCall",
    "SippCallee",
    "call_times",
    "callee_scenario",
    "citizen_scenario",
    "late_calls",
    "parse_call_times",
    "peak_citizen_scenario",
    "run_citizens",
    "run_scheduled_citizens",
]


# What each call of ``run_citizens`` logs (``-trace_logs``): "sent <number> <s> <us>" as
# SIPp sends the INVITE, "answered <number> <s> <us>" when the 200 OK reaches it (wall clock,
# SIPp's gettimeofday). ``call_times`` reads them: the rate SIPp really sent at, and how long
# Asterisk took to answer, beside the rate Asterisk saw (its CDR).
def _log_time_actions(what: str, sec: str, usec: str) -> str:
    return (
        f'<gettimeofday assign_to="{sec},{usec}"/>'
        f'<log message="{what} [field0] [${sec}] [${usec}]"/>'
    )


def _log_time(what: str, sec: str, usec: str) -> str:
    return f"<nop><action>{_log_time_actions(what, sec, usec)}</action></nop>"


def citizen_scenario(
    keys: str = "",
    *,
    first_key_after_ms: int = 1500,
    between_keys_ms: int = 1000,
    hangup_after_ms: int | None = None,
    caller_name: str = "Nguyễn Văn An",
    wait_for_bye_ms: int = 300_000,
    voice: Path | None = None,
) -> str:
    """A citizen who dials 1022, presses ``keys`` and then either waits for the hotline to
    hang up (the agent ended the call) or hangs up after ``hangup_after_ms``.

    ``voice``: an RTP pcap (e.g. ``simulation.conference_phones.tone_pcap``) the citizen
    plays once the keys are pressed, so the call's recording has the caller's audio in it.
    Make it last the whole call (a replayed pcap goes back in time and Asterisk drops it).
    """
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
    if voice is not None:
        actions.append(
            f'<nop><action><exec play_pcap_audio="{escape(str(voice))}"/></action></nop>'
        )
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
  {_log_time("sent", "sent_s", "sent_us")}
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
  <recv response="200" rtd="true">
    <action>{_log_time_actions("answered", "ok_s", "ok_us")}</action>
  </recv>
  <send><![CDATA[
{request("ACK", 1)}
]]></send>
  {body}
  {ending}
</scenario>
"""


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
        *base_args(local_port, media_port, server_port),
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
        "-trace_logs",
        "-log_file",
        str(workdir / "calls.log"),
    ]
    return subprocess.Popen(
        args,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@dataclass(frozen=True)
class CallTimes:
    """When a ``run_citizens`` call's INVITE left SIPp and when its 200 OK came back (Unix
    seconds, SIPp's clock); ``answered`` is None for a call never answered."""

    number: str
    sent: float
    answered: float | None = None

    @property
    def answer_s(self) -> float | None:
        return None if self.answered is None else self.answered - self.sent


def call_times(proc: subprocess.Popen[bytes]) -> dict[str, CallTimes]:
    """Caller number -> its ``CallTimes``, from a ``run_citizens`` process's log (read it
    before ``remove_run``)."""
    workdir = run_dir(proc)
    log_file = workdir / "calls.log" if workdir is not None else None
    if log_file is None or not log_file.exists():
        return {}
    return parse_call_times(log_file.read_text(errors="replace"))


def parse_call_times(text: str) -> dict[str, CallTimes]:
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[-4] not in ("sent", "answered"):
            continue
        try:
            at = float(parts[-2]) + float(parts[-1]) / 1e6
        except ValueError:
            continue
        (sent if parts[-4] == "sent" else answered)[parts[-3]] = at
    return {n: CallTimes(n, t, answered.get(n)) for n, t in sent.items()}


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
        *base_args(local_port, media_port, server_port),
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
        args = uas_args(self.local_port, self.media_port, scen)
        self.proc = start_background(args, self.workdir, "callee SIPp", env=None)

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
        stop_background(self.proc, self.workdir)
