"""SIPp as citizens and agents: scenario files and the processes that play them.

Citizens dial 1022 from the simulated telephone network (unauthenticated, from loopback) and
press keys as RFC 4733 events replayed from the pcaps Debian's ``sip-tester`` ships. Agents
register with their generated credentials, then answer whatever app_queue sends them, talk
for a while and hang up.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

__all__ = [
    "SippAgent",
    "SippCallee",
    "SippError",
    "callee_scenario",
    "citizen_scenario",
    "dtmf_pcap",
    "remove_run",
    "run_citizens",
    "run_dir",
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


def dtmf_pcap(key: str, position: int = 0) -> Path:
    """An RFC 4733 pcap for ``key`` as the ``position``-th key of a call.

    Debian's pcaps all carry the same RTP timestamps, and Asterisk drops an event whose
    timestamp is older than the last one it saw on the channel: "21" would lose its "1".
    So each key of a call gets its own copy with timestamps and sequence numbers that grow
    with its position, the event code of the key, and the rest of the template unchanged.
    """
    if key not in DTMF_EVENTS:
        raise SippError(f"no RFC 4733 event for key {key!r}")
    template = PCAP_DIR / "dtmf_2833_1.pcap"
    if not template.exists():
        raise SippError(f"no RFC 4733 pcap at {template} (apt-get install sip-tester)")
    dest = DTMF_CACHE / f"dtmf_{DTMF_NAMES.get(key, key)}_{position}.pcap"
    if dest.exists():
        return dest
    data = bytearray(template.read_bytes())
    offset, index = 24, 0  # after the pcap file header
    while offset + 16 <= len(data):
        captured = struct.unpack_from("<I", data, offset + 8)[0]
        rtp = offset + 16 + 42  # record header, then Ethernet (14) + IPv4 (20) + UDP (8)
        struct.pack_into(
            ">HI", data, rtp + 2, 1000 * (position + 1) + index, 16000 * (position + 1)
        )
        data[rtp + 12] = DTMF_EVENTS[key]
        offset += 16 + captured
        index += 1
    DTMF_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(bytes(data))
    tmp.replace(dest)
    return dest


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


def register_scenario(user: str, password: str, expires: int = 3600) -> str:
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
  {register(2, f"[authentication username={user} password={password}]" + chr(10))}
  <recv response="200"/>
</scenario>
"""


def agent_scenario(talk_ms: int) -> str:
    """An agent's softphone: answer app_queue's call at once, talk, hang up -- unless the
    other side hangs up first (a called-back citizen who does not answer ends the agent's
    call from the hotline's side)."""
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
  <recv request="BYE" timeout="{talk_ms}" ontimeout="hangup"/>
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
  <send retrans="500"><![CDATA[
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
        self.proc = subprocess.Popen(
            args,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.1)
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise SippError(f"agent {self.endpoint} SIPp exited at once: {err[-800:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


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
        args = [
            sipp_binary(),
            "-i",
            "127.0.0.1",
            "-p",
            str(self.local_port),
            "-mi",
            "127.0.0.1",
            "-mp",
            str(self.media_port),
            "-nostdin",
            "-nd",
            "-sf",
            str(scen),
            "-trace_err",
            "-trace_logs",
            "-max_recv_loops",
            "1000",
        ]
        self.proc = subprocess.Popen(
            args,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.1)
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise SippError(f"callee SIPp exited at once: {err[-800:]}")

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
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


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
