"""Incidents on a test site for the incident board's tests: the small place tree
(``tests/dispatch/tree.py``), users of its teams, incidents opened as an outcome opens them,
and the incident service wired to the event stream as ``hotline1022/service.py`` wires it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from api.services import Services
from dispatch.incidents import IncidentService
from dispatch.ports import SYSTEM
from store.models import Incident, Place
from store.types import utcnow
from store.users import create_user
from tests.dispatch.tree import Tree, small_tree
from tests.web.conftest import Site


class Board:
    """The tree, the site's incident service (live) and team users' tokens in ``site.tokens``
    under the team's key (``"team-25741"``, ``"center-718"``...)."""

    def __init__(self, site: Site, tree: Tree) -> None:
        self.site = site
        self.tree = tree
        services = site.app.state.services
        assert isinstance(services, Services) and services.incidents is not None
        self.incidents: IncidentService = services.incidents
        self.incidents.on_change = site.feed.incident_changed
        self.n = 0

    async def user_of(self, key: str) -> None:
        _, self.site.tokens[key] = await create_user(
            self.site.db, name=f"Trực ban {key}", role="team", team_id=self.tree.team(key).id
        )

    async def open(
        self,
        code: int,
        *,
        category: str = "medical",
        urgency: str = "urgent",
        address: str = "",
        overdue_s: float | None = None,
    ) -> int:
        """An incident at commune ``code``, dispatched to its team; ``overdue_s``: its
        deadline that long ago."""
        self.n += 1
        async with self.site.db.session() as session:
            place = await session.get(Place, self.tree.place(code).id)
            assert place is not None
            incident = await self.incidents.open_incident(
                session,
                call_id=None,
                caller_number=f"09130000{self.n:02d}",
                category=category,
                urgency=urgency,
                place=place,
                address=address or f"{self.n} đường Số {self.n}",
                notes="",
                actor=SYSTEM,
            )
            await session.commit()
            if overdue_s is not None:
                await session.execute(
                    update(Incident)
                    .where(Incident.id == incident.id)
                    .values(ack_due_at=utcnow() - timedelta(seconds=overdue_s))
                )
                await session.commit()
            self.incidents.committed(session)
            return incident.id


async def board_of(site: Site, *teams: str) -> Board:
    board = Board(site, await small_tree(site.db))
    for key in teams:
        await board.user_of(key)
    return board
