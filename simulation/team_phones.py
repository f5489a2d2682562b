"""Rapid-response teams' phones played by SIPp: answer the hotline's orders (or ring out, or
be busy) and press a key while the order is read (``dispatch.phone`` calls them).
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from simulation.sipp import (
    SippError,
    dtmf_pcap,
    register_once,
    sdp,
    start_background,
    stop_background,
    uas_args,
)

__all__ = ["SippTeamPhone", "TeamPhoneCall", "team_phone_scenario"]


def team_phone_scenario(
    *,
    keys: str = "1",
    answer_after_ms: int | None = 500,
    busy: bool = False,
    first_key_after_ms: int = 2000,
    between_keys_ms: int = 3000,
    wait_for_bye_ms: int = 120_000,
    port_offset: int = 0,
) -> str:
    """A rapid-response team's phone the hotline calls with an order (``dispatch.phone``).

    It rings, then: with ``busy`` answers 486 Busy Here; with ``answer_after_ms`` None rings
    until the hotline gives up (CANCEL); else answers after ``answer_after_ms``, listens to
    the order for ``first_key_after_ms``, presses ``keys`` (RFC 4733) ``between_keys_ms``
    apart, and waits for the hotline to hang up. A BYE that comes before every key was
    pressed (the hotline took an earlier one) ends the call there. ``port_offset``: the
    phone's audio goes to SIPp's media port plus that (an ``RtpMeter``'s), see ``sdp``.

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
        body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{sdp('team', port_offset)}"
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
    port_offset: int = 0
    endpoint: str = ""
    password: str = ""
    server_port: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sipp-team-")))
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Register (for an endpoint), then answer in the background."""
        if self.endpoint:
            register_once(
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
                port_offset=self.port_offset,
            )
        )
        args = uas_args(self.local_port, self.media_port, scen)
        if self.endpoint:
            # A registered endpoint may be qualified (OPTIONS) between calls.
            args.append("-aa")
        self.proc = start_background(args, self.workdir, "team phone SIPp")

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
        stop_background(self.proc, self.workdir)
