"""Agents' softphones played by SIPp: register with the generated credentials, then answer
whatever app_queue sends them, talk for a while and hang up. One process per agent
(``SippAgent``) or one for many (``SippAgentPool``).
"""

from __future__ import annotations

import os
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

__all__ = ["SippAgent", "SippAgentPool", "agent_scenario"]

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


def agent_scenario(talk_ms: int, *, exponential: bool = False, ring_ms: int = 0) -> str:
    """An agent's softphone: answer app_queue's call at once, talk, hang up.

    Talk lasts ``talk_ms`` -- unless the other side hangs up first (a called-back citizen
    who does not answer ends the agent's call from the hotline's side). With
    ``exponential`` the talk time is drawn for each call from an exponential distribution
    of that mean (SIPp's GSL distributions), as Erlang C assumes; SIPp cannot wait for a BYE
    for a random time, so such an agent always hangs up itself. ``ring_ms``: how long the
    phone rings before the agent picks up (0: at once).
    """
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
        scen.write_text(agent_scenario(self.talk_ms, exponential=self.exponential))
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
