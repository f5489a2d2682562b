"""Rollups of the closed incidents per Vietnam day, so that a year's figures read ~5,000
rows instead of 1.6 million incidents (``dispatch.figures``).

What is stored. For each dyadic block of days — ``2**level`` Vietnam days from ``start``
(a ``date.toordinal()``, a multiple of ``2**level``), level 0 to ``MAX_LEVEL`` — and each
group, a row of ``store.models.incident_rollups``: the incidents' counts and the histograms
of ``ack_s`` and ``resolve_s``. The groups: ``place`` (the incident's place), ``taker``
(``acknowledged_by_team_id``), ``first`` (``first_team_id``). Any range of whole days is at
most ``2 * (MAX_LEVEL + 1)`` blocks, so a year is ~18 blocks × ~100 groups, whatever the
number of incidents.

Which incidents. A day's rows (level 0) hold the incidents created that day that were closed
(resolved or cancelled; a closed incident never changes again, ``dispatch.lifecycle``)
before the day's ``as_of`` (``incident_rollup_days``). Everything else in a range is read
live (``live_rows``): the partial days at its edges, today, the days not rolled yet, and on
rolled days the incidents still open or closed since ``as_of`` (``ix_incidents_status_created``
and ``ix_incidents_closed_at``: a few hundred rows). So the figures never depend on when the
rollups were last refreshed, only their cost does. ``refresh_days`` rebuilds days (delete,
insert: idempotent) and the blocks above them; ``DispatchRollupRefresher`` keeps them current
in the service; ``rebuild`` does a range of days at once.

Medians. Counts are exact. A median comes from the merged histogram: bin 0 is [0, 0.1 s),
bin i ≥ 1 is [0.1·r^(i-1), 0.1·r^i) with r = 1.02, up to 100 days (longer values count in
the last bin), and a bin stands for its geometric middle. So a median (or the mean of the
two middle values) is within **1 % or 0.05 s** (whichever is larger) of the exact one,
for medians up to 100 days: ``MEDIAN_REL_ERROR``, ``MEDIAN_ABS_ERROR_S``. The histograms are
stored as zlib of little-endian uint32 counts and added as Python integers (each count a
32-bit field: the fields never carry, a group has far fewer than 2**32 incidents).
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import accumulate
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.filters import (
    ALL_STATUSES,
    CLOSED_STATUSES,
    OPEN_STATUSES,
    IncidentFilter,
    conditions,
)
from dispatch.places import under
from store.db import Database
from store.models import Incident, IncidentStatus, Place, incident_rollup_days, incident_rollups
from store.types import utcnow

__all__ = [
    "MAX_LEVEL",
    "MEDIAN_ABS_ERROR_S",
    "MEDIAN_REL_ERROR",
    "NBINS",
    "Acc",
    "DispatchRollupRefresher",
    "Rolled",
    "bin_of",
    "bin_value",
    "blocks",
    "day_of",
    "day_start",
    "median_of",
    "rebuild",
    "refresh_days",
    "rolled",
]

log = logging.getLogger(__name__)

VIETNAM = timezone(timedelta(hours=7), "ICT")
S = IncidentStatus

MAX_LEVEL = 8  # blocks of up to 256 days
FIRST_EDGE_S = 0.1
RATIO = 1.02
LAST_EDGE_S = 100 * 86400.0
NBINS = 2 + math.ceil(math.log(LAST_EDGE_S / FIRST_EDGE_S) / math.log(RATIO))
_LOG_RATIO = math.log(RATIO)
_HALF = math.sqrt(RATIO)
MEDIAN_REL_ERROR = _HALF - 1  # 0.995 %
MEDIAN_ABS_ERROR_S = FIRST_EDGE_S / 2
_FIELDS = 2 * NBINS  # ack_s's bins, then resolve_s's
_NBYTES = 4 * _FIELDS
KINDS = ("place", "taker", "first")
# A day is rolled as of this long before the refresh: an incident closed just before it
# whose transaction commits after the refresh has read the day is then read live, not lost.
SETTLE = timedelta(minutes=2)


# -- days and blocks ---------------------------------------------------------------------------


def day_of(t: datetime) -> int:
    """The Vietnam day holding ``t``, as ``date.toordinal()``."""
    return t.astimezone(VIETNAM).date().toordinal()


def day_start(day: int) -> datetime:
    return datetime.combine(date.fromordinal(day), time(0), VIETNAM).astimezone(UTC)


def blocks(a: int, b: int) -> list[tuple[int, int]]:
    """Days [a, b) as the fewest dyadic blocks (level, start), in order."""
    out: list[tuple[int, int]] = []
    while a < b:
        level = 0
        while level < MAX_LEVEL and a % (2 << level) == 0 and a + (2 << level) <= b:
            level += 1
        out.append((level, a))
        a += 1 << level
    return out


# -- histograms --------------------------------------------------------------------------------


def bin_of(seconds: float) -> int:
    if seconds < FIRST_EDGE_S:
        return 0
    return min(NBINS - 1, 1 + int(math.log(seconds / FIRST_EDGE_S) / _LOG_RATIO))


def bin_value(i: int) -> float:
    """What bin ``i`` stands for: its geometric middle (bin 0: 0.05 s)."""
    if i == 0:
        return FIRST_EDGE_S / 2
    return FIRST_EDGE_S * RATIO ** (i - 1) * _HALF


def _to_int(counts: array[int]) -> int:
    if sys.byteorder == "big":  # pragma: no cover - the fields are little-endian
        counts = array("I", counts)
        counts.byteswap()
    return int.from_bytes(counts.tobytes(), "little")


def _to_counts(big: int) -> array[int]:
    counts = array("I")
    counts.frombytes(big.to_bytes(_NBYTES, "little"))
    if sys.byteorder == "big":  # pragma: no cover
        counts.byteswap()
    return counts


def median_of(counts: Sequence[int]) -> float | None:
    """The median of a histogram's values (the mean of the middle two when even)."""
    cumulative = list(accumulate(counts))
    n = cumulative[-1] if cumulative else 0
    if n == 0:
        return None
    low = bisect_left(cumulative, (n + 1) // 2)
    high = bisect_left(cumulative, (n + 2) // 2)
    return (bin_value(low) + bin_value(high)) / 2


@dataclass
class Acc:
    """One group's counts and histograms, from rollup rows and incidents."""

    n: int = 0
    acknowledged: int = 0
    resolved: int = 0
    cancelled: int = 0
    escalated: int = 0
    big: int = 0  # the histograms, as 32-bit fields of one integer
    live: array[int] | None = None

    def add_incident(
        self,
        status: str,
        acknowledged: bool,
        escalation: int,
        ack_s: float | None,
        resolve_s: float | None,
        *,
        values: bool = True,
    ) -> None:
        self.n += 1
        self.acknowledged += 1 if acknowledged else 0
        self.resolved += 1 if status == S.RESOLVED else 0
        self.cancelled += 1 if status == S.CANCELLED else 0
        self.escalated += 1 if escalation > 0 else 0
        if values and (ack_s is not None or resolve_s is not None):
            if self.live is None:
                self.live = array("I", [0]) * _FIELDS
            if ack_s is not None:
                self.live[bin_of(ack_s)] += 1
            if resolve_s is not None:
                self.live[NBINS + bin_of(resolve_s)] += 1

    def add_row(self, row: Any) -> None:
        self.n += row.n
        self.acknowledged += row.acknowledged
        self.resolved += row.resolved
        self.cancelled += row.cancelled
        self.escalated += row.escalated
        if row.hists is not None:
            self.big += int.from_bytes(zlib.decompress(row.hists), "little")

    def add(self, other: Acc) -> None:
        self.n += other.n
        self.acknowledged += other.acknowledged
        self.resolved += other.resolved
        self.cancelled += other.cancelled
        self.escalated += other.escalated
        self.big += other.hist()

    def hist(self) -> int:
        if self.live is not None:
            self.big += _to_int(self.live)
            self.live = None
        return self.big

    def medians(self) -> tuple[float | None, float | None]:
        """The medians of ack_s and resolve_s (within ``MEDIAN_REL_ERROR``/``_ABS_``)."""
        big = self.hist()
        if not big:
            return None, None
        counts = _to_counts(big)
        return median_of(counts[:NBINS]), median_of(counts[NBINS:])

    def values(self, kind: str) -> dict[str, Any]:
        big = self.hist()
        blob = zlib.compress(_to_int_bytes(big), 1) if big and kind != "first" else None
        return {
            "n": self.n,
            "acknowledged": self.acknowledged,
            "resolved": self.resolved,
            "cancelled": self.cancelled,
            "escalated": self.escalated,
            "hists": blob,
        }


def _to_int_bytes(big: int) -> bytes:
    return big.to_bytes(_NBYTES, "little")


Accs = dict[tuple[str, int], Acc]


def add_incident(accs: Accs, row: Any) -> None:
    """Count an incident (a ``_COLUMNS`` row) in its place, taker and first team's groups."""
    args = (row.status, row.acknowledged, row.escalation, row.ack_s, row.resolve_s)
    accs.setdefault(("place", row.place_id), Acc()).add_incident(*args)
    if row.taker is not None:
        accs.setdefault(("taker", row.taker), Acc()).add_incident(*args)
    if row.first is not None:
        accs.setdefault(("first", row.first), Acc()).add_incident(*args, values=False)


def _columns() -> list[Any]:
    return [
        Incident.place_id,
        Incident.acknowledged_by_team_id.label("taker"),
        Incident.first_team_id.label("first"),
        Incident.status,
        Incident.acknowledged_at.is_not(None).label("acknowledged"),
        Incident.escalation,
        Incident.ack_s,
        Incident.resolve_s,
        Incident.created_at,
        Incident.closed_at,
    ]


def _in_rollup(as_of: datetime) -> ColumnElement[bool]:
    """Of a rolled day's incidents, those its rows hold."""
    return and_(
        Incident.status.in_(CLOSED_STATUSES),
        or_(Incident.closed_at.is_(None), Incident.closed_at < as_of),
    )


# -- building ----------------------------------------------------------------------------------


async def _build_day(session: AsyncSession, day: int, as_of: datetime) -> None:
    t = incident_rollups.c
    await session.execute(delete(incident_rollups).where(t.level == 0, t.start == day))
    await session.execute(delete(incident_rollup_days).where(incident_rollup_days.c.day == day))
    rows = await session.execute(
        select(*_columns()).where(
            Incident.status.in_(CLOSED_STATUSES),
            Incident.created_at >= day_start(day),
            Incident.created_at < day_start(day + 1),
            _in_rollup(as_of),
        )
    )
    accs: Accs = {}
    for row in rows:
        add_incident(accs, row)
    if accs:
        await session.execute(
            insert(incident_rollups),
            [
                {"level": 0, "start": day, "kind": k, "group_id": g, **acc.values(k)}
                for (k, g), acc in accs.items()
            ],
        )
    await session.execute(insert(incident_rollup_days).values(day=day, as_of=as_of))


async def _build_block(session: AsyncSession, level: int, start: int, days: set[int]) -> None:
    """The block from its two halves, when every one of its days is rolled."""
    t = incident_rollups.c
    await session.execute(delete(incident_rollups).where(t.level == level, t.start == start))
    if any(d not in days for d in range(start, start + (1 << level))):
        return
    half = 1 << (level - 1)
    rows = await session.execute(
        select(incident_rollups).where(t.level == level - 1, t.start.in_((start, start + half)))
    )
    accs: Accs = {}
    for row in rows:
        accs.setdefault((row.kind, row.group_id), Acc()).add_row(row)
    if accs:
        await session.execute(
            insert(incident_rollups),
            [
                {"level": level, "start": start, "kind": k, "group_id": g, **acc.values(k)}
                for (k, g), acc in accs.items()
            ],
        )


async def refresh_days(
    session: AsyncSession, days: Iterable[int], *, now: datetime | None = None
) -> list[int]:
    """Rebuild these days (only those before today in Vietnam) and every block above them,
    as of ``now - SETTLE``; returns the days rebuilt. The caller commits."""
    now = now or utcnow()
    today = day_of(now)
    as_of = now - SETTLE
    todo = sorted({d for d in days if d < today})
    if not todo:
        return []
    for day in todo:
        await _build_day(session, day, as_of)
    span_start = todo[0] - todo[0] % (1 << MAX_LEVEL)
    span_end = todo[-1] - todo[-1] % (1 << MAX_LEVEL) + (1 << MAX_LEVEL)
    c = incident_rollup_days.c
    rolled_days = set(
        await session.scalars(select(c.day).where(c.day >= span_start, c.day < span_end))
    )
    for level in range(1, MAX_LEVEL + 1):
        for start in sorted({d - d % (1 << level) for d in todo}):
            await _build_block(session, level, start, rolled_days)
    return todo


async def rebuild(db: Database, since: int, until: int, *, chunk: int = 32) -> int:
    """Days [since, until) rebuilt, ``chunk`` days per transaction; returns how many."""
    done = 0
    for a in range(since, until, chunk):
        async with db.session() as session:
            done += len(await refresh_days(session, range(a, min(until, a + chunk))))
            await session.commit()
    return done


# -- reading -----------------------------------------------------------------------------------


@dataclass
class Rolled:
    """A range's figures per group: rollup rows of its whole rolled days, plus the rest live."""

    accs: Accs = field(default_factory=dict)
    days: tuple[int, int] = (0, 0)  # the rolled days [a, b) read from the rollups
    live: int = 0  # incidents read live


async def rolled(session: AsyncSession, f: IncidentFilter, kinds: Sequence[str]) -> Rolled | None:
    """The range's groups of ``kinds`` from the rollups and the live rows; None when the
    rollups cannot serve it (no whole rolled day in the range, a gap in the rolled days, a
    category or urgency filter: the rows are per place and team only)."""
    if f.since is None or f.until is None or f.category is not None or f.urgency is not None:
        return None
    if f.under is not None and any(k != "place" for k in kinds):
        return None  # the teams' rows are not per place
    first = day_of(f.since)
    a = first if day_start(first) == f.since else first + 1
    b = day_of(f.until)
    if b - a < 1:
        return None
    c = incident_rollup_days.c
    as_of: dict[int, datetime] = {
        day: at
        for day, at in await session.execute(select(c.day, c.as_of).where(c.day >= a, c.day < b))
    }
    while b > a and b - 1 not in as_of:
        b -= 1
    if b - a < 1 or len(as_of) < b - a:
        return None
    t = incident_rollups.c
    result = Rolled(days=(a, b))
    rows = await session.execute(
        select(incident_rollups).where(
            or_(*(and_(t.level == lv, t.start == st) for lv, st in blocks(a, b))),
            t.kind.in_(kinds),
        )
    )
    accs = result.accs
    inside: set[int] | None = None
    if f.under is not None:
        # The rows are per place: keep the places under the filter.
        inside = set(await session.scalars(select(Place.id).where(under(Place.path, f.under))))
    for row in rows:
        if inside is None or row.group_id in inside:
            accs.setdefault((row.kind, row.group_id), Acc()).add_row(row)
    for row in await live_rows(session, f, a, b, as_of):
        result.live += 1
        add_incident(accs, row)
    result.accs = {key: acc for key, acc in accs.items() if key[0] in kinds}
    return result


async def live_rows(
    session: AsyncSession, f: IncidentFilter, a: int, b: int, as_of: dict[int, datetime]
) -> list[Any]:
    """The range's incidents the rolled days [a, b) do not hold: the edges, the open ones,
    those closed since their day's ``as_of``."""
    cs, ce = day_start(a), day_start(b)
    assert f.since is not None and f.until is not None

    def part(since: datetime, until: datetime) -> IncidentFilter:
        return IncidentFilter(under=f.under, since=since, until=until)

    selects = []
    if f.since < cs:
        conds = await conditions(session, part(f.since, cs), ALL_STATUSES)
        selects.append(select(*_columns()).where(*conds))
    if ce < f.until:
        conds = await conditions(session, part(ce, f.until), ALL_STATUSES)
        selects.append(select(*_columns()).where(*conds))
    inner = part(cs, ce)
    selects.append(select(*_columns()).where(*await conditions(session, inner, OPEN_STATUSES)))
    oldest = min(as_of.values())
    closed = await conditions(session, inner, CLOSED_STATUSES)
    selects.append(select(*_columns()).where(*closed, Incident.closed_at >= oldest))
    rows = list(await session.execute(union_all(*selects)))
    out = []
    for row in rows:
        if row.status in CLOSED_STATUSES and cs <= row.created_at < ce:
            at = as_of[day_of(row.created_at)]
            if row.closed_at is None or row.closed_at < at:
                continue  # in the rollups
        out.append(row)
    return out


# -- keeping them current ----------------------------------------------------------------------


class DispatchRollupRefresher:
    """Rolls up each day once it is over, and again the days whose incidents closed since
    (``ix_incidents_closed_at``), every ``interval_s``; the days of the last ``horizon``
    not rolled yet (a new database, the service down over midnight) ``backlog`` per round.
    The figures are right without it (``rolled`` reads the rest live); it keeps that rest
    small."""

    def __init__(
        self,
        db: Database,
        *,
        interval_s: float = 60.0,
        horizon_days: int = 400,
        backlog: int = 16,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.interval_s = interval_s
        self.horizon_days = horizon_days
        self.backlog = backlog
        self.clock = clock
        self._since: datetime | None = None  # incidents closed since then are looked at
        self.rounds = 0
        self.failures = 0

    async def refresh_due(self) -> list[int]:
        now = self.clock()
        today = day_of(now)
        c = incident_rollup_days.c
        async with self.db.session() as session:
            as_of = {
                d: at
                for d, at in await session.execute(
                    select(c.day, c.as_of).where(c.day >= today - self.horizon_days)
                )
            }
            since = self._since
            if since is None:
                since = min(as_of.values(), default=now)
            due: set[int] = set()
            closed = await session.execute(
                select(Incident.created_at, Incident.closed_at).where(Incident.closed_at >= since)
            )
            for created, closed_at in closed:
                day = day_of(created)
                if day in as_of and closed_at >= as_of[day]:
                    due.add(day)
            missing = [
                d for d in range(today - 1, today - self.horizon_days - 1, -1) if d not in as_of
            ]
            due.update(missing[: self.backlog])
            done = await refresh_days(session, due, now=now)
            await session.commit()
        self._since = now - SETTLE
        self.rounds += 1
        return done

    async def run(self) -> None:
        """Every ``interval_s`` (the first round after one interval: not at start-up, when
        the service has more urgent work) until cancelled; a failed round is logged."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.refresh_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                log.exception("dispatch rollups: refresh failed")
