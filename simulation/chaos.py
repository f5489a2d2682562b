"""``hotline1022 simulate --chaos SPEC``: constant-rate calls while faults hit the real stack.

The stack is the one of ``simulation.simulate`` with three changes, so every fault is the
real thing: the service runs as a child process (``hotline1022 serve``, so SIGKILL kills
it), its AMI connection goes through ``simulation.proxy`` (which cuts it or leaves it
half-open), and with a ``stop-db`` fault the database is a private PostgreSQL server
(``simulation.postgres``) that is really stopped. Agents are logged in first by the service
in-process, which then stops; the child restores them from the database, as at any restart.

After each fault the run measures how long the service took to rebuild its state: from the
fault's end (the restart, the reconnect, the database back, the flood gone) until
``GET /health`` says it is ready again (``service_proc.health_ready``). The summary line::

    offered=N answered=… abandoned=… p50_wait_s=… p95_wait_s=… rebuild_s=kill-service:3.1,… lost=0

``lost`` is counted as without faults: calls Asterisk's CDR shows for 1022 that have no
complete record in the service's database, once the run has settled.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from pbx.cdr import CdrCall, read_recent_calls
from simulation.chaos_spec import Fault, FaultKind
from simulation.citizens import citizen_scenario, run_citizens
from simulation.postgres import PrivatePostgres
from simulation.proxy import TcpProxy
from simulation.service_proc import ServiceProcess
from simulation.simulate import Summary, asterisk_calls, split_calls, summarize
from simulation.sipp import await_runs
from simulation.stack import Stack, free_udp_tcp_port
from store.db import Database
from store.models import Call

__all__ = [
    "FaultResult",
    "chaos_line",
    "fault_during",
    "misdated",
    "off_path",
    "routes_line",
    "run_chaos",
]

log = logging.getLogger(__name__)
# One request a tenth of a second while waiting for the service: not worth a log line each.
logging.getLogger("httpx").setLevel(logging.WARNING)

# How long the service may take to be ready again after a fault before the run says so.
READY_WITHIN_S = 180.0
# After the last call: how long the records may take to become complete.
SETTLE_S = 180.0
# A record whose arrival is this much later than the call's start in Asterisk's CDR (which
# has whole seconds) has the wrong arrival: the service first saw the call later.
MISDATED_AFTER_S = 5.0


@dataclass(frozen=True)
class FaultResult:
    fault: Fault
    started_at: datetime
    rebuild_s: float | None  # None: not ready again within READY_WITHIN_S
    note: str = ""


def chaos_line(summary: Summary, results: list[FaultResult]) -> str:
    """The summary line of a chaos run: the figures, each fault's rebuild time, then lost."""
    rebuilt = ",".join(
        f"{r.fault.label}:{'timeout' if r.rebuild_s is None else f'{r.rebuild_s:.1f}'}"
        for r in results
    )
    return (
        f"offered={summary.offered} answered={summary.answered} "
        f"abandoned={summary.abandoned} p50_wait_s={summary.p50_wait_s:.2f} "
        f"p95_wait_s={summary.p95_wait_s:.2f} rebuild_s={rebuilt or '-'} lost={summary.lost}"
    )


def misdated(calls: list[Call], cdr: list[CdrCall]) -> dict[str, float]:
    """Uniqueid -> seconds late, for the records that say a call arrived more than
    ``MISDATED_AFTER_S`` after Asterisk started it: complete, so not lost, but their arrival,
    time in the menu and wait are wrong."""
    started = {c.uniqueid: c.start for c in cdr}
    late: dict[str, float] = {}
    for call in calls:
        start = started.get(call.uniqueid)
        if start is None or call.arrived_at is None:
            continue
        arrived = call.arrived_at
        if arrived.tzinfo is None:  # SQLite gives naive UTC
            arrived = arrived.replace(tzinfo=UTC)
        delay = (arrived - start).total_seconds()
        if delay > MISDATED_AFTER_S:
            late[call.uniqueid] = delay
    return late


def fault_during(call: CdrCall, results: list[FaultResult]) -> str:
    """``, during kill-service`` (the last fault that began before the call ended, and no
    earlier than two minutes before it began), to say which fault a lost call met."""
    end = call.end or call.start
    met = [
        r
        for r in results
        if r.started_at <= end and (call.start - r.started_at).total_seconds() <= 120
    ]
    return f", during {met[-1].fault.label}" if met else ", during no fault"


def off_path(calls: list[Call], keys_of: dict[str, str]) -> list[Call]:
    """Callers who reached a queue other than the one most callers of their key path
    reached: their menu was lost to a fault (the dialplan's fallback is the operator)."""
    usual: dict[str, dict[str, int]] = {}
    for call in calls:
        keys = keys_of.get(call.caller_number or "")
        if keys is not None and call.queue:
            seen = usual.setdefault(keys, {})
            seen[call.queue] = seen.get(call.queue, 0) + 1
    main = {keys: max(seen, key=lambda q: seen[q]) for keys, seen in usual.items()}
    return [
        c
        for c in calls
        if c.queue
        and (keys := keys_of.get(c.caller_number or "")) is not None
        and c.queue != main[keys]
    ]


def routes_line(calls: list[Call], keys_of: dict[str, str]) -> str:
    """Where the callers of each key path ended up, e.g. ``1>medical:89,operator:1``: a
    caller whose menu was lost to a fault (FastAGI flooded or killed) reaches the operator
    queue by the dialplan's fallback, so shows under a path that leads elsewhere."""
    by_keys: dict[str, dict[str, int]] = {}
    for call in calls:
        keys = keys_of.get(call.caller_number or "")
        if keys is None:
            continue
        where = call.queue or f"({call.status})"
        seen = by_keys.setdefault(keys or "-", {})
        seen[where] = seen.get(where, 0) + 1
    return " ".join(
        f"{keys}>" + ",".join(f"{q}:{n}" for q, n in sorted(seen.items(), key=lambda i: -i[1]))
        for keys, seen in sorted(by_keys.items())
    )


class ChaosRun:
    def __init__(
        self,
        stack: Stack,
        service: ServiceProcess,
        proxy: TcpProxy,
        postgres: PrivatePostgres | None,
    ) -> None:
        self.stack = stack
        self.service = service
        self.proxy = proxy
        self.postgres = postgres
        self.results: list[FaultResult] = []
        self._lock = asyncio.Lock()

    async def _logins(self) -> tuple[int, int] | None:
        """(AMI reconnects, rebuilds) the service reports; a rebuild count of -1 when it
        does not report its rebuild; None when it does not answer."""
        code, body = await self.service.health()
        ami = body.get("ami") or {} if code else {}
        reconnects = ami.get("reconnects")
        if not isinstance(reconnects, int):
            return None
        rebuild = ami.get("rebuild")
        count = rebuild.get("count") if isinstance(rebuild, dict) else None
        return reconnects, count if isinstance(count, int) else -1

    async def _ready_after_relogin(self, before: tuple[int, int] | None) -> float:
        """Until the service logged in again (its reconnect count grew), rebuilt its state
        after that login (when it reports its rebuilds: their count grew too) and is ready."""
        started = time.monotonic()
        deadline = started + READY_WITHIN_S
        while time.monotonic() < deadline:
            now = await self._logins()
            if before is None:
                break
            if now is not None and now[0] > before[0] and (before[1] == -1 or now[1] > before[1]):
                break
            await asyncio.sleep(0.1)
        else:
            raise TimeoutError("the service never logged in to AMI again")
        await self.service.wait_ready(deadline - time.monotonic())
        return time.monotonic() - started

    async def _own_rebuild(self) -> str:
        """What the service says its last rebuild took, if it says."""
        _, body = await self.service.health()
        rebuild = (body.get("ami") or {}).get("rebuild")
        if isinstance(rebuild, dict) and isinstance(rebuild.get("duration_s"), int | float):
            return f"(the service's own rebuild: {rebuild['duration_s']:.2f} s)"
        return ""

    async def inject(self, fault: Fault, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        async with self._lock:  # one fault at a time, so each rebuild is its own
            started_at = datetime.now(UTC)
            note = ""
            try:
                rebuild, note = await self._inject(fault)
                relogin = (FaultKind.KILL_SERVICE, FaultKind.RESTART_ASTERISK, FaultKind.CUT_AMI)
                if fault.kind in relogin:
                    note = f"{note} {await self._own_rebuild()}".strip()
            except (TimeoutError, RuntimeError) as exc:
                log.error("%s: %s", fault.label, exc)
                rebuild, note = None, str(exc)
            log.warning("fault %s done: rebuild %s s %s", fault.label, rebuild, note)
            self.results.append(FaultResult(fault, started_at, rebuild, note))

    async def _inject(self, fault: Fault) -> tuple[float, str]:
        svc = self.service
        if fault.kind is FaultKind.KILL_SERVICE:
            svc.kill()
            svc.start()
            return await svc.wait_ready(READY_WITHIN_S), ""
        if fault.kind is FaultKind.RESTART_ASTERISK:
            asterisk = self.stack.asterisk
            assert asterisk is not None
            before = await self._logins()
            await asyncio.to_thread(asterisk.stop)
            await asyncio.to_thread(asterisk.start)
            return await self._ready_after_relogin(before), ""
        if fault.kind is FaultKind.CUT_AMI:
            before = await self._logins()
            if fault.half_open:
                n = self.proxy.half_open()
                try:
                    return await self._ready_after_relogin(before), f"{n} connection(s) frozen"
                finally:
                    self.proxy.release_held()
            n = self.proxy.cut()
            return await self._ready_after_relogin(before), f"{n} connection(s) cut"
        if fault.kind is FaultKind.STOP_DB:
            assert self.postgres is not None
            await asyncio.to_thread(self.postgres.stop)
            try:
                await asyncio.sleep(fault.duration_s)
            finally:
                await asyncio.to_thread(self.postgres.start)
            return await self._written_after_db(), ""
        if fault.kind is FaultKind.AGI_FLOOD:
            opened = await self._flood(fault)
            return await svc.wait_ready(READY_WITHIN_S), f"{opened} connections held"
        raise AssertionError(fault.kind)

    async def _written_after_db(self) -> float:
        """Until the service is ready and has written every record it kept meanwhile."""
        started = time.monotonic()
        while time.monotonic() - started < READY_WITHIN_S:
            code, body = await self.service.health()
            pending = (body.get("ami") or {}).get("records_pending")
            if code == 200 and (body.get("database") or {}).get("ok") and pending == 0:
                await self.service.wait_ready(READY_WITHIN_S)
                return time.monotonic() - started
            await asyncio.sleep(0.1)
        raise TimeoutError("records not written after the database came back")

    async def _flood(self, fault: Fault) -> int:
        """Open bare connections to the FastAGI port, say nothing, hold them."""
        port = self.stack.settings.agi_port
        writers: list[asyncio.StreamWriter] = []
        try:
            for _ in range(fault.connections):
                try:
                    _, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", port), 2
                    )
                except (OSError, TimeoutError):
                    break
                writers.append(writer)
            await asyncio.sleep(fault.duration_s)
        finally:
            for writer in writers:
                writer.transport.abort()
        return len(writers)


async def _records(url: str) -> list[Call]:
    db = Database(url)
    try:
        async with db.session() as session:
            return list((await session.scalars(select(Call))).all())
    finally:
        await db.dispose()


async def _settle(url: str, cdr: Path, within_s: float) -> tuple[list[Call], set[str]]:
    """The records and Asterisk's calls, once every call Asterisk saw is complete (or after
    ``within_s``)."""
    deadline = time.monotonic() + within_s
    while True:
        seen = asterisk_calls(cdr)
        try:
            calls = await _records(url)
        except Exception as exc:  # the database may still be coming back
            log.warning("reading the records: %s", exc)
            calls = []
        complete = {c.uniqueid for c in calls if c.complete}
        if (calls and not seen - complete) or time.monotonic() > deadline:
            return calls, seen
        await asyncio.sleep(2)


async def run_chaos(args: argparse.Namespace, faults: list[Fault]) -> int:
    """Calls at ``--rate`` while ``faults`` happen; 0 when no call was lost."""
    args.agents = int(args.agents)
    needs_db = any(f.kind is FaultKind.STOP_DB for f in faults)
    if needs_db and args.database_url:
        print("error: stop-db stops a private PostgreSQL server of its own; drop --database-url")
        return 2
    postgres = PrivatePostgres() if needs_db else None
    with tempfile.TemporaryDirectory(prefix="hotline-chaos-") as tmp:
        try:
            if postgres is not None:
                await asyncio.to_thread(postgres.init)
            url = postgres.url if postgres is not None else args.database_url
            async with Stack(
                state_dir=Path(tmp),
                database_url=url,
                agent_count=max(20, args.agents),
                talk_ms=args.talk_ms,
                settings={"callback_threshold_s": -1},
            ) as stack:
                await stack.start_agents(args.agents)
                await stack.stop_service()
                proxy = TcpProxy("127.0.0.1", stack.settings.ami_port)
                await proxy.start()
                service = ServiceProcess(stack.settings, ami_port=proxy.port, log_dir=Path(tmp))
                try:
                    service.start()
                    first = await service.wait_ready(READY_WITHIN_S)
                    print(f"service up as a child process, ready in {first:.1f} s")
                    code = await _calls_under_faults(args, faults, stack, service, proxy, postgres)
                finally:
                    await service.stop()
                    await proxy.close()
                    _keep_logs(Path(tmp), args)
        finally:
            if postgres is not None:
                await asyncio.to_thread(postgres.remove)
    return code


def _keep_logs(tmp: Path, args: argparse.Namespace) -> None:
    keep = getattr(args, "chaos_logs", None)
    if keep:
        dest = Path(keep)
        dest.mkdir(parents=True, exist_ok=True)
        for f in tmp.glob("service-*.log"):
            (dest / f.name).write_bytes(f.read_bytes())


async def _calls_under_faults(
    args: argparse.Namespace,
    faults: list[Fault],
    stack: Stack,
    service: ServiceProcess,
    proxy: TcpProxy,
    postgres: PrivatePostgres | None,
) -> int:
    run = ChaosRun(stack, service, proxy, postgres)
    started = time.monotonic()
    procs = []
    serial = 0
    keys_of: dict[str, str] = {}
    for keys, n in split_calls(args.calls):
        numbers = [f"09{serial + i:08d}" for i in range(n)]
        keys_of.update(dict.fromkeys(numbers, keys))
        serial += n
        procs.append(
            run_citizens(
                citizen_scenario(keys, wait_for_bye_ms=120_000),
                numbers,
                server_port=stack.settings.sip_port,
                local_port=free_udp_tcp_port(),
                media_port=stack.next_media_port(),
                rate=args.rate * n / args.calls,
                max_concurrent=max(50, args.calls),
            )
        )
    tasks = [asyncio.create_task(run.inject(f, started + f.at_s)) for f in faults]
    failed_runs = await await_runs(procs)
    elapsed = time.monotonic() - started
    await asyncio.gather(*tasks)
    assert stack.asterisk is not None
    calls, seen = await _settle(
        stack.settings.effective_database_url, stack.asterisk.cdr_csv, SETTLE_S
    )
    summary = summarize(args.calls, calls, seen)
    print(
        f"placed {args.calls} calls in {elapsed:.1f} s at {args.rate}/s, {args.agents} agents; "
        f"Asterisk saw {len(seen)}, service recorded {len(calls)} "
        f"({sum(c.complete for c in calls)} complete); SIPp runs with failures: {failed_runs}; "
        f"service started {service.starts} time(s)"
    )
    for r in sorted(run.results, key=lambda r: r.started_at):
        took = "not ready" if r.rebuild_s is None else f"rebuilt in {r.rebuild_s:.1f} s"
        print(f"fault {r.fault.label} at {r.started_at:%H:%M:%S} UTC: {took} {r.note}".rstrip())
    cdr = read_recent_calls(stack.asterisk.cdr_csv, since=datetime(2000, 1, 1, tzinfo=UTC))
    late = misdated(calls, cdr)
    print(
        f"records dated more than {MISDATED_AFTER_S:.0f} s after Asterisk's start: {len(late)}"
        + "".join(f"\n  misdated {uid}: {s:.0f} s late" for uid, s in sorted(late.items()))
    )
    print(f"routes by keys pressed: {routes_line(calls, keys_of)}")
    cdr_by_id = {c.uniqueid: c for c in cdr}
    for stray in off_path(calls, keys_of):
        row = cdr_by_id.get(stray.uniqueid)
        fault = "" if row is None else fault_during(row, run.results)
        keys = keys_of[stray.caller_number]
        print(f"  off-path {stray.caller_number} (keys {keys!r}) -> {stray.queue}{fault}")
    if summary.lost:
        complete = {c.uniqueid for c in calls if c.complete}
        by_id = {c.uniqueid: c for c in calls}
        for uid in sorted(seen - complete):
            c = by_id.get(uid)
            what = "no record" if c is None else f"record status={c.status} incomplete"
            row = cdr_by_id.get(uid)
            ended = "?" if row is None or row.end is None else f"{row.end:%H:%M:%S}"
            when = "" if row is None else f", in Asterisk {row.start:%H:%M:%S}-{ended} UTC"
            fault = "" if row is None else fault_during(row, run.results)
            print(f"lost {uid}: {what}{when}{fault}")
    print(chaos_line(summary, sorted(run.results, key=lambda r: r.started_at)), flush=True)
    return 0 if summary.lost == 0 and all(r.rebuild_s is not None for r in run.results) else 1
