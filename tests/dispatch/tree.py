"""A small place tree with its teams, for the dispatch tests (not the real Bình Dương).

    province 74 ── district 718 ── communes 25741 (team, phones), 25744 (no team)
                └─ district 724 ── commune 25942 (team)

Centers at the province and both districts; a rapid-response team at the province, at 718
and at the communes 25741 and 25942.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from store.db import Database
from store.models import Call, CallStatus, Place, Team, TeamMember, TeamPhone
from store.types import utcnow


@dataclass
class Tree:
    places: dict[int, Place] = field(default_factory=dict)  # by code
    teams: dict[str, Team] = field(default_factory=dict)  # "center-718", "team-25741"...

    def place(self, code: int) -> Place:
        return self.places[code]

    def team(self, key: str) -> Team:
        return self.teams[key]


async def small_tree(db: Database) -> Tree:
    tree = Tree()
    async with db.session() as session:

        async def place(code: int, level: str, name: str, parent: Place | None) -> Place:
            p = Place(
                parent_id=parent.id if parent else None,
                level=level,
                depth=parent.depth + 1 if parent else 0,
                code=code,
                name=name,
                path="",
            )
            session.add(p)
            await session.flush()
            p.path = f"{parent.path if parent else '/'}{p.id}/"
            tree.places[code] = p
            return p

        province = await place(74, "province", "Tỉnh Bình Dương", None)
        tdm = await place(718, "district", "Thành phố Thủ Dầu Một", province)
        di_an = await place(724, "district", "Thành phố Dĩ An", province)
        await place(25741, "commune", "Phường Hiệp Thành", tdm)
        await place(25744, "commune", "Phường Phú Lợi", tdm)
        await place(25942, "commune", "Phường Dĩ An", di_an)

        def team(key: str, kind: str, code: int, *phones: str) -> None:
            t = Team(name=f"Đội {key}", kind=kind, place_id=tree.places[code].id)
            t.members = [TeamMember(name="Trực ban", role="duty")]
            t.phones = [
                TeamPhone(
                    position=i,
                    endpoint=p if not p.isdigit() else None,
                    number=p if p.isdigit() else None,
                )
                for i, p in enumerate(phones)
            ]
            session.add(t)
            tree.teams[key] = t

        team("center-74", "center", 74, "center-p74")
        team("team-74", "team", 74, "team-p74")
        team("center-718", "center", 718, "center-d718")
        team("team-718", "team", 718, "team-d718")
        team("center-724", "center", 724, "center-d724")
        team("team-25741", "team", 25741, "team-c25741", "0912000111")
        team("team-25942", "team", 25942, "team-c25942")
        await session.commit()
        for t in tree.teams.values():
            await session.refresh(t)
        for p in tree.places.values():
            await session.refresh(p)
    return tree


async def answered_call(
    db: Database, uniqueid: str, *, agent_id: int | None, caller_number: str = "0912345678"
) -> Call:
    """A call an agent answered, as the call tracker would have written it."""
    now = utcnow()
    async with db.session() as session:
        call = Call(
            uniqueid=uniqueid,
            linkedid=uniqueid,
            caller_number=caller_number,
            arrived_at=now,
            answered_at=now,
            agent_id=agent_id,
            category="medical",
            status=CallStatus.ANSWERED,
        )
        session.add(call)
        await session.commit()
        await session.refresh(call)
        return call
