"""Agents' softphones played by SIPp: register with the generated credentials, then answer
whatever app_queue sends them, talk for a while and hang up. One process per agent
(``SippAgent``) or one for many (``SippAgentPool``). An agent's phone also dials feature
codes (``*11``, ``*12``, ``*2N``, ``*3``: ``dial_feature_code``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from simulation.sipp import (
    MAX_REGISTRATION_S,
    SippError,
    base_args,
    register_once,
    register_scenario,
    sdp,
    start_background,
    stop_background,
)

__all__ = [
    "SippAgent",
    "SippAgentPool",
    "agent_scenario",
    "dial_feature_code",
    "feature_code_scenario",
]

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


def agent_scenario(
    talk_ms: int, *, exponential: bool = False, ring_ms: int = 0, audio: Path | None = None
) -> str:
    """An agent's softphone: answer app_queue's call at once, talk, hang up.

    Talk lasts ``talk_ms`` -- unless the other side hangs up first (a called-back citizen
    who does not answer ends the agent's call from the hotline's side). With
    ``exponential`` the talk time is drawn for each call from an exponential distribution
    of that mean (SIPp's GSL distributions), as Erlang C assumes; SIPp cannot wait for a BYE
    for a random time, so such an agent always hangs up itself. ``ring_ms``: how long the
    phone rings before the agent picks up (0: at once). ``audio``: a pcap (e.g.
    ``conference_phones.tone_pcap``) the agent plays from the answer on, so the call carries
    a voice as real ones do (what a recording of it costs: bench/recording_cost.py).
    """
    speak = (
        f'  <nop><action><exec play_pcap_audio="{audio}"/></action></nop>\n'
        if audio is not None
        else ""
    )
    ring = f'  <pause milliseconds="{ring_ms}"/>\n' if ring_ms > 0 else ""
    if exponential:
        talk = f'  <pause distribution="exponential" mean="{talk_ms}"/>\n'
    else:
        talk = _AGENT_WAITS_FOR_BYE.replace("{talk_ms}", str(talk_ms))
    ring = f'  <pause milliseconds="{ring_ms}"/>\n' if ring_ms > 0 else ""
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
{ring}  <send retrans="500"><![CDATA[
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
{speak}{talk}  <send retrans="500"><![CDATA[
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


def feature_code_scenario(endpoint: str, password: str, code: str, rtp_port: int) -> str:
    """An agent's phone dials ``code`` (e.g. ``*22``): INVITE, the digest challenge answered
    as ``endpoint``, 200 OK, ACK, then it listens until the hotline hangs up (BYE) after its
    prompt. The SDP offers ``rtp_port`` (not SIPp's own media port), so whoever listens there
    hears what the hotline plays."""
    offer = f"""v=0
o={endpoint} 53655765 2353687637 IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio {rtp_port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
"""

    def invite(cseq: int, auth: str) -> str:
        return f"""<send retrans="500"><![CDATA[
INVITE sip:{code}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{endpoint}@[remote_ip]>;tag=[call_number]
To: <sip:{code}@[remote_ip]>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:{endpoint}@[local_ip]:[local_port]>
{auth}Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{offer}
]]></send>"""

    auth = f"[authentication username={endpoint} password={password}]\n"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="{endpoint} dials {code}">
  {invite(1, "")}
  <recv response="100" optional="true"/>
  <recv response="401" auth="true"/>
  <send><![CDATA[
ACK sip:{code}@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  {invite(2, auth)}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
ACK sip:{code}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{endpoint}@[remote_ip]>;tag=[call_number]
To: <sip:{code}@[remote_ip]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv request="BYE" timeout="30000"/>
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


def dial_feature_code(
    endpoint: str,
    password: str,
    code: str,
    *,
    server_port: int,
    local_port: int,
    media_port: int,
    rtp_port: int,
    timeout: float = 40,
) -> None:
    """Dial ``code`` from ``endpoint``'s phone and wait until the hotline hangs up; raise
    ``SippError`` when the call did not go so (refused, never answered, never hung up)."""
    workdir = Path(tempfile.mkdtemp(prefix="sipp-code-"))
    try:
        scen = workdir / "code.xml"
        scen.write_text(feature_code_scenario(endpoint, password, code, rtp_port))
        args = [
            *base_args(local_port, media_port, server_port),
            "-sf",
            str(scen),
            "-m",
            "1",
            "-timeout",
            f"{int(timeout)}s",
            "-timeout_error",
            "-trace_err",
        ]
        proc = subprocess.run(
            args, capture_output=True, timeout=timeout + 5, cwd=workdir, stdin=subprocess.DEVNULL
        )
        if proc.returncode != 0:
            errors = "".join(p.read_text(errors="replace") for p in workdir.glob("*errors.log"))
            raise SippError(
                f"{endpoint} dialling {code} failed (sipp exit {proc.returncode}): "
                f"{proc.stderr.decode(errors='replace')[-800:]} {errors[-1500:]}"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


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
    ring_ms: int = 0  # how long the phone rings before the agent picks up
    proc: subprocess.Popen[bytes] | None = None

    def register(self, timeout: float = 10) -> None:
        register_once(
            self.endpoint,
            self.password,
            server_port=self.server_port,
            local_port=self.local_port,
            media_port=self.media_port,
            workdir=self.workdir,
            timeout=timeout,
        )

    def start(self) -> None:
        """Register, then answer in the background."""
        self.register()
        scen = self.workdir / "agent.xml"
        scen.write_text(agent_scenario(self.talk_ms, ring_ms=self.ring_ms))
        args = [
            *base_args(self.local_port, self.media_port, self.server_port),
            "-sf",
            str(scen),
            "-trace_err",
            "-max_recv_loops",
            "1000",
        ]
        self.proc = start_background(args, self.workdir, f"agent {self.endpoint} SIPp")

    def stop(self) -> None:
        stop_background(self.proc, self.workdir)


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
    ring_ms: int = 0  # how long each phone rings before the agent picks up
    audio: Path | None = None  # a pcap every agent plays from the answer on (agent_scenario)
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
            *base_args(self.local_port, self.media_port, self.server_port),
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
        scen.write_text(
            agent_scenario(
                self.talk_ms, exponential=self.exponential, ring_ms=self.ring_ms, audio=self.audio
            )
        )
        args = [
            *base_args(self.local_port, self.media_port, self.server_port),
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
        self.proc = start_background(args, self.workdir, "the agents' SIPp", env=env)

    def stop(self) -> None:
        stop_background(self.proc, self.workdir)
