"""Benchmark: IVR calls per second sustained, the service's engine over FastAGI (1022)
against the same menu compiled to plain dialplan (1023, ``ivr/dialplan.py``), in one run.

One throwaway hotline (``Stack``: its own Asterisk instance, the service in this process,
SQLite), no agents: every call takes the same path, "27" (food, then Dĩ An: two menus,
then the food queue), and the SIPp citizen hangs up a fixed time after its last key, while
queued. So this measures the IVR — the menus up to the queue — not answering.

For each offered rate (``--rates``), each mode places ``rate × --step-seconds`` calls (at most
``--max-calls``) with one SIPp process. A call counts as routed when its
``UserEvent(HotlineRoute)`` arrives over AMI saying food / 724 / "27" / ivr; its routing
time runs from its Newchannel to that event (both Asterisk's timestamps). Per step: calls
placed, the rate Asterisk actually saw, routed, failed, p50/p95 routing time, peak
concurrent calls, AMI events per call, and CPU (the busiest 2 s: whole machine, Asterisk,
this Python process — the service, with its asyncio thread apart — and SIPp).

A step passes when ≥ 99 % of its calls were routed (and SIPp failed no more than that), its
p95 stayed within 2 s of the lowest step's p95 (same mode), and Asterisk saw ≥ 95 % of the
offered rate. "Sustained" is the highest passing rate; a mode stops at its first failing
step. The modes alternate at each rate, so both see the same machine state.

    .venv/bin/python bench/ivr_agi_vs_dialplan.py            # about 6 minutes on 2 cores

Results are printed and appended to ``bench/results/ivr.md``. Everything runs on
127.0.0.1; a step never holds more than ``--max-concurrent`` calls (the Stack's Asterisk
has 1000 RTP ports: at most 500 calls).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import logging
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from pbx.events import AmiEvent, Hangup, Newchannel, UserEvent
from simulation.citizens import citizen_scenario, run_citizens
from simulation.simulate import percentile
from simulation.sipp import run_dir
from simulation.stack import Stack, free_udp_tcp_port
from store.models import Call, IvrEvent

RESULTS = Path(__file__).resolve().parent / "results" / "ivr.md"

KEYS = "27"
# The food queue of Dĩ An: routing by district (queues/routing.py) sends a caller with a
# district to its district's queue of the category, when the hotline has one.
EXPECTED = {
    "Hotline-Queue": "food-724",
    "Hotline-District": "724",
    "Hotline-Choice": "27",
    "Hotline-Route": "ivr",
}
# mode -> (number dialled, number prefix digit, what it is)
MODES: dict[str, tuple[str, str, str]] = {
    "agi": ("1022", "1", "FastAGI: the service's engine"),
    "dialplan": ("1023", "2", "the same menu compiled to dialplan"),
}
P95_SLACK_S = 2.0
MIN_ROUTED = 0.99
MIN_ACHIEVED = 0.95

log = logging.getLogger("bench.ivr")


# -- what Asterisk says about each call -----------------------------------------------------


@dataclass
class Seen:
    exten: str
    number: str
    start: float  # Newchannel, Asterisk's clock
    route_at: float | None = None
    route_ok: bool | None = None
    end: float | None = None


def _ts(ev: AmiEvent) -> float:
    try:
        return float(ev.get("Timestamp"))
    except ValueError:
        return ev.received_at


@dataclass
class Observer:
    """An AMI listener: every citizen channel to 1022/1023, its route event and hangup."""

    calls: dict[str, Seen] = field(default_factory=dict)  # uniqueid -> call
    events: int = 0
    misroutes: Counter[str] = field(default_factory=Counter)

    def on_event(self, ev: AmiEvent) -> None:
        self.events += 1
        if isinstance(ev, Newchannel):
            if ev.context == "citizens" and ev.exten in ("1022", "1023"):
                self.calls[ev.uniqueid] = Seen(ev.exten, ev.caller_id_num, _ts(ev))
            return
        if isinstance(ev, UserEvent | Hangup):
            call = self.calls.get(ev.uniqueid)
            if call is None:
                return
            if isinstance(ev, Hangup):
                call.end = _ts(ev)
            elif ev.user_event == "HotlineRoute":
                call.route_at = _ts(ev)
                got = {h: ev.get(h) for h in EXPECTED}
                call.route_ok = got == EXPECTED
                if not call.route_ok:
                    self.misroutes[" ".join(f"{k[8:]}={v}" for k, v in got.items())] += 1

    def of(self, prefix: str) -> list[Seen]:
        return [c for c in self.calls.values() if c.number.startswith(prefix)]


# -- CPU ------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _ticks(path: str) -> int | None:
    """utime + stime of a /proc/<pid>[/task/<tid>]/stat, in clock ticks."""
    try:
        raw = Path(path).read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def _machine() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


class CpuSampler:
    """Samples the CPU time of named processes (and threads) twice a second."""

    PERIOD_S = 0.5

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}
        self.samples: list[tuple[float, dict[str, int | None], tuple[int, int]]] = []
        self._task: asyncio.Task[None] | None = None

    def watch(self, name: str, pid: int, tid: int | None = None) -> None:
        self.paths[name] = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            ticks = {name: _ticks(path) for name, path in list(self.paths.items())}
            self.samples.append((time.time(), ticks, _machine()))
            await asyncio.sleep(self.PERIOD_S)

    def used_s(self, since: float, until: float) -> dict[str, float]:
        """CPU seconds each name used within [since, until] (between the nearest samples)."""
        samples = [s for s in self.samples if since <= s[0] <= until]
        if len(samples) < 2:
            return {}
        (_, first, _), (_, last, _) = samples[0], samples[-1]
        used: dict[str, float] = {}
        for name, a in first.items():
            b = last.get(name)
            if a is not None and b is not None:
                used[name] = (b - a) / TICK
        return used

    def peaks(self, since: float, until: float, window_s: float = 2.0) -> dict[str, float]:
        """The highest CPU % (100 = one core) of each name over any ``window_s`` within
        [since, until]; "machine" is the busy share of all cores (100 = all)."""
        samples = [s for s in self.samples if since <= s[0] <= until]
        peaks: dict[str, float] = {}
        for i, (t0, ticks0, (busy0, total0)) in enumerate(samples):
            later = (j for j in range(i + 1, len(samples)) if samples[j][0] - t0 >= window_s)
            j = next(later, None)
            if j is None:
                break
            t1, ticks1, (busy1, total1) = samples[j]
            if total1 > total0:
                machine = 100.0 * (busy1 - busy0) / (total1 - total0)
                peaks["machine"] = max(peaks.get("machine", 0.0), machine)
            for name, a in ticks0.items():
                b = ticks1.get(name)
                if a is not None and b is not None:
                    pct = 100.0 * (b - a) / TICK / (t1 - t0)
                    peaks[name] = max(peaks.get(name, 0.0), pct)
        return peaks


# -- one step -------------------------------------------------------------------------------


@dataclass
class Step:
    mode: str
    offered: float
    placed: int = 0
    seen: int = 0
    achieved: float = 0.0
    routed: int = 0
    misrouted: int = 0
    sipp_failed: int = 0
    sipp_watchdog: int = 0
    p50: float = 0.0
    p95: float = 0.0
    peak_calls: int = 0
    events_per_call: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    cpu_ms_per_call: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    stuck: str = ""  # where the calls not routed stopped in the menu (FastAGI only)
    passed: bool = False
    why: str = ""

    @property
    def failed(self) -> int:
        # SIPp's failures are almost always calls that were not routed either; a call cannot
        # be matched across the two, so the larger count is taken.
        return max(self.placed - self.routed, self.sipp_failed)

    @property
    def routed_share(self) -> float:
        return (self.placed - self.failed) / self.placed if self.placed else 0.0


def _sipp_stat(proc: subprocess.Popen[bytes]) -> tuple[dict[str, str], Path | None]:
    """The last line of the run's -stf statistics file, and the run's work directory."""
    workdir = run_dir(proc)
    if workdir is None:
        return {}, None
    stat = workdir / "stat.csv"
    try:
        with stat.open(newline="") as f:
            rows = list(csv.DictReader(f, delimiter=";"))
    except OSError:
        return {}, stat.parent
    return (rows[-1] if rows else {}), stat.parent


def _int(row: dict[str, str], key: str) -> int:
    try:
        return int(row.get(key, "") or 0)
    except ValueError:
        return 0


def _peak_concurrency(calls: list[Seen]) -> int:
    edges = sorted([(c.start, 1) for c in calls] + [(c.end, -1) for c in calls if c.end])
    peak = now = 0
    for _, delta in edges:
        now += delta
        peak = max(peak, now)
    return peak


async def run_step(
    stack: Stack,
    obs: Observer,
    cpu: CpuSampler,
    mode: str,
    rate: float,
    count: int,
    prefix: str,
    args: argparse.Namespace,
) -> Step:
    exten = MODES[mode][0]
    numbers = [f"{prefix}{i:05d}" for i in range(count)]
    scenario = citizen_scenario(
        KEYS,
        first_key_after_ms=args.first_key_ms,
        between_keys_ms=args.between_keys_ms,
        hangup_after_ms=args.hangup_after_ms,
    )
    scenario = scenario.replace("sip:1022@", f"sip:{exten}@")
    events_before = obs.events
    started = time.time()
    proc = run_citizens(
        scenario,
        numbers,
        server_port=stack.settings.sip_port,
        local_port=free_udp_tcp_port(),
        media_port=stack.next_media_port(),
        rate=rate,
        max_concurrent=args.max_concurrent,
        timeout_s=count / rate + 120,
    )
    cpu.watch("sipp", proc.pid)
    cpu.watch("sipp main", proc.pid, proc.pid)
    try:
        rc = await asyncio.wait_for(asyncio.to_thread(proc.wait), count / rate + 180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    stat, workdir = _sipp_stat(proc)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)
    ended = time.time()
    if rc not in (0, 1):  # 1: some calls failed, counted below
        log.warning("SIPp exited %d: %s", rc, err.strip()[-500:])
    # Every event of the step handed to the listeners, every channel of it gone.
    link = stack.running.link
    with contextlib.suppress(TimeoutError):
        await stack.wait_for(
            lambda: (
                link.status()["event_backlog"] == 0
                and all(c.end is not None for c in obs.of(prefix))
            ),
            60,
            "the step's channels to end",
        )
    calls = obs.of(prefix)
    step = Step(mode=mode, offered=rate)
    step.placed = _int(stat, "TotalCallCreated") or count
    step.sipp_failed = _int(stat, "FailedCall(C)")
    step.sipp_watchdog = _int(stat, "WatchdogMajor(C)") + _int(stat, "WatchdogMinor(C)")
    step.seen = len(calls)
    starts = sorted(c.start for c in calls)
    if len(starts) > 1 and starts[-1] > starts[0]:
        step.achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    ok = [c for c in calls if c.route_ok]
    step.routed = len(ok)
    step.misrouted = sum(1 for c in calls if c.route_ok is False)
    times = sorted(c.route_at - c.start for c in ok if c.route_at is not None)
    step.p50, step.p95 = percentile(times, 50), percentile(times, 95)
    step.peak_calls = _peak_concurrency(calls)
    step.events_per_call = (obs.events - events_before) / max(1, len(calls))
    step.cpu = cpu.peaks(started, ended)
    used = cpu.used_s(started, time.time())
    step.cpu_ms_per_call = {k: 1000 * v / max(1, len(calls)) for k, v in used.items()}
    step.wall_s = ended - started
    del cpu.paths["sipp"], cpu.paths["sipp main"]
    return step


def judge(step: Step, base_p95: float) -> None:
    reasons = []
    if step.routed_share < MIN_ROUTED:
        reasons.append(f"routed {100 * step.routed_share:.1f} %")
    if step.p95 > base_p95 + P95_SLACK_S:
        reasons.append(f"p95 {step.p95:.2f} s > {base_p95:.2f} + {P95_SLACK_S:g} s")
    if step.achieved < MIN_ACHIEVED * step.offered:
        reasons.append(f"Asterisk saw {step.achieved:.1f}/s of {step.offered:g}/s")
    step.passed = not reasons
    step.why = "; ".join(reasons) or "pass"


async def stuck_nodes(stack: Stack, obs: Observer, prefix: str) -> str:
    """The last menu node of each FastAGI call that was not routed, from the service's own
    IVR steps (calls to 1023 have none: the tracker only learns of them at their route)."""
    lost = [c.number for c in obs.of(prefix) if not c.route_ok]
    async with stack.running.db.session() as session:
        nodes = (
            await session.scalars(select(Call.ivr_exit_node).where(Call.caller_number.in_(lost)))
        ).all()
    seen = Counter(node or "(none)" for node in nodes)
    seen["(no record)"] += len(lost) - len(nodes)
    # The journal of a few of them: which key the service got, and where it stopped.
    ids = [u for u, c in obs.calls.items() if c.number.startswith(prefix) and not c.route_ok]
    async with stack.running.db.session() as session:
        events = (
            await session.scalars(
                select(IvrEvent)
                .where(IvrEvent.call_uniqueid.in_(ids[:3]))
                .order_by(IvrEvent.call_uniqueid, IvrEvent.seq)
            )
        ).all()
    paths: dict[str, list[str]] = {}
    for e in events:
        paths.setdefault(e.call_uniqueid, []).append(
            f"{e.node}:{e.kind}{':' + e.key if e.key else ''}"
        )
    journals = "; ".join(" ".join(p) for p in paths.values())
    return ", ".join(f"{node} ×{n}" for node, n in seen.most_common() if n) + (
        f" (journal of {len(paths)}: {journals})" if journals else ""
    )


# -- report ---------------------------------------------------------------------------------

CPU_COLUMNS = ("machine", "asterisk", "service", "service loop", "sipp", "sipp main")
HEADER = (
    "| mode | offered /s | placed | seen /s | routed | failed | SIPp failed | p50 s | p95 s "
    "| peak calls | AMI ev/call | CPU % machine / asterisk / service (loop) / sipp (main) "
    "| CPU ms/call asterisk / service | verdict |"
)


def row(step: Step) -> str:
    c, ms = step.cpu, step.cpu_ms_per_call
    cpu = (
        f"{c.get('machine', 0):.0f} / {c.get('asterisk', 0):.0f} / "
        f"{c.get('service', 0):.0f} ({c.get('service loop', 0):.0f}) / "
        f"{c.get('sipp', 0):.0f} ({c.get('sipp main', 0):.0f})"
    )
    return (
        f"| {step.mode} | {step.offered:g} | {step.placed} | {step.achieved:.1f} "
        f"| {step.routed} | {step.failed} | {step.sipp_failed} | {step.p50:.2f} "
        f"| {step.p95:.2f} | {step.peak_calls} | {step.events_per_call:.0f} | {cpu} "
        f"| {ms.get('asterisk', 0):.0f} / {ms.get('service', 0):.0f} | {step.why} |"
    )


def table(steps: list[Step]) -> str:
    sep = "|" + "---|" * (HEADER.count("|") - 1)
    return "\n".join([HEADER, sep, *(row(s) for s in steps)])


def sustained(steps: list[Step], mode: str, top: float) -> tuple[float, bool, str]:
    """(the highest passing rate, whether it is only a floor, how to say it)."""
    mine = [s for s in steps if s.mode == mode]
    passed = [s.offered for s in mine if s.passed]
    best = max(passed, default=0.0)
    if not passed:
        return 0.0, False, f"< {mine[0].offered:g} calls/s (its lowest step failed)"
    if best >= top and all(s.passed for s in mine):
        return best, True, f"≥ {best:g} calls/s (passed every step, up to the bench's ceiling)"
    return best, False, f"{best:g} calls/s"


def ratio_text(agi: tuple[float, bool, str], dialplan: tuple[float, bool, str]) -> str:
    (a, a_floor, _), (d, d_floor, _) = agi, dialplan
    if not a or not d:
        return "undetermined (a mode passed no step)"
    if a_floor and d_floor:
        return "undetermined: both sustained the highest rate the bench can offer"
    value = f"{d / a:.2f}"
    if d_floor:
        return f"≥ {value} (dialplan reached the ceiling)"
    if a_floor:
        return f"≤ {value} (FastAGI reached the ceiling)"
    return value


def share_text(agi: tuple[float, bool, str], dialplan: tuple[float, bool, str]) -> str:
    """FastAGI's sustained rate as a share of the dialplan's (issue 16's figure, target
    ≥ 0.9); when both passed every step, the bench's ceiling capped both: the share at the
    highest rate both reached, a floor."""
    (a, a_floor, _), (d, d_floor, _) = agi, dialplan
    if not d:
        return "undetermined (the dialplan passed no step)"
    value = f"{a / d:.2f}"
    if a_floor and d_floor:
        return (
            f"{value} at {a:g} calls/s, the highest rate both reached: both passed every "
            "step, so the bench's ceiling capped both and the real share may be higher"
        )
    if d_floor:
        return f"≤ {value} (the dialplan reached the ceiling)"
    if a_floor:
        return f"≥ {value} (FastAGI reached the ceiling)"
    return value


def cost_text(steps: list[Step]) -> str:
    """CPU per call of Asterisk + the service, at the highest rate both modes ran."""
    rates = {s.offered for s in steps if s.mode == "agi"} & {
        s.offered for s in steps if s.mode == "dialplan"
    }
    if not rates:
        return ""
    rate = max(rates)
    cost = {
        s.mode: s.cpu_ms_per_call.get("asterisk", 0) + s.cpu_ms_per_call.get("service", 0)
        for s in steps
        if s.offered == rate
    }
    if not cost.get("agi") or not cost.get("dialplan"):
        return ""
    agi, dialplan = cost["agi"], cost["dialplan"]
    return (
        f"CPU per call (Asterisk + service) at {rate:g}/s: FastAGI {agi:.0f} ms, "
        f"dialplan {dialplan:.0f} ms (dialplan/FastAGI {dialplan / agi:.2f})"
    )


def machine_line() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{platform.node()}, {os.cpu_count()} cores ({model or 'unknown CPU'})"


class _Counting(logging.Handler):
    """Counts the service's warnings and errors by message (they would flood the output)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen[f"{record.name}: {record.getMessage()[:160]}"] += 1


# -- main -----------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> tuple[list[Step], dict[str, str]]:
    steps: list[Step] = []
    info: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="hotline-bench-ivr-") as tmp:
        async with Stack(
            state_dir=Path(tmp),
            database_url=args.database_url,
            # The dialplan menu (1023) offers no callback: neither may the FastAGI one. Nor
            # does it record the call (1022 runs MixMonitor on every answered call, ~20 ms
            # of Asterisk's CPU each: bench/recording_cost.py): both arms do the menu alone.
            settings={"callback_threshold_s": -1, "recording_enabled": False},
        ) as stack:
            assert stack.asterisk is not None
            ast = stack.asterisk
            info["asterisk"] = await asyncio.to_thread(ast.version)
            obs = Observer()
            stack.running.link.add_listener(obs.on_event)
            cpu = CpuSampler()
            pid_file = ast.host_path(f"{ast.inst}/run/asterisk.pid")
            cpu.watch("asterisk", int(pid_file.read_text().strip()))
            cpu.watch("service", os.getpid())
            cpu.watch("service loop", os.getpid(), os.getpid())
            cpu.start()
            try:
                # Warm-up (not counted): prompts into the page cache, connections opened.
                for mode, (_, digit, _) in MODES.items():
                    await run_step(stack, obs, cpu, mode, 2, 6, f"098{digit}00", args)
                await stack.wait_idle(60)
                active = set(MODES)
                base: dict[str, float] = {}
                for index, rate in enumerate(args.rates, 1):
                    for mode in [m for m in MODES if m in active]:
                        count = min(args.max_calls, max(10, round(rate * args.step_seconds)))
                        prefix = f"09{MODES[mode][1]}{index:02d}"
                        print(f"{mode}: {count} calls at {rate:g}/s ...", flush=True)
                        step = await run_step(stack, obs, cpu, mode, rate, count, prefix, args)
                        base.setdefault(mode, step.p95)
                        judge(step, base[mode])
                        steps.append(step)
                        print(row(step), flush=True)
                        if not step.passed:
                            active.discard(mode)
                        try:
                            await stack.wait_idle(60)  # the records written before the next
                        except TimeoutError as exc:
                            log.warning("%s", exc)
                        if mode == "agi" and step.failed:
                            step.stuck = await stuck_nodes(stack, obs, prefix)
                        await asyncio.sleep(args.settle_s)
                    if not active:
                        break
            finally:
                await cpu.stop()
            if obs.misroutes:
                info["misroutes"] = "; ".join(f"{n}× {r}" for r, n in obs.misroutes.items())
    return steps, info


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--rates",
        type=lambda s: [float(r) for r in s.split(",")],
        default=[5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 65.0],
        help="offered call rates per second, in order (default 5,10,20,30,40,50,60,65)",
    )
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--max-calls", type=int, default=600, help="calls per step at most")
    parser.add_argument("--max-concurrent", type=int, default=460, help="SIPp's -l")
    parser.add_argument(
        "--first-key-ms", type=int, default=1000, help="the first key, after the answer"
    )
    parser.add_argument(
        "--between-keys-ms", type=int, default=250, help="pause between keys (+250 ms each)"
    )
    parser.add_argument(
        "--hangup-after-ms",
        type=int,
        default=5200,
        help="the citizen hangs up this long after the last key (while queued)",
    )
    parser.add_argument("--settle-s", type=float, default=2.0)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    args = parser.parse_args(argv)
    # A call lasts its keys + the hang-up time: keep the busiest step under the RTP ports.
    keys_ms = args.first_key_ms + (len(KEYS) - 1) * args.between_keys_ms + len(KEYS) * 250
    call_s = (keys_ms + args.hangup_after_ms) / 1000
    if max(args.rates) * call_s > args.max_concurrent:
        print(
            f"note: at {max(args.rates):g}/s calls of ~{call_s:.1f} s would need "
            f"{max(args.rates) * call_s:.0f} at once; SIPp holds them to {args.max_concurrent}",
            file=sys.stderr,
        )
    counting = _Counting()  # the service's warnings are summed up, not printed one by one
    logging.getLogger().addHandler(counting)
    logging.getLogger().setLevel(logging.WARNING)
    started = time.monotonic()
    when = datetime.now(UTC)
    load_before = os.getloadavg()
    steps, info = asyncio.run(bench(args))
    elapsed = time.monotonic() - started
    load = (
        "load average (1, 5, 15 min) "
        + " / ".join(f"{x:.1f}" for x in load_before)
        + " at the start, "
        + " / ".join(f"{x:.1f}" for x in os.getloadavg())
        + " at the end (other work may share the machine)"
    )
    print(load)
    top = max(args.rates)
    agi = sustained(steps, "agi", top)
    dialplan = sustained(steps, "dialplan", top)
    command = f".venv/bin/python bench/ivr_agi_vs_dialplan.py {shlex.join(argv)}".rstrip()
    summary = (
        f"sustained IVR calls/s: FastAGI (1022) {agi[2]}; dialplan (1023) {dialplan[2]}; "
        f"ratio dialplan/FastAGI {ratio_text(agi, dialplan)}; "
        f"FastAGI/dialplan {share_text(agi, dialplan)}"
    )
    cost = cost_text(steps)
    stuck = "; ".join(f"{s.offered:g}/s: {s.stuck}" for s in steps if s.stuck)
    if stuck:
        stuck = f"FastAGI calls not routed, by the menu node they were last in: {stuck}"
    print()
    print(table(steps))
    print()
    print(summary)
    for line in (cost, stuck):
        if line:
            print(line)
    warnings = "; ".join(f"{n}× {m}" for m, n in counting.seen.most_common(5)) or "none"
    print(f"service warnings/errors: {warnings}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new = not RESULTS.exists()
    with RESULTS.open("a", encoding="utf-8") as f:
        if new:
            f.write("# IVR: FastAGI engine against the menu as plain dialplan\n\n")
        f.write(
            f"## {when:%Y-%m-%d %H:%M} UTC\n\n"
            f"- command: `{command}`\n"
            f"- machine: {machine_line()}; {info.get('asterisk', 'Asterisk ?')}; Python "
            f"{platform.python_version()}; wall time {elapsed:.0f} s\n"
            f"- {load}\n"
            f"- every call presses {KEYS!r} (food, then Dĩ An: two menus, then the food queue; "
            f"first key {args.first_key_ms} ms after the answer, {args.between_keys_ms} ms "
            f"between keys) and hangs up {args.hangup_after_ms} ms after its last key, while "
            "queued; no agents: this measures the IVR, not answering\n"
            f"- offered rates {', '.join(f'{r:g}' for r in args.rates)} calls/s, "
            f"steps of {args.step_seconds:g} s of calls (at most {args.max_calls}); pass: "
            f"≥ {100 * MIN_ROUTED:g} % routed, p95 within {P95_SLACK_S:g} s of the lowest "
            f"step's, Asterisk saw ≥ {100 * MIN_ACHIEVED:g} % of the offered rate; CPU: the "
            "busiest 2 s of the step, % of one core (machine: % of all cores)\n"
            f"- ceiling: SIPp holds at most {args.max_concurrent} calls at once (the Stack's "
            f"1000 RTP ports: 500 calls); a call lasts ~{call_s:.1f} s, so the bench can offer "
            f"~{args.max_concurrent / call_s:.0f} calls/s at most\n"
            f"- service warnings/errors: {warnings}\n"
            + (f"- wrong routes: {info['misroutes']}\n" if "misroutes" in info else "")
            + f"\n{table(steps)}\n\n**{summary}**\n\n"
            + "".join(f"{line}\n\n" for line in (cost, stuck) if line)
        )
    print(f"recorded in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
