"""The live board: open incidents, overdue first, and the open ones counted per place.

What the operations centers' screens refresh every few seconds, on SQLite and PostgreSQL.
Both queries read only the open incidents, through ``ix_incidents_status`` (``status IN``
the five open statuses: a few hundred rows among a year's closed ones); the filters
(``dispatch.filters``) apply to those rows:

- ``open_incidents``: one page of open incidents, overdue first (most overdue first), then
  by urgency and age.
- ``open_summary``: open incidents counted per place (the districts, or the communes of a
  district) × status, and the overdue ones.

An incident is overdue while it waits for a team past its acknowledgment deadline. The
labels a supervisor reads (overdue, categories, urgencies) are here too; the statuses' are
the lifecycle's (``dispatch.lifecycle.STATUS_LABELS``). The figures over a time range are
in ``dispatch.figures``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from dispatch.filters import OPEN_STATUSES, IncidentFilter, PlaceRef, conditions, row_places
from dispatch.places import ancestor_ids
from store.categories import Category
from store.models import Incident, IncidentStatus, Place, Team, Urgency

__all__ = [
    "CATEGORY_LABELS",
    "OVERDUE_LABEL",
    "URGENCY_LABELS",
    "WAITING_STATUSES",
    "OpenIncident",
    "OpenPage",
    "Summary",
    "SummaryRow",
    "open_incidents",
    "open_summary",
    "overdue_text",
]

S = IncidentStatus
# Still waiting for a team to say "we have it": only these can be overdue.
WAITING_STATUSES: tuple[str, ...] = (S.NEW, S.DISPATCHED)

# What a supervisor reads: the statuses' labels are the lifecycle's (STATUS_LABELS).
OVERDUE_LABEL = "Quá hạn"
CATEGORY_LABELS: dict[str, str] = {
    Category.MEDICAL: "Cấp cứu y tế",
    Category.FOOD: "Hỗ trợ lương thực, nhu yếu phẩm",
    Category.VIOLATION: "Phản ánh vi phạm",
    Category.GENERAL: "Khác",
}
URGENCY_LABELS: dict[str, str] = {
    Urgency.CRITICAL: "Nguy kịch",
    Urgency.URGENT: "Khẩn cấp",
    Urgency.NORMAL: "Bình thường",
}


def overdue_text(seconds: float) -> str:
    """How late, as a supervisor reads it: "Quá hạn 45 giây", "Quá hạn 1 giờ 5 phút"."""
    whole = int(seconds)
    if whole < 60:
        return f"{OVERDUE_LABEL} {whole} giây"
    hours, minutes = divmod(whole // 60, 60)
    if not hours:
        return f"{OVERDUE_LABEL} {minutes} phút"
    return f"{OVERDUE_LABEL} {hours} giờ" + (f" {minutes} phút" if minutes else "")


# Most urgent first; an urgency this module does not know sorts last.
URGENCY_RANK: dict[str, int] = {Urgency.CRITICAL: 0, Urgency.URGENT: 1, Urgency.NORMAL: 2}


@dataclass(frozen=True)
class OpenIncident:
    """An open incident as the operations center sees it."""

    incident: Incident
    place: PlaceRef  # where it is (the commune, normally)
    commune: PlaceRef | None
    district: PlaceRef | None
    team_name: str | None  # the team holding it now
    overdue: bool
    overdue_s: float | None  # how long past its acknowledgment deadline
    age_s: float  # since it was created


@dataclass(frozen=True)
class OpenPage:
    items: list[OpenIncident]
    total: int  # open incidents matching the filters
    overdue: int  # of which overdue


@dataclass
class SummaryRow:
    place: PlaceRef | None  # None for the total row
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPEN_STATUSES, 0))
    open: int = 0
    overdue: int = 0

    def add(self, status: str, overdue: bool, n: int) -> None:
        self.counts[status] = self.counts.get(status, 0) + n
        self.open += n
        self.overdue += n if overdue else 0


@dataclass(frozen=True)
class Summary:
    level: str | None  # the level of the rows' places (district, commune…); None: no rows
    rows: list[SummaryRow]
    total: SummaryRow


def _open_statuses(f: IncidentFilter) -> tuple[str, ...]:
    if f.statuses is None:
        return OPEN_STATUSES
    return tuple(s for s in OPEN_STATUSES if s in f.statuses)


def _overdue(now: datetime) -> ColumnElement[bool]:
    return and_(Incident.status.in_(WAITING_STATUSES), Incident.ack_due_at < now)


# -- open incidents ----------------------------------------------------------------------------


async def open_incidents(
    session: AsyncSession,
    f: IncidentFilter,
    *,
    now: datetime,
    limit: int = 50,
    offset: int = 0,
) -> OpenPage:
    """One page of open incidents: overdue first (the longest overdue first), then by
    urgency (critical first), then the oldest first; and how many match, how many overdue.

    Index: ``ix_incidents_status`` for the open statuses (a few hundred rows among a year's
    closed ones); the other filters and the sort apply to those rows only.
    """
    conds = await conditions(session, f, _open_statuses(f))
    overdue = _overdue(now)
    if f.overdue_only:
        conds.append(overdue)

    total, overdue_n = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(case((overdue, 1), else_=0)), 0)).where(
                *conds
            )
        )
    ).one()

    own, parent = aliased(Place), aliased(Place)
    urgency_rank = case(URGENCY_RANK, value=Incident.urgency, else_=len(URGENCY_RANK))
    rows = await session.execute(
        select(Incident, own, parent, Team.name)
        .join(own, own.id == Incident.place_id)
        .outerjoin(parent, parent.id == own.parent_id)
        .outerjoin(Team, Team.id == Incident.team_id)
        .where(*conds)
        .order_by(
            case((overdue, 0), else_=1),
            # Only overdue rows get a deadline key, so NULL ordering (which differs between
            # the databases) never decides anything.
            case((overdue, Incident.ack_due_at), else_=None),
            urgency_rank,
            Incident.created_at,
            Incident.id,
        )
        .limit(limit)
        .offset(offset)
    )
    items = []
    for incident, place, up, team_name in rows:
        late = (
            incident.status in WAITING_STATUSES
            and incident.ack_due_at is not None
            and incident.ack_due_at < now
        )
        district = place if place.level == "district" else up
        items.append(
            OpenIncident(
                incident=incident,
                place=PlaceRef.of(place),
                commune=PlaceRef.of(place) if place.level == "commune" else None,
                district=PlaceRef.of(district)
                if district is not None and district.level == "district"
                else None,
                team_name=team_name,
                overdue=late,
                overdue_s=(now - incident.ack_due_at).total_seconds()
                if late and incident.ack_due_at is not None
                else None,
                age_s=(now - incident.created_at).total_seconds(),
            )
        )
    return OpenPage(items=items, total=int(total), overdue=int(overdue_n))


# -- the summary -------------------------------------------------------------------------------


def _ancestor(path: str, depth: int) -> int | None:
    """The id of the place at ``depth`` on ``path`` (None: the path ends above it)."""
    ids = ancestor_ids(path)
    return ids[depth] if len(ids) > depth else None


async def open_summary(
    session: AsyncSession, f: IncidentFilter, *, now: datetime, within: Place | None = None
) -> Summary:
    """Open incidents per place × status, and overdue, one row per child of ``within``
    (per district without it, per commune of a district), every such place listed, and
    the total. ``f.under`` should be ``within``'s path.

    SQL counts per (path, status, overdue) — a few hundred groups at most — and the rows
    are summed from the paths here. An incident filed above the rows' level is in the total
    only (incidents sit at communes). Index: as ``open_incidents``.
    """
    conds = await conditions(session, f, _open_statuses(f))
    overdue = _overdue(now)
    if f.overdue_only:
        conds.append(overdue)
    flag = case((overdue, 1), else_=0)
    counted = await session.execute(
        select(Incident.place_path, Incident.status, flag, func.count())
        .where(*conds)
        .group_by(Incident.place_path, Incident.status, flag)
    )
    depth, places = await row_places(session, within)
    rows = {p.id: SummaryRow(PlaceRef.of(p)) for p in places}
    total = SummaryRow(None)
    for path, status, late, n in counted:
        row = rows.get(_ancestor(path, depth) or 0)
        if row is not None:
            row.add(status, bool(late), n)
        total.add(status, bool(late), n)
    level = places[0].level if places else None
    return Summary(level=level, rows=list(rows.values()), total=total)
