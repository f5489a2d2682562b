"""SIPp, the program that plays every phone of a simulation: finding it, the RFC 4733 key
presses it replays, the SDP it offers, registering, and starting and stopping its processes.

The actors are modules of their own: ``simulation.citizens`` (citizens who dial 1022, and
their phones the hotline calls back), ``simulation.agents`` (agents' softphones) and
``simulation.team_phones`` (rapid-response teams' phones). Key presses are RFC 4733 events
replayed from the pcaps Debian's ``sip-tester`` ships.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "DTMF_PCAP_MS",
    "MAX_REGISTRATION_S",
    "PCAP_DIR",
    "SippError",
    "await_runs",
    "base_args",
    "dtmf_pcap",
    "dtmf_sequence_pcap",
    "failure_counts",
    "register_once",
    "register_scenario",
    "remove_run",
    "run_dir",
    "sdp",
    "sipp_binary",
    "start_background",
    "stat_counter",
    "stop_background",
    "uas_args",
]

log = logging.getLogger(__name__)

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


def sdp(user: str, port_offset: int = 0) -> str:
    """An audio offer/answer: G.711 µ-law and RFC 4733 events (payload type 101, as in
    sip-tester's pcaps). ``port_offset``: the media port announced is SIPp's moved by that
    much (where an ``RtpMeter`` listens, to measure what the phone hears)."""
    port = "[media_port]" if port_offset == 0 else f"[media_port{port_offset:+d}]"
    return f"""v=0
o={user} 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio {port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
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


def base_args(local_port: int, media_port: int, server_port: int) -> list[str]:
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


def uas_args(local_port: int, media_port: int, scenario: Path) -> list[str]:
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


def register_once(
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
        *base_args(local_port, media_port, server_port),
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


def start_background(
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


def stop_background(proc: subprocess.Popen[bytes] | None, workdir: Path) -> None:
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


def failure_counts(stat_csv: str) -> dict[str, int]:
    """The non-zero cumulative failure counters (``Failed…(C)``) of SIPp's ``-trace_stat``
    file, from its last line: why a run's calls failed (e.g. ``FailedUnexpectedMessage`` for
    a 503 from an overloaded Asterisk, ``FailedMaxUDPRetrans`` for an INVITE never answered)."""
    lines = [ln for ln in stat_csv.splitlines() if ln.strip()]
    if len(lines) < 2:
        return {}
    counts: dict[str, int] = {}
    for name, value in zip(lines[0].split(";"), lines[-1].split(";"), strict=False):
        counter = name.startswith("Failed") and name.endswith("(C)")
        if counter and value.strip().isdigit() and int(value) and name[:-3] not in counts:
            counts[name[:-3]] = int(value)
    return counts


def stat_counter(stat_csv: str, name: str) -> int:
    """A cumulative counter (e.g. ``Retransmissions``) from the last line of SIPp's
    ``-trace_stat`` file; 0 when absent."""
    lines = [ln for ln in stat_csv.splitlines() if ln.strip()]
    if len(lines) < 2:
        return 0
    for key, value in zip(lines[0].split(";"), lines[-1].split(";"), strict=False):
        if key == f"{name}(C)" and value.strip().isdigit():
            return int(value)
    return 0


async def await_runs(
    procs: list[subprocess.Popen[bytes]],
    on_end: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> int:
    """Wait for each SIPp citizen run to end (off the loop), log those that failed with their
    failure counters and the end of their stderr, remove their work directories; the number
    that failed. ``on_end`` reads a run's files (its log, its statistics) before they go."""
    failed = 0
    for proc in procs:
        rc = await asyncio.to_thread(proc.wait)
        if on_end is not None:
            on_end(proc)
        if rc != 0:
            failed += 1
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            workdir = run_dir(proc)
            stat = workdir / "stat.csv" if workdir is not None else None
            counts = failure_counts(stat.read_text()) if stat and stat.exists() else {}
            log.warning("a SIPp citizen run exited %d, failed calls %s: %s", rc, counts, err[-500:])
        remove_run(proc)
    return failed
