"""A small operations center for the monitoring tests: real Bình Dương names and codes,
inserted directly (no importer), and thirteen incidents whose figures are worked by hand in
the tests.

Places: province 74 Bình Dương; districts 718 Thủ Dầu Một (communes 25741 Hiệp Thành,
25747 Phú Cường) and 724 Dĩ An (commune 25942 Dĩ An). Teams: a center at the province and at
each district, a rapid-response team at each commune.

NOW is 2024-05-01 10:00 UTC (17:00 in Vietnam); ``build_world(db, now=…)`` moves every time
by the same amount (the API tests judge "overdue" at the real now). Open incidents:

| id | where | category, urgency | status | team now | created | ack due | overdue at NOW |
|---|---|---|---|---|---|---|---|
| A | Hiệp Thành | medical critical | dispatched | Hiệp Thành | 09:50 | 09:55 | 300 s |
| B | Phú Cường | food normal | new | — | 09:00 | 09:30 | 1800 s |
| C | Dĩ An | medical urgent | acknowledged | Dĩ An | 09:40 | 09:45 | no (acknowledged) |
| D | Dĩ An | violation normal | dispatched | Dĩ An | 09:55 | 10:30 | no |
| E | Phú Cường | medical critical | en_route | Phú Cường | 09:58 | 10:01 | no |
| F | Hiệp Thành | medical urgent | dispatched | center 718 (escalated) | 08:00 | 10:05 | no |

Closed (created 01:00–07:00 UTC on 1 May; G8 on 30 April, before the tests' ranges):

| id | where | category | first team | taken by | ack_s | status | resolve_s | escalation |
|---|---|---|---|---|---|---|---|---|
| G1 | Hiệp Thành | medical | Hiệp Thành | Hiệp Thành | 30 | resolved | 1200 | 0 |
| G2 | Hiệp Thành | food | Hiệp Thành | Hiệp Thành | 90 | resolved | 3000 | 0 |
| G3 | Hiệp Thành | medical | Hiệp Thành | Hiệp Thành | 60 | resolved | 1800 | 0 |
| G4 | Hiệp Thành | medical | Hiệp Thành | Hiệp Thành | 600 | cancelled | — | 0 |
| G5 | Phú Cường | medical | Phú Cường | center 718 | 120 | resolved | 2400 | 1 |
| G6 | Dĩ An | violation | Dĩ An | Dĩ An | 45 | resolved | 900 | 0 |
| G7 | Dĩ An | medical | Dĩ An | Dĩ An | 15 | resolved | 600 | 0 |
| G8 | Hiệp Thành | medical | Hiệp Thành | Hiệp Thành | 9999 | resolved | 9999 | 0 |

Open ones taken: C by Dĩ An (ack_s 120), E by Phú Cường (ack_s 40). First teams of the open
ones: A, F Hiệp Thành; C, D Dĩ An; E Phú Cường; B none yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from store.db import Database
from store.models import Incident, Place, Team

__all__ = ["DAY_START", "NOW", "World", "build_world"]

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
DAY_START = datetime(2024, 4, 30, 17, 0, tzinfo=UTC)  # 1 May 00:00 in Vietnam


def _at(hh: int, mm: int = 0, now: datetime = NOW) -> datetime:
    """hh:mm on the tables' day (1 May, UTC), moved as NOW is moved to ``now``."""
    return now + (datetime(2024, 5, 1, tzinfo=UTC) + timedelta(hours=hh, minutes=mm) - NOW)


@dataclass
class World:
    now: datetime = NOW  # the tables' NOW, as moved
    places: dict[str, Place] = field(default_factory=dict)  # by code as str: "718", "25741"
    teams: dict[str, Team] = field(default_factory=dict)  # "province", "718", "25741"...
    incidents: dict[str, int] = field(default_factory=dict)  # "A" → id

    def name(self, incident_id: int) -> str:
        return next(k for k, v in self.incidents.items() if v == incident_id)


async def _place(
    session: Any, world: World, code: int, name: str, level: str, parent: Place | None
) -> Place:
    """The place of that level and code: the one already there (the API tests import
    Bình Dương's places), else a new one."""
    found = await session.scalar(select(Place).where(Place.level == level, Place.code == code))
    if found is not None:
        world.places[str(code)] = found
        return found  # type: ignore[no-any-return]
    place = Place(
        parent_id=parent.id if parent else None,
        level=level,
        depth=parent.depth + 1 if parent else 0,
        code=code,
        name=name,
        path="",
    )
    session.add(place)
    await session.flush()
    place.path = f"{parent.path if parent else '/'}{place.id}/"
    await session.flush()
    world.places[str(code)] = place
    return place


async def build_world(db: Database, now: datetime = NOW) -> World:
    """The places, teams and incidents of the tables, with NOW at ``now``."""
    world = World(now=now)

    def at(hh: int, mm: int = 0) -> datetime:
        return _at(hh, mm, now)

    async with db.session() as session:
        province = await _place(session, world, 74, "Tỉnh Bình Dương", "province", None)
        d1 = await _place(session, world, 718, "Thành phố Thủ Dầu Một", "district", province)
        c11 = await _place(session, world, 25741, "Phường Hiệp Thành", "commune", d1)
        c12 = await _place(session, world, 25747, "Phường Phú Cường", "commune", d1)
        d2 = await _place(session, world, 724, "Thành phố Dĩ An", "district", province)
        c21 = await _place(session, world, 25942, "Phường Dĩ An", "commune", d2)

        for key, name, kind, place in (
            ("province", "Trung tâm điều hành tỉnh Bình Dương", "center", province),
            ("718", "Trung tâm điều hành Thủ Dầu Một", "center", d1),
            ("724", "Trung tâm điều hành Dĩ An", "center", d2),
            ("25741", "Tổ phản ứng nhanh Hiệp Thành", "team", c11),
            ("25747", "Tổ phản ứng nhanh Phú Cường", "team", c12),
            ("25942", "Tổ phản ứng nhanh Dĩ An", "team", c21),
        ):
            # A default team of an imported province is taken as it is.
            team = await session.scalar(
                select(Team)
                .where(Team.place_id == place.id, Team.kind == kind, Team.active)
                .order_by(Team.id)
                .limit(1)
            )
            if team is None:
                team = Team(name=name, kind=kind, place_id=place.id)
                session.add(team)
            world.teams[key] = team
        await session.flush()
        t = {k: v.id for k, v in world.teams.items()}
        rows: dict[str, Incident] = {}

        def incident(
            key: str,
            place: Place,
            category: str,
            urgency: str,
            status: str,
            created: datetime,
            **fields: Any,
        ) -> None:
            values: dict[str, Any] = {
                "category": category,
                "urgency": urgency,
                "place_id": place.id,
                "place_path": place.path,
                "status": status,
                "created_at": created,
                "caller_number": f"09{len(rows):08d}",
                "address": f"{len(rows) + 1} Đường Cách Mạng Tháng Tám",
            }
            values.update(fields)
            rows[key] = Incident(**values)
            session.add(rows[key])

        def taken(created: datetime, ack_s: float, by: int, **fields: Any) -> dict[str, Any]:
            return {
                "dispatched_at": created,
                "acknowledged_at": created + timedelta(seconds=ack_s),
                "acknowledged_by_team_id": by,
                "ack_s": ack_s,
                **fields,
            }

        def resolved(created: datetime, resolve_s: float) -> dict[str, Any]:
            end = created + timedelta(seconds=resolve_s)
            return {"resolve_s": resolve_s, "resolved_at": end, "closed_at": end}

        # open
        incident(
            "A",
            c11,
            "medical",
            "critical",
            "dispatched",
            at(9, 50),
            team_id=t["25741"],
            first_team_id=t["25741"],
            dispatched_at=at(9, 50),
            ack_due_at=at(9, 55),
        )
        incident("B", c12, "food", "normal", "new", at(9), ack_due_at=at(9, 30))
        incident(
            "C",
            c21,
            "medical",
            "urgent",
            "acknowledged",
            at(9, 40),
            team_id=t["25942"],
            first_team_id=t["25942"],
            ack_due_at=at(9, 45),
            **taken(at(9, 40), 120, t["25942"]),
        )
        incident(
            "D",
            c21,
            "violation",
            "normal",
            "dispatched",
            at(9, 55),
            team_id=t["25942"],
            first_team_id=t["25942"],
            dispatched_at=at(9, 55),
            ack_due_at=at(10, 30),
        )
        incident(
            "E",
            c12,
            "medical",
            "critical",
            "en_route",
            at(9, 58),
            team_id=t["25747"],
            first_team_id=t["25747"],
            ack_due_at=at(10, 1),
            **taken(at(9, 58), 40, t["25747"]),
        )
        incident(
            "F",
            c11,
            "medical",
            "urgent",
            "dispatched",
            at(8),
            team_id=t["718"],
            first_team_id=t["25741"],
            escalation=1,
            dispatched_at=at(9, 50),
            ack_due_at=at(10, 5),
        )
        # closed
        for key, place, category, first, by, ack_s, status, resolve_s, escalation, created in (
            ("G1", c11, "medical", "25741", "25741", 30, "resolved", 1200, 0, at(1)),
            ("G2", c11, "food", "25741", "25741", 90, "resolved", 3000, 0, at(2)),
            ("G3", c11, "medical", "25741", "25741", 60, "resolved", 1800, 0, at(3)),
            ("G4", c11, "medical", "25741", "25741", 600, "cancelled", None, 0, at(4)),
            ("G5", c12, "medical", "25747", "718", 120, "resolved", 2400, 1, at(5)),
            ("G6", c21, "violation", "25942", "25942", 45, "resolved", 900, 0, at(6)),
            ("G7", c21, "medical", "25942", "25942", 15, "resolved", 600, 0, at(7)),
            ("G8", c11, "medical", "25741", "25741", 9999, "resolved", 9999, 0, at(-8)),
        ):  # fmt: skip
            fields = taken(created, ack_s, t[by], first_team_id=t[first], escalation=escalation)
            if resolve_s is not None:
                fields |= resolved(created, resolve_s)
            else:
                fields["closed_at"] = created + timedelta(hours=1)
            incident(key, place, category, "urgent", status, created, team_id=t[by], **fields)
        await session.flush()
        world.incidents = {k: v.id for k, v in rows.items()}
        await session.commit()
    return world
