"""``hotline1022 simulate``: SIPp citizens and agents through a throwaway hotline.

With ``--calls-per-hour`` the command simulates a peak hour instead (Poisson arrivals,
exponential talk times, Erlang comparison): ``simulation.peak``; the CLI chooses. This mode
places N calls at R per second, the menu choices spread over whole key paths (30 % each for
a medical call from a district, food aid in a district, a violation report; 10 % pressing
nothing, who reach the default after the retries), with A SIPp agents answering. It then
compares Asterisk's own record (the instance's CDR) with the service's call records and prints
one summary line last::

    offered=N answered=… abandoned=… lost=… p50_wait_s=… p95_wait_s=… unreached=…

``lost`` counts calls Asterisk saw (a CDR for 1022) that the service has no complete
record of; ``unreached`` the calls SIPp placed that Asterisk never saw at all (no CDR: refused
or never answered, e.g. when Asterisk had no RTP port left for them). Either fails the run.
The whole stack — Asterisk instance, service, database — is made for the run and removed
after it, so a simulation never touches a running hotline's data.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from hotline1022.settings import Settings
from simulation.citizens import CallTimes, call_times, citizen_scenario, run_citizens
from simulation.cpu import CpuSampler, stop
from simulation.sipp import await_runs, run_dir, stat_counter
from simulation.stack import Stack, free_udp_tcp_port
from store.models import Call, CallStatus

__all__ = [
    "Summary",
    "Timing",
    "answered_after",
    "arrival_rate",
    "asterisk_arrivals",
    "asterisk_calls",
    "asterisk_starts",
    "run",
    "sent_rate",
    "summarize",
    "timing",
    "udp_drops",
]

log = logging.getLogger(__name__)

# The run's RTP ports: a region of its own, not the stack's usual 1,000 ports (500 sessions)
# among 22000-23999 that every test Asterisk on the machine shares. At 20 calls/s several
# hundred calls are up at once, each with two RTP sessions (the citizen's, the agent's); with
# too few ports Asterisk refuses new calls ("couldn't allocate a port for RTP instance") and
# cannot ring the agents. No other part of the project uses 10000-19999; Asterisk skips a
# port that something else holds.
RTP_RANGE = (10000, 19999)
# How long, after the last SIPp run ended, the service may take to complete every record.
SETTLE_S = 300.0
AMI_HEARTBEAT_S: float = Settings.model_fields["ami_heartbeat_interval_s"].default

# (keys pressed, share of calls). Each path answers every question the menu asks: "124" a
# medical call (not life-threatening) from Bến Cát, "27" food aid in Dĩ An, "3" a violation.
# A caller who pressed "1" or "2" alone sat through the severity and district questions'
# retries, ~70-100 s in the menu before reaching a queue: callers who press nothing are the
# 10 % who do that on purpose.
CHOICES: tuple[tuple[str, float], ...] = (("124", 0.3), ("27", 0.3), ("3", 0.3), ("", 0.1))


@dataclass(frozen=True)
class Summary:
    offered: int
    answered: int
    abandoned: int
    lost: int
    p50_wait_s: float
    p95_wait_s: float
    # Calls placed that Asterisk never saw (``offered`` less the CDR's calls).
    unreached: int = 0

    def line(self) -> str:
        return (
            f"offered={self.offered} answered={self.answered} abandoned={self.abandoned} "
            f"lost={self.lost} p50_wait_s={self.p50_wait_s:.2f} p95_wait_s={self.p95_wait_s:.2f}"
            f" unreached={self.unreached}"
        )


def asterisk_calls(cdr_csv: Path, context: str = "citizens", exten: str = "1022") -> set[str]:
    """Uniqueids of the citizen channels Asterisk's CDR shows for calls to 1022."""
    if not cdr_csv.exists():
        return set()
    seen: set[str] = set()
    with cdr_csv.open(newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.reader(f):
            # cdr_csv columns: accountcode, src, dst, dcontext, clid, channel, dstchannel,
            # lastapp, lastdata, start, answer, end, duration, billsec, disposition,
            # amaflags, uniqueid (loguniqueid), userfield (loguserfield)
            if len(row) >= 17 and row[2] == exten and row[3] == context:
                seen.add(row[16])
    return seen


def asterisk_starts(
    cdr_csv: Path, context: str = "citizens", exten: str = "1022", *, by: int = 16
) -> dict[str, datetime]:
    """Each citizen call to 1022 -> when it reached Asterisk (the CDR's start, UTC: the
    instance logs in GMT), keyed by the CDR column ``by``: 16 the uniqueid, 1 the caller
    number (``src``, the number SIPp dialled from)."""
    if not cdr_csv.exists():
        return {}
    starts: dict[str, datetime] = {}
    with cdr_csv.open(newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.reader(f):
            if len(row) >= 17 and row[2] == exten and row[3] == context and row[9]:
                try:
                    start = datetime.strptime(row[9], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                except ValueError:
                    continue
                # A call may have several CDRs (one per queue attempt): its first start.
                if row[by] not in starts or start < starts[row[by]]:
                    starts[row[by]] = start
    return starts


def asterisk_arrivals(
    cdr_csv: Path, context: str = "citizens", exten: str = "1022"
) -> list[datetime]:
    """When each citizen call to 1022 reached Asterisk (the CDR's start), in order.

    The rate the run asked SIPp for is not the rate it offered on a loaded machine: this is
    what Asterisk saw."""
    return sorted(asterisk_starts(cdr_csv, context, exten).values())


def arrival_rate(arrivals: list[datetime]) -> float:
    """Calls per second from the first arrival to the last (0 for fewer than two calls).

    CDR starts are whole seconds, so ``n`` calls in a span of ``s`` seconds are counted over
    ``s + 1`` seconds: the rate is not overstated by the rounding."""
    if len(arrivals) < 2:
        return 0.0
    span = (arrivals[-1] - arrivals[0]).total_seconds() + 1.0
    return len(arrivals) / span


def udp_drops(port: int, table: str = "/proc/net/udp") -> int | None:
    """Datagrams the kernel dropped for the UDP socket bound to ``port`` (its receive buffer
    was full: whoever owns it did not read in time), from ``/proc/net/udp``; None if no such
    socket."""
    try:
        lines = Path(table).read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 13 and int(fields[1].rsplit(":", 1)[1], 16) == port:
            return int(fields[-1])
    return None


# When SIPp sends an INVITE again while no answer came (T1 = 500 ms, doubling): a 200 OK
# after the k-th of these most likely answered the k-th retransmission, the earlier ones lost.
RETRANSMIT_AT_S = (0.5, 1.5, 3.5, 7.5, 15.5, 31.5)


def answered_after(answer_s: list[float]) -> list[int]:
    """How many calls were answered before the first retransmission, between it and the
    second, ... (one count per window of ``RETRANSMIT_AT_S``, the last open)."""
    counts = [0] * len(RETRANSMIT_AT_S)
    for a in answer_s:
        i = next((k for k, at in enumerate(RETRANSMIT_AT_S) if a < at), len(counts) - 1)
        counts[i] += 1
    return counts


def sent_rate(sent: list[float]) -> float:
    """Calls per second SIPp sent at: the INVITEs' times (to the microsecond) from the first
    to the last, ``n - 1`` intervals (0 for fewer than two)."""
    if len(sent) < 2:
        return 0.0
    times = sorted(sent)
    span = times[-1] - times[0]
    return (len(times) - 1) / span if span > 0 else 0.0


@dataclass(frozen=True)
class Timing:
    """Where a run's calls were late: SIPp sending the INVITEs, or Asterisk taking them in
    (its CDR start, whole seconds) and answering them (the 200 OK back at SIPp)."""

    asked_per_s: float
    sent: int
    sent_span_s: float
    sent_per_s: float
    arrived: int
    arrived_span_s: float
    arrived_per_s: float
    # The 200 OKs' times at SIPp (to the microsecond): the rate Asterisk answered at, without
    # the CDR's whole seconds (600 calls sent over 29.95 s read 18.8-19.4/s in the CDR).
    answered_span_s: float
    answered_per_s: float
    # INVITE sent -> the call's CDR start (+0.5 s: the CDR truncates to the second), by caller.
    intake_p50_s: float
    intake_p95_s: float
    intake_max_s: float
    # INVITE sent -> 200 OK received, at SIPp.
    answer_p50_s: float
    answer_p95_s: float
    answer_max_s: float
    unanswered: int
    retransmissions: int
    # Answered before the first retransmission, after the first, ... (``answered_after``).
    answered_by_retransmission: tuple[int, ...] = ()
    # Datagrams the kernel dropped at Asterisk's SIP socket during the run (None: not read).
    sip_socket_drops: int | None = None

    def lines(self) -> list[str]:
        windows = ", ".join(
            f"{n} before {at:g} s"
            for n, at in zip(self.answered_by_retransmission, RETRANSMIT_AT_S, strict=False)
        )
        drops = "not read" if self.sip_socket_drops is None else str(self.sip_socket_drops)
        return [
            f"rates: asked {self.asked_per_s:.1f}/s; SIPp sent {self.sent} INVITEs over "
            f"{self.sent_span_s:.1f} s: {self.sent_per_s:.1f}/s; Asterisk saw {self.arrived} "
            f"arrive over {self.arrived_span_s:.0f} s (CDR starts, whole seconds): "
            f"{self.arrived_per_s:.1f}/s; answered (200 OK at SIPp) over "
            f"{self.answered_span_s:.1f} s: {self.answered_per_s:.1f}/s",
            f"delays: INVITE sent to Asterisk's CDR start (+-0.5 s) p50 {self.intake_p50_s:.1f} s"
            f" p95 {self.intake_p95_s:.1f} s max {self.intake_max_s:.1f} s; INVITE sent to "
            f"200 OK p50 {self.answer_p50_s:.2f} s p95 {self.answer_p95_s:.2f} s max "
            f"{self.answer_max_s:.2f} s; {self.unanswered} never answered; SIPp "
            f"retransmissions {self.retransmissions}",
            f"intake: 200 OK (INVITE retransmitted at 0.5, 1.5, 3.5, 7.5, 15.5 s) {windows}; "
            f"datagrams dropped at Asterisk's SIP socket (receive buffer full): {drops}",
        ]


def timing(
    asked_per_s: float,
    times: dict[str, CallTimes],
    starts_by_caller: dict[str, datetime],
    retransmissions: int = 0,
    sip_socket_drops: int | None = None,
) -> Timing:
    sent = sorted(t.sent for t in times.values())
    arrivals = sorted(starts_by_caller.values())
    intake = sorted(
        starts_by_caller[n].timestamp() + 0.5 - t.sent
        for n, t in times.items()
        if n in starts_by_caller
    )
    answers = sorted(a for t in times.values() if (a := t.answer_s) is not None)
    oks = sorted(t.answered for t in times.values() if t.answered is not None)
    arrived_span = (arrivals[-1] - arrivals[0]).total_seconds() + 1.0 if arrivals else 0.0
    return Timing(
        asked_per_s=asked_per_s,
        sent=len(sent),
        sent_span_s=sent[-1] - sent[0] if sent else 0.0,
        sent_per_s=sent_rate(sent),
        arrived=len(arrivals),
        arrived_span_s=arrived_span,
        arrived_per_s=arrival_rate(arrivals),
        answered_span_s=oks[-1] - oks[0] if oks else 0.0,
        answered_per_s=sent_rate(oks),
        intake_p50_s=percentile(intake, 50),
        intake_p95_s=percentile(intake, 95),
        intake_max_s=intake[-1] if intake else 0.0,
        answer_p50_s=percentile(answers, 50),
        answer_p95_s=percentile(answers, 95),
        answer_max_s=answers[-1] if answers else 0.0,
        unanswered=len(times) - len(answers),
        retransmissions=retransmissions,
        answered_by_retransmission=tuple(answered_after(answers)),
        sip_socket_drops=sip_socket_drops,
    )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summarize(offered: int, calls: list[Call], seen_by_asterisk: set[str]) -> Summary:
    complete = {c.uniqueid for c in calls if c.complete}
    answered = [c for c in calls if c.status == CallStatus.ANSWERED.value]
    abandoned = [
        c
        for c in calls
        if c.status in (CallStatus.ABANDONED_QUEUE.value, CallStatus.ABANDONED_IVR.value)
    ]
    waits = sorted(c.wait_s for c in answered if c.wait_s is not None)
    return Summary(
        offered=offered,
        answered=len(answered),
        abandoned=len(abandoned),
        lost=len(seen_by_asterisk - complete),
        p50_wait_s=percentile(waits, 50),
        p95_wait_s=percentile(waits, 95),
        unreached=max(0, offered - len(seen_by_asterisk)),
    )


def split_calls(total: int) -> list[tuple[str, int]]:
    counts = [(keys, int(total * share)) for keys, share in CHOICES]
    short = total - sum(n for _, n in counts)
    counts[0] = (counts[0][0], counts[0][1] + short)
    return [(k, n) for k, n in counts if n > 0]


async def run(args: argparse.Namespace) -> int:
    """Calls at a constant ``--rate`` (``--calls``, ``--agents`` a number, ``--talk-ms``,
    ``--database-url``); 0 when no call was lost and every call reached Asterisk."""
    args.agents = int(args.agents)
    with tempfile.TemporaryDirectory(prefix="hotline-sim-") as tmp:
        async with Stack(
            state_dir=Path(tmp),
            database_url=args.database_url,
            agent_count=max(20, args.agents),
            talk_ms=args.talk_ms,
            # Simulated callers hold: none takes a callback, so none is offered one.
            settings={
                "callback_threshold_s": -1,
                "rtp_start": RTP_RANGE[0],
                "rtp_end": RTP_RANGE[1],
                # The service's own AMI heartbeat, not the stack's 2 s (quick for the tests
                # that cut the link): a load run measures the service as it is deployed.
                "ami_heartbeat_interval_s": AMI_HEARTBEAT_S,
            },
        ) as stack:
            # One SIPp answers for every agent (``SippAgentPool``), as in the peak mode: 60
            # SIPp processes idling at ~1.5 % of a core each took ~0.9 of the 2 cores the
            # citizens' SIPp and Asterisk needed.
            # ``--sipp-per-agent``: one SIPp per agent, as before, to compare.
            if getattr(args, "sipp_per_agent", False):
                agents = await stack.start_agents(args.agents)
                agent_pids = [a.proc.pid for a in agents if a.proc is not None]
            else:
                pool = await stack.start_agent_pool(
                    args.agents, talk_ms=args.talk_ms, exponential=False
                )
                agent_pids = [pool.proc.pid] if pool.proc is not None else []
            assert stack.asterisk is not None
            ast_pid = stack.asterisk.pid
            procs: list[subprocess.Popen[bytes]] = []

            def pids() -> dict[str, list[int]]:
                return {
                    "asterisk": [ast_pid] if ast_pid else [],
                    "sipp citizens": [p.pid for p in procs],
                    "sipp agents": agent_pids,
                    "service (python)": [os.getpid()],
                }

            times: dict[str, CallTimes] = {}
            retrans = 0

            def read_run(proc: subprocess.Popen[bytes]) -> None:
                nonlocal retrans
                times.update(call_times(proc))
                workdir = run_dir(proc)
                stat = workdir / "stat.csv" if workdir is not None else None
                if stat is not None and stat.exists():
                    retrans += stat_counter(stat.read_text(), "Retransmissions")

            drops_before = udp_drops(stack.settings.sip_port)
            started = time.monotonic()
            serial = 0
            for keys, n in split_calls(args.calls):
                numbers = [f"09{serial + i:08d}" for i in range(n)]
                serial += n
                procs.append(
                    run_citizens(
                        citizen_scenario(keys),
                        numbers,
                        server_port=stack.settings.sip_port,
                        local_port=free_udp_tcp_port(),
                        media_port=stack.next_media_port(),
                        rate=args.rate * n / args.calls,
                        max_concurrent=max(50, args.calls),
                    )
                )
            sampler = CpuSampler(pids)
            cpu_task = asyncio.create_task(sampler.run())
            try:
                failed_runs = await await_runs(procs, on_end=read_run)
            finally:
                await stop(cpu_task)
            elapsed = time.monotonic() - started
            drops_after = udp_drops(stack.settings.sip_port)
            drops = (
                drops_after - drops_before
                if drops_after is not None and drops_before is not None
                else None
            )
            # A call still open when the records are read counts as lost: wait as long as a
            # loaded machine needs (the service may read AMI's events a minute late), and say
            # how long that was.
            settle_started = time.monotonic()
            try:
                await stack.wait_idle(within_s=SETTLE_S)
                settled = f"{time.monotonic() - settle_started:.0f} s"
            except TimeoutError as exc:
                log.warning("%s", exc)
                settled = f"not within {SETTLE_S:.0f} s"
            hotline = stack.running
            async with hotline.db.session() as session:
                calls = list((await session.scalars(select(Call))).all())
            seen = asterisk_calls(stack.asterisk.cdr_csv)
            starts = asterisk_starts(stack.asterisk.cdr_csv, by=1)
            arrivals = asterisk_arrivals(stack.asterisk.cdr_csv)
            summary = summarize(args.calls, calls, seen)
            for line in timing(args.rate, times, starts, retrans, drops).lines():
                print(line)
            cpu_s = sampler.seconds()
            per_call = ", ".join(
                f"{k} {1000 * v / max(1, args.calls):.0f}" for k, v in cpu_s.items()
            )
            print(f"{sampler.summary().line()}; CPU ms per call: {per_call}")
            print(
                f"placed {args.calls} calls in {elapsed:.1f} s at {args.rate}/s, "
                f"{args.agents} agents ({len(agent_pids)} SIPp processes); Asterisk saw "
                f"{len(seen)} arriving at "
                f"{arrival_rate(arrivals):.1f}/s, service recorded "
                f"{len(calls)} (complete {settled} after the last SIPp run ended); SIPp runs "
                f"with failures: {failed_runs}"
            )
    print(summary.line(), flush=True)
    return 0 if summary.lost == 0 and summary.unreached == 0 else 1
