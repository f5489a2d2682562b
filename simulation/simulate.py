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
import csv
import logging
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from hotline1022.settings import Settings
from simulation.citizens import citizen_scenario, run_citizens
from simulation.sipp import await_runs
from simulation.stack import Stack, free_udp_tcp_port
from store.models import Call, CallStatus

__all__ = ["Summary", "arrival_rate", "asterisk_arrivals", "asterisk_calls", "run", "summarize"]

log = logging.getLogger(__name__)

# The run's RTP ports: a region of its own, not the stack's usual 1,000 ports (500 sessions)
# among 22000-23999 that every test Asterisk on the machine shares. At 20 calls/s several
# hundred calls are up at once, each with two RTP sessions (the citizen's, the agent's); with
# too few ports Asterisk refuses new calls ("couldn't allocate a port for RTP instance") and
# cannot ring the agents. No other part of the project uses 10000-19999; Asterisk skips a
# port that something else holds.
RTP_RANGE = (10000, 19999)
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


def asterisk_arrivals(
    cdr_csv: Path, context: str = "citizens", exten: str = "1022"
) -> list[datetime]:
    """When each citizen call to 1022 reached Asterisk (the CDR's start), in order.

    The rate the run asked SIPp for is not the rate it offered on a loaded machine: this is
    what Asterisk saw."""
    if not cdr_csv.exists():
        return []
    starts: dict[str, datetime] = {}
    with cdr_csv.open(newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.reader(f):
            if len(row) >= 17 and row[2] == exten and row[3] == context and row[9]:
                try:
                    start = datetime.strptime(row[9], "%Y-%m-%d %H:%M:%S")
                except ValueError:
                    continue
                # A call may have several CDRs (one per queue attempt): its first start.
                if row[16] not in starts or start < starts[row[16]]:
                    starts[row[16]] = start
    return sorted(starts.values())


def arrival_rate(arrivals: list[datetime]) -> float:
    """Calls per second from the first arrival to the last (0 for fewer than two calls).

    CDR starts are whole seconds, so ``n`` calls in a span of ``s`` seconds are counted over
    ``s + 1`` seconds: the rate is not overstated by the rounding."""
    if len(arrivals) < 2:
        return 0.0
    span = (arrivals[-1] - arrivals[0]).total_seconds() + 1.0
    return len(arrivals) / span


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
            await stack.start_agents(args.agents)
            started = time.monotonic()
            procs = []
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
            failed_runs = await await_runs(procs)
            elapsed = time.monotonic() - started
            try:
                await stack.wait_idle(within_s=60)
            except TimeoutError as exc:
                log.warning("%s", exc)
            hotline = stack.running
            async with hotline.db.session() as session:
                calls = list((await session.scalars(select(Call))).all())
            assert stack.asterisk is not None
            seen = asterisk_calls(stack.asterisk.cdr_csv)
            arrivals = asterisk_arrivals(stack.asterisk.cdr_csv)
            summary = summarize(args.calls, calls, seen)
            print(
                f"placed {args.calls} calls in {elapsed:.1f} s at {args.rate}/s, "
                f"{args.agents} agents; Asterisk saw {len(seen)} arriving at "
                f"{arrival_rate(arrivals):.1f}/s, service recorded "
                f"{len(calls)}; SIPp runs with failures: {failed_runs}"
            )
    print(summary.line(), flush=True)
    return 0 if summary.lost == 0 and summary.unreached == 0 else 1
