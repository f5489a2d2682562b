"""Benchmark: what recording every call costs at the peak hour, on a real Asterisk.

Runs the peak hour of ``hotline1022 simulate`` (``simulation.peak.run_peak``: Poisson
arrivals on the default menu's paths, exponential talk, staffing's agent count) twice on
the same arrivals and the same seed — once with ``recording_enabled`` off, once on (the
dialplan's MixMonitor from the answer on) — each on its own throwaway Asterisk. The agents
play a tone from the answer on, so each call carries audio as a real one does (a silent
SIPp call would leave MixMonitor almost nothing to write). For each arm it measures:

- Asterisk's CPU seconds (``/proc/<pid>/stat``) from the first call to the last hang-up;
- the recordings left on disk: files, bytes, seconds of audio (their WAV headers);
- the calls' seconds from the service's records (arrival at the answer → hang-up);
- the service level, ASA and abandons (``simulation.peak_figures``).

and derives: Asterisk CPU per call in both arms and the difference; disk bytes per call and
per second of call; and the disk a day of ``--calls-per-day`` calls fills, from the measured
bytes per second × the day's mean recorded length (the menu and the wait as measured, the
talk the forecast's mean, ``--aht`` − ``--wrapup``).

    python bench/recording_cost.py --record                  # ~8 min at time scale 10
    python bench/recording_cost.py --duration 60m --time-scale 1 --warmup 15 --record

Options are ``hotline1022 simulate``'s peak options (defaults below: a scaled part of the
peak hour), plus ``--calls-per-day`` and ``--record`` (append to bench/results/recording.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from cli.simulate import agents_arg
from simulation.conference_phones import tone_pcap
from simulation.peak import run_peak
from simulation.peak_plan import add_arguments
from simulation.stack import Stack
from store.models import Call

__all__ = ["Arm", "Disk", "Figures", "figures", "main", "measure_disk", "report"]

RESULTS = Path(__file__).resolve().parent / "results" / "recording.md"

# A scaled part of the peak hour that fits ~10 min for both arms on a 2-core machine: 20
# measured minutes of 1,500 calls/h after 5 of warm-up, at a tenth of real time.
DEFAULTS: dict[str, str] = {
    "--calls-per-hour": "1500",
    "--aht": "180",
    "--agents": "auto",
    "--duration": "20m",
    "--warmup": "5",
    "--cooldown": "0",
    "--time-scale": "10",
    "--targets": "90:15,95:20",
}

HEADER = """# Benchmark: the cost of recording every call at the peak hour

Each run below was appended by `python bench/recording_cost.py --record` with the exact
command; both arms place the same Poisson arrivals on their own real Asterisk, one with
`recording_enabled` off and one on. What the command printed is quoted as it was.

"""


@dataclass(frozen=True)
class Disk:
    """What a recordings directory holds."""

    files: int
    bytes: int
    audio_s: float  # from the WAV headers of the files that have one
    unreadable: int  # files still open (.part.wav) or whose header could not be read


@dataclass(frozen=True)
class Arm:
    """One arm's raw measurements, on the run's clock (wall seconds)."""

    recording: bool
    calls: int  # service records
    answered: int
    call_s: float  # Σ (hang-up − arrival) over the records
    menu_s: float  # mean arrival → queue entry (the IVR plays in real time: unscaled)
    asterisk_cpu_s: float
    window_s: float  # from the first call to the last hang-up
    disk: Disk
    asterisk_wrote: int | None  # storage bytes Asterisk wrote in the window (all files)
    peak: Mapping[str, Any] = field(default_factory=dict)  # run_peak's JSON
    printed: str = ""  # what run_peak printed


@dataclass(frozen=True)
class Figures:
    """What the bench reports; every figure comes from the two arms' measurements."""

    time_scale: float
    cpu_ms_per_call_off: float
    cpu_ms_per_call_on: float
    extra_cpu_ms_per_call: float  # on − off, per call of the run
    extra_cpu_per_call_s: float  # extra CPU seconds per second of call
    asterisk_cores_off: float
    asterisk_cores_on: float
    files: int
    bytes_per_call: float  # per call of the run (its talk is scaled)
    bytes_per_call_s: float  # per second of call
    audio_coverage: float  # seconds of audio in the files / seconds of the calls
    day_call_s: float  # the day's mean recorded length, unscaled
    bytes_per_day_call: float  # bytes_per_call_s × day_call_s
    extra_cpu_s_per_day_call: float  # extra_cpu_per_call_s × day_call_s (upper bound)
    calls_per_day: float
    disk_per_day_bytes: float
    service_levels_off: Mapping[str, float | None]
    service_levels_on: Mapping[str, float | None]
    # 95 % half-widths (batch means) of the first target's service level; None: too short.
    sl_ci_off: float | None
    sl_ci_on: float | None
    asa_off_s: float | None
    asa_on_s: float | None
    waited_off: float | None  # answered callers who waited more than 1 unscaled second
    waited_on: float | None
    p95_wait_off_s: float | None
    p95_wait_on_s: float | None
    abandon_off: float | None
    abandon_on: float | None


class BenchError(RuntimeError):
    """A measurement that cannot be made (no calls, no recording where one was expected)."""


def measure_disk(root: Path) -> Disk:
    """Every file under ``root`` (none if it does not exist): count, bytes, WAV seconds."""
    files = size = unreadable = 0
    audio = 0.0
    if root.exists():
        for path in root.rglob("*"):
            if not path.is_file():
                continue
            files += 1
            size += path.stat().st_size
            if path.name.endswith(".part.wav"):  # still open (pbx/recording.py)
                unreadable += 1
                continue
            try:
                with wave.open(str(path), "rb") as w:
                    audio += w.getnframes() / w.getframerate()
            except (wave.Error, EOFError, ZeroDivisionError):
                unreadable += 1
    return Disk(files=files, bytes=size, audio_s=audio, unreadable=unreadable)


def process_cpu_s(pid: int) -> float:
    """CPU seconds process ``pid`` has used (user + system, every thread) and its children
    that it waited for: MixMonitor's post-process command (the ``mv`` that marks a file
    final) runs in a child of Asterisk's, and is part of what recording costs."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return sum(float(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def process_write_bytes(pid: int) -> int | None:
    """Bytes process ``pid`` has sent to storage (``/proc/<pid>/io`` write_bytes, counted
    when a page is dirtied), or None where this process may not read it."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def recordings_root(stack: Stack) -> Path:
    """Where this stack's Asterisk writes its recordings, as this process sees it."""
    assert stack.asterisk is not None
    return stack.asterisk.host_path(stack.asterisk.recordings_dir)


async def _settled(root: Path, *, quiet_s: float = 2.0, within_s: float = 60.0) -> Disk:
    """The directory once no file is still open and nothing in it has changed for
    ``quiet_s``: MixMonitor closes a file on its own thread after the hang-up, then renames
    ``X.part.wav`` to ``X.wav``."""
    deadline = time.monotonic() + within_s
    last = measure_disk(root)
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = measure_disk(root)
        if now != last:
            last, still_since = now, time.monotonic()
        elif now.unreadable == 0 and time.monotonic() - still_since >= quiet_s:
            break
    return last


class _Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy (run_peak's printout for the results)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.kept = io.StringIO()

    def write(self, text: str) -> int:
        self.kept.write(text)
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()


class _Probe:
    """``run_peak``'s ``around`` and ``after``: Asterisk's CPU from the first call to the
    last hang-up, then the disk and the calls' records."""

    def __init__(self) -> None:
        self.cpu0 = self.t0 = 0.0
        self.pid = 0
        self.wrote0: int | None = None
        self.result: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def around(self, stack: Stack) -> AsyncIterator[None]:
        assert stack.asterisk is not None
        pid = stack.asterisk.pid
        if pid is None:
            raise BenchError("Asterisk has no pid: it is not running")
        self.pid = pid
        self.cpu0, self.t0 = process_cpu_s(pid), time.monotonic()
        self.wrote0 = process_write_bytes(pid)
        yield

    async def after(self, stack: Stack) -> None:
        cpu_s = process_cpu_s(self.pid) - self.cpu0
        window_s = time.monotonic() - self.t0
        disk = await _settled(recordings_root(stack))
        wrote = process_write_bytes(self.pid)
        async with stack.running.db.session() as session:
            records = list((await session.scalars(select(Call))).all())
        ended = [c for c in records if c.ended_at is not None]
        menus = [
            (c.queue_entered_at - c.arrived_at).total_seconds()
            for c in records
            if c.queue_entered_at is not None
        ]
        self.result = {
            "calls": len(records),
            "answered": sum(1 for c in records if c.answered_at is not None),
            "call_s": sum((c.ended_at - c.arrived_at).total_seconds() for c in ended if c.ended_at),
            "menu_s": sum(menus) / len(menus) if menus else 0.0,
            "asterisk_cpu_s": cpu_s,
            "window_s": window_s,
            "disk": disk,
            "asterisk_wrote": None if wrote is None or self.wrote0 is None else wrote - self.wrote0,
        }


async def run_arm(args: argparse.Namespace, *, recording: bool, audio: Path) -> Arm:
    """One peak run with ``recording_enabled`` set as given."""
    probe = _Probe()
    with tempfile.TemporaryDirectory(prefix="hotline-reccost-") as tmp:
        out = Path(tmp) / "peak.json"
        peak_args = argparse.Namespace(**{**vars(args), "json": out})
        tee = _Tee(sys.stdout)
        with contextlib.redirect_stdout(tee):
            print(f"--- recording {'on' if recording else 'off'} ---", flush=True)
            rc = await run_peak(
                peak_args,
                around=probe.around,
                after=probe.after,
                settings={"recording_enabled": recording},
                agent_audio=audio,
            )
        if not out.exists() or not probe.result:
            raise BenchError(f"the {'on' if recording else 'off'} arm did not finish (exit {rc})")
        peak = json.loads(out.read_text())
    peak["exit"] = rc
    return Arm(recording=recording, peak=peak, printed=tee.kept.getvalue(), **probe.result)


def _safe(n: float, d: float, what: str) -> float:
    if d <= 0:
        raise BenchError(f"cannot measure {what}: its denominator is {d:g}")
    return n / d


def figures(off: Arm, on: Arm, *, calls_per_day: float, talk_s: float) -> Figures:
    """The reported figures from the two arms' measurements (pure)."""
    if off.recording or not on.recording:
        raise BenchError("figures() takes the off arm, then the on arm")
    if on.disk.files == 0:
        raise BenchError(
            "the on arm left no recording: is the dialplan's MixMonitor in this branch?"
        )
    scale = float(on.peak.get("plan", {}).get("time_scale", 1.0))
    cpu_off = _safe(off.asterisk_cpu_s, off.calls, "CPU per call (off)")
    cpu_on = _safe(on.asterisk_cpu_s, on.calls, "CPU per call (on)")
    # Per second of call, the extra CPU is the on arm's minus what the off arm spent for the
    # same seconds: the arms' call seconds differ a little (waits, talk cut at the end).
    extra_per_s = _safe(on.asterisk_cpu_s, on.call_s, "CPU per second of call") - _safe(
        off.asterisk_cpu_s, off.call_s, "CPU per second of call (off)"
    )
    bytes_per_s = _safe(on.disk.bytes, on.call_s, "bytes per second of call")
    m_on, m_off = on.peak.get("measured", {}), off.peak.get("measured", {})
    asa_on = m_on.get("asa_s")
    day_call_s = on.menu_s + (asa_on or 0.0) + talk_s
    per_call = bytes_per_s * day_call_s
    return Figures(
        time_scale=scale,
        cpu_ms_per_call_off=cpu_off * 1000,
        cpu_ms_per_call_on=cpu_on * 1000,
        extra_cpu_ms_per_call=(cpu_on - cpu_off) * 1000,
        extra_cpu_per_call_s=extra_per_s,
        asterisk_cores_off=_safe(off.asterisk_cpu_s, off.window_s, "cores (off)"),
        asterisk_cores_on=_safe(on.asterisk_cpu_s, on.window_s, "cores (on)"),
        files=on.disk.files,
        bytes_per_call=on.disk.bytes / on.calls,
        bytes_per_call_s=bytes_per_s,
        audio_coverage=on.disk.audio_s / on.call_s,
        day_call_s=day_call_s,
        bytes_per_day_call=per_call,
        extra_cpu_s_per_day_call=extra_per_s * day_call_s,
        calls_per_day=calls_per_day,
        disk_per_day_bytes=calls_per_day * per_call,
        service_levels_off=dict(m_off.get("service_levels", {})),
        service_levels_on=dict(m_on.get("service_levels", {})),
        sl_ci_off=m_off.get("service_level_ci"),
        sl_ci_on=m_on.get("service_level_ci"),
        asa_off_s=m_off.get("asa_s"),
        asa_on_s=asa_on,
        waited_off=m_off.get("waited_share"),
        waited_on=m_on.get("waited_share"),
        p95_wait_off_s=m_off.get("p95_wait_s"),
        p95_wait_on_s=m_on.get("p95_wait_s"),
        abandon_off=m_off.get("abandon_rate"),
        abandon_on=m_on.get("abandon_rate"),
    )


def sl_verdict(f: Figures) -> str:
    """Whether recording moved the first target's service level beyond the runs' noise:
    the difference against the two arms' batch-means half-widths combined."""
    if not f.service_levels_on:
        return "no service level measured"
    label = next(iter(f.service_levels_on))
    sl_off, sl_on = f.service_levels_off.get(label), f.service_levels_on.get(label)
    if sl_off is None or sl_on is None:
        return f"service level {label}: not measured in both arms"
    diff = sl_on - sl_off
    if diff == 0 and not f.sl_ci_off and not f.sl_ci_on:
        return (
            f"service level {label}: {sl_on:.1%} in both arms, in every batch of the window: "
            "no change from recording at this load (the waits' rows show any smaller effect)"
        )
    if f.sl_ci_off is None or f.sl_ci_on is None:
        return (
            f"service level {label}: {sl_off:.1%} → {sl_on:.1%} ({diff * 100:+.1f} points); "
            "the window is too short for a confidence interval"
        )
    noise = math.hypot(f.sl_ci_off, f.sl_ci_on)
    within = abs(diff) <= noise
    return (
        f"service level {label}: {sl_off:.1%} → {sl_on:.1%} ({diff * 100:+.1f} points), "
        f"{'within' if within else 'beyond'} the runs' noise (±{noise * 100:.1f} points, "
        f"95 % batch means of both arms): "
        + (
            "no measurable change from recording"
            if within
            else "recording changed it, or the machine's other work did"
        )
    )


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1%}"


def _num(v: float | None, fmt: str = ".1f") -> str:
    return "—" if v is None else format(v, fmt)


def _size(n: float) -> str:
    for unit, step in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= step:
            return f"{n / step:.2f} {unit}"
    return f"{n:.0f} B"


def table(f: Figures, off: Arm, on: Arm) -> str:
    """The figures as a Markdown table (also what the command prints)."""
    rows = [
        ("calls (service records)", f"{off.calls}", f"{on.calls}"),
        ("answered", f"{off.answered}", f"{on.answered}"),
        ("seconds of call (run's clock)", f"{off.call_s:.0f}", f"{on.call_s:.0f}"),
        (
            "Asterisk CPU s (first call → last hang-up)",
            f"{off.asterisk_cpu_s:.1f}",
            f"{on.asterisk_cpu_s:.1f}",
        ),
        ("Asterisk cores, mean", f"{f.asterisk_cores_off:.3f}", f"{f.asterisk_cores_on:.3f}"),
        ("Asterisk CPU ms per call", f"{f.cpu_ms_per_call_off:.1f}", f"{f.cpu_ms_per_call_on:.1f}"),
        ("recordings: files", f"{off.disk.files}", f"{on.disk.files}"),
        ("recordings: bytes", _size(off.disk.bytes), _size(on.disk.bytes)),
        ("recordings: seconds of audio", f"{off.disk.audio_s:.0f}", f"{on.disk.audio_s:.0f}"),
        (
            "Asterisk's writes to storage, all files (/proc/pid/io)",
            "—" if off.asterisk_wrote is None else _size(off.asterisk_wrote),
            "—" if on.asterisk_wrote is None else _size(on.asterisk_wrote),
        ),
    ]
    for i, label in enumerate(f.service_levels_on):
        ci_off = f" ±{f.sl_ci_off:.1%}" if i == 0 and f.sl_ci_off is not None else ""
        ci_on = f" ±{f.sl_ci_on:.1%}" if i == 0 and f.sl_ci_on is not None else ""
        rows.append(
            (
                f"service level {label}",
                _pct(f.service_levels_off.get(label)) + ci_off,
                _pct(f.service_levels_on.get(label)) + ci_on,
            )
        )
    rows += [
        ("ASA s (unscaled)", _num(f.asa_off_s), _num(f.asa_on_s)),
        ("waited more than 1 s (unscaled)", _pct(f.waited_off), _pct(f.waited_on)),
        ("p95 wait s (unscaled)", _num(f.p95_wait_off_s), _num(f.p95_wait_on_s)),
        ("abandon rate", _pct(f.abandon_off), _pct(f.abandon_on)),
        (
            "machine: others' cores (not ours)",
            f"{off.peak.get('cpu', {}).get('others_cores', 0.0):.2f}",
            f"{on.peak.get('cpu', {}).get('others_cores', 0.0):.2f}",
        ),
        ("calls lost (no complete record)", f"{off.peak.get('lost')}", f"{on.peak.get('lost')}"),
    ]
    out = ["| figure | recording off | recording on |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(out)


def derived(f: Figures) -> str:
    """The derived figures, one line each."""
    return "\n".join(
        [
            f"- recording's extra Asterisk CPU: {f.extra_cpu_ms_per_call:+.1f} ms per call of "
            f"this run ({f.cpu_ms_per_call_off:.1f} → {f.cpu_ms_per_call_on:.1f} ms), "
            f"{f.extra_cpu_per_call_s * 1000:+.2f} ms per second of call; cores during the "
            f"peak {f.asterisk_cores_off:.3f} → {f.asterisk_cores_on:.3f}",
            f"- disk: {_size(f.bytes_per_call)} per call of this run, "
            f"{f.bytes_per_call_s / 1000:.2f} kB per second of call; the files hold "
            f"{f.audio_coverage:.0%} of the calls' seconds as audio",
            f"- a day's call (unscaled): {f.day_call_s:.0f} s recorded (menu + wait as "
            f"measured + the forecast's mean talk) → {_size(f.bytes_per_day_call)} and "
            f"{f.extra_cpu_s_per_day_call * 1000:+.0f} ms of Asterisk CPU per call",
            f"- **disk per day at {f.calls_per_day:,.0f} calls: "
            f"{_size(f.disk_per_day_bytes)}** ({_size(f.disk_per_day_bytes * 365)} a year "
            "before retention purges)",
            f"- {sl_verdict(f)}",
        ]
    )


def _args_with_defaults(argv: Sequence[str]) -> list[str]:
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    out: list[str] = []
    for flag, value in DEFAULTS.items():
        if flag not in given:
            out += [flag, value]
    return out + list(argv)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(p)
    p.add_argument("--agents", type=agents_arg, default="auto")
    p.add_argument("--database-url", default="", help="default: SQLite in a temporary dir")
    p.add_argument("--calls-per-day", type=float, default=15000.0)
    p.add_argument("--record", action="store_true", help=f"append the figures to {RESULTS}")
    return p


def report(
    argv: Sequence[str], f: Figures, off: Arm, on: Arm, *, wall_s: float, load: str, printed: str
) -> str:
    """The results file's section for one run."""
    plan = on.peak.get("plan", {})
    cpu = on.peak.get("cpu", {})
    machine = on.peak.get("machine", {})
    cpu_off = off.peak.get("cpu", {})
    scale = f.time_scale
    how = (
        f"the run is {scale:g}× faster than real time: a call of the run is {scale:g}× "
        "shorter than a real one, and so are its bytes and its CPU. The per-second figures do "
        "not depend on the scale; the day's figures multiply them by an unscaled call's "
        "length. That CPU figure is an upper bound: what recording costs once per call "
        f"(starting MixMonitor, closing and renaming the file) is paid {scale:g}× more often "
        "per second of call here."
        if scale != 1
        else "the run is in real time: a call of the run is a real call's length."
    )
    return f"""## {on.peak.get("started_at", "?")} — time scale {scale:g}

- command: `python bench/recording_cost.py {shlex.join(argv)}`; peak options used:
  `{shlex.join(_args_with_defaults([a for a in argv if a != "--record"]))}`;
  wall time {wall_s / 60:.1f} min; exit codes of the arms off {off.peak.get("exit")},
  on {on.peak.get("exit")}
- machine: {machine.get("node")}, {machine.get("cores")} cores; load average before the
  run {load}. **Other work ran beside it**: other engineers' tests and builds shared the
  cores (the "others' cores" row); the machine was {cpu_off.get("machine_mean", 0.0):.0%}
  busy on average during the off arm, {cpu.get("machine_mean", 0.0):.0%} during the on arm
- load, the same in both arms: {plan.get("calls_per_hour")} calls/h, talk
  {plan.get("talk_s")} s exponential, {plan.get("agents")} agents,
  {plan.get("scheduled_calls")} Poisson arrivals (seed {plan.get("seed")}); the agents
  play a 1 kHz tone from the answer on, the callers only their menu keys

{table(f, off, on)}

{derived(f)}

How to read it: {how} The service level's verdict weighs the difference against both
arms' 95 % batch-means half-widths: one scaled part of an hour moves by several points
between two runs on its own. The extra CPU is MixMonitor's work (each call's audio as
frames, mixed and written) and, most likely, that a channel with an audiohook is not bridged
natively (RTP forwarded without frames) as the off arm's calls can be: not measured apart.

<details><summary>what the two peak runs printed</summary>

```
{printed}
```
</details>

"""


async def _run(args: argparse.Namespace) -> tuple[Arm, Arm]:
    # Long enough for any call of the run: SIPp replays a pcap from its start (tone_pcap).
    audio = tone_pcap(1000, seconds=max(60, math.ceil(20 * args.aht / args.time_scale)))
    off = await run_arm(args, recording=False, audio=audio)
    on = await run_arm(args, recording=True, audio=audio)
    return off, on


def main(argv: list[str]) -> int:
    args = parser().parse_args(_args_with_defaults(argv))
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    started = time.monotonic()
    try:
        off, on = asyncio.run(_run(args))
        f = figures(off, on, calls_per_day=args.calls_per_day, talk_s=args.aht - args.wrapup)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    wall = time.monotonic() - started
    text = f"{table(f, off, on)}\n\n{derived(f)}"
    print(text)
    printed = "\n".join(
        ln
        for ln in (off.printed + on.printed).splitlines()
        if ln.strip() and " INFO " not in ln and not ln.startswith("callbacks;")
    )
    print("figures: " + json.dumps(asdict(f), default=str))
    if args.record:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        new = not RESULTS.exists()
        with RESULTS.open("a", encoding="utf-8") as out:
            if new:
                out.write(HEADER)
            out.write(report(argv, f, off, on, wall_s=wall, load=load, printed=printed))
        print(f"recorded in {RESULTS} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
        print(f"machine: {platform.node()}")
    return 0 if off.peak.get("lost") == 0 and on.peak.get("lost") == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
