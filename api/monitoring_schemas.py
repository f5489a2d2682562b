"""Response bodies of ``/monitoring``: what the operations centers' screens show.

Built from the typed rows of ``dispatch.monitoring`` (the live board) and
``dispatch.figures`` (the figures over a range); Vietnamese labels ride along with the keys
so that a screen needs no translation table of its own.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from dispatch.figures import AreaFigures, TeamFigures
from dispatch.filters import PlaceRef
from dispatch.lifecycle import STATUS_LABELS
from dispatch.monitoring import (
    CATEGORY_LABELS,
    OVERDUE_LABEL,
    URGENCY_LABELS,
    OpenIncident,
    SummaryRow,
    overdue_text,
)

__all__ = [
    "AreaRowOut",
    "DistrictsOut",
    "LabelOut",
    "MonitoredIncidentOut",
    "MonitoredIncidentPage",
    "PlaceOut",
    "SummaryOut",
    "SummaryRowOut",
    "TeamRefOut",
    "TeamRowOut",
    "TeamsOut",
]


class PlaceOut(BaseModel):
    id: int
    code: int = Field(description="Official code (vietnam-provinces), unique within its level")
    name: str
    level: str = Field(description="province, district, commune")

    @classmethod
    def of(cls, place: PlaceRef | None) -> PlaceOut | None:
        return None if place is None else cls(**vars(place))


class TeamRefOut(BaseModel):
    id: int
    name: str


class LabelOut(BaseModel):
    key: str
    label: str


class MonitoredIncidentOut(BaseModel):
    id: int
    call_id: int | None
    status: str
    status_label: str = Field(description="Trạng thái, e.g. 'Đã điều phối'")
    category: str
    category_label: str
    urgency: str
    urgency_label: str
    overdue: bool = Field(description="Not acknowledged by its deadline (new or dispatched)")
    overdue_s: float | None = Field(description="Seconds past the acknowledgment deadline")
    overdue_label: str | None = Field(description="'Quá hạn 12 phút' when overdue")
    age_s: float = Field(description="Seconds since it was created")
    created_at: datetime
    dispatched_at: datetime | None = Field(description="To the team holding it now")
    acknowledged_at: datetime | None
    ack_due_at: datetime | None = Field(description="Deadline to acknowledge")
    escalation: int = Field(description="0 at the commune's team, +1 per level up")
    place: PlaceOut = Field(description="Where it is (normally the commune)")
    commune: PlaceOut | None
    district: PlaceOut | None
    team: TeamRefOut | None = Field(description="The team holding it now")
    address: str
    caller_number: str

    @classmethod
    def of(cls, item: OpenIncident) -> MonitoredIncidentOut:
        i = item.incident
        place = PlaceOut.of(item.place)
        assert place is not None
        return cls(
            id=i.id,
            call_id=i.call_id,
            status=i.status,
            status_label=STATUS_LABELS.get(i.status, i.status),
            category=i.category,
            category_label=CATEGORY_LABELS.get(i.category, i.category),
            urgency=i.urgency,
            urgency_label=URGENCY_LABELS.get(i.urgency, i.urgency),
            overdue=item.overdue,
            overdue_s=item.overdue_s,
            overdue_label=overdue_text(item.overdue_s) if item.overdue_s is not None else None,
            age_s=item.age_s,
            created_at=i.created_at,
            dispatched_at=i.dispatched_at,
            acknowledged_at=i.acknowledged_at,
            ack_due_at=i.ack_due_at,
            escalation=i.escalation,
            place=place,
            commune=PlaceOut.of(item.commune),
            district=PlaceOut.of(item.district),
            team=TeamRefOut(id=i.team_id, name=item.team_name or "")
            if i.team_id is not None
            else None,
            address=i.address,
            caller_number=i.caller_number,
        )


class MonitoredIncidentPage(BaseModel):
    now: datetime = Field(description="The instant 'overdue' was judged at")
    total: int = Field(description="Open incidents matching the filters")
    overdue: int = Field(description="Of which overdue")
    limit: int
    offset: int
    items: list[MonitoredIncidentOut]


class SummaryRowOut(BaseModel):
    place: PlaceOut | None = Field(description="null in the total row")
    counts: dict[str, int] = Field(description="Open incidents per status (every open status)")
    open: int
    overdue: int

    @classmethod
    def of(cls, row: SummaryRow) -> SummaryRowOut:
        return cls(
            place=PlaceOut.of(row.place), counts=row.counts, open=row.open, overdue=row.overdue
        )


class SummaryOut(BaseModel):
    now: datetime
    place: PlaceOut | None = Field(description="The place asked about (a team: its own)")
    level: str | None = Field(description="The level of the rows' places")
    columns: list[LabelOut] = Field(description="The statuses, then 'overdue', with labels")
    rows: list[SummaryRowOut]
    total: SummaryRowOut

    @staticmethod
    def status_columns(statuses: tuple[str, ...]) -> list[LabelOut]:
        return [LabelOut(key=s, label=STATUS_LABELS[s]) for s in statuses] + [
            LabelOut(key="overdue", label=OVERDUE_LABEL)
        ]


class TeamRowOut(BaseModel):
    team: TeamRefOut
    kind: str = Field(description="center or team")
    place: PlaceOut | None
    dispatched: int = Field(description="First dispatched to this team")
    escalated: int = Field(description="Of those, gone up at least one level")
    taken: int = Field(description="Acknowledged by this team")
    resolved: int = Field(description="Of the taken, resolved")
    cancelled: int = Field(description="Of the taken, cancelled")
    open: int = Field(description="Of the taken, still open")
    ack_median_s: float | None = Field(description="Median dispatch → acknowledged, taken ones")
    resolve_median_s: float | None = Field(description="Median created → resolved")

    @classmethod
    def of(cls, row: TeamFigures) -> TeamRowOut:
        values = vars(row).copy()
        team = TeamRefOut(id=values.pop("team_id"), name=values.pop("team_name"))
        return cls(**values | {"team": team, "place": PlaceOut.of(row.place)})


class TeamsOut(BaseModel):
    since: datetime
    until: datetime
    rows: list[TeamRowOut]


class AreaRowOut(BaseModel):
    place: PlaceOut | None = Field(description="null in the total row")
    teams: int = Field(description="Active teams sitting in the area")
    incidents: int = Field(description="Created there in the range")
    taken: int = Field(description="Acknowledged by some team")
    resolved: int
    cancelled: int
    open: int
    escalated: int = Field(description="Gone above the commune's team")
    ack_median_s: float | None
    resolve_median_s: float | None

    @classmethod
    def of(cls, row: AreaFigures) -> AreaRowOut:
        return cls(**vars(row) | {"place": PlaceOut.of(row.place)})


class DistrictsOut(BaseModel):
    since: datetime
    until: datetime
    place: PlaceOut | None
    level: str | None = Field(description="The level of the rows' places")
    rows: list[AreaRowOut]
    total: AreaRowOut
