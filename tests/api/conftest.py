"""The ``api`` fixture: the app on a real, migrated database (SQLite and PostgreSQL), fakes
for the PBX ports, and a token for each role (plus a revoked and an inactive one).

A ``team`` user must act for a team: the fixture's acts for "Tổ thử nghiệm", at a place of
its own (province code 0, in no data), so that tests may import Bình Dương or build their
own tree beside it and re-point the user to a team of theirs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from api.deps import AuthPolicy
from api.ratelimit import FailureLimiter
from dispatch.incidents import IncidentService
from queues.routing import RoutingPolicy
from store.db import Database
from store.models import Agent, Place, Team, TeamPhone, User
from store.seed import ensure_agents
from store.users import create_user, revoke_tokens
from tests.api.support import Api, FakeAgentControl, FakeCallbacks, FakeIvr, FakeQueueView


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    await ensure_agents(db, 3)
    async with db.session() as session:
        rows = await session.execute(select(Agent.endpoint, Agent.id))
        agent_ids = {endpoint: agent_id for endpoint, agent_id in rows}

    async with db.session() as session:
        place = Place(level="province", depth=0, code=0, name="Tỉnh thử nghiệm", path="/")
        session.add(place)
        await session.flush()
        place.path = f"/{place.id}/"
        team = Team(
            name="Tổ thử nghiệm",
            kind="team",
            place_id=place.id,
            members=[],
            phones=[TeamPhone(position=0, endpoint="team-test")],
        )
        session.add(team)
        await session.commit()

    tokens = {}
    for role in ("supervisor", "admin"):
        _, tokens[role] = await create_user(db, name=f"{role} user", role=role)
    _, tokens["team"] = await create_user(db, name="team user", role="team", team_id=team.id)
    _, tokens["agent"] = await create_user(
        db, name="Đỗ Thị Agent", role="agent", agent_id=agent_ids["agent01"]
    )
    revoked, tokens["revoked"] = await create_user(db, name="revoked", role="admin")
    inactive, tokens["inactive"] = await create_user(db, name="inactive", role="admin")
    await revoke_tokens(db, revoked.id)
    async with db.session() as session:
        user = await session.get(User, inactive.id)
        assert user is not None
        user.active = False
        await session.commit()

    control = FakeAgentControl(db)
    queues = FakeQueueView()
    ami: dict[str, object] = {"connected": True, "host": "127.0.0.1:5038"}
    callbacks = FakeCallbacks(db)
    app = create_app(
        db=db,
        agents=control,
        queues=queues,
        ami_status=lambda: dict(ami),
        ivr=FakeIvr(),
        routing=RoutingPolicy(districts=(718, 724)),
        district_names={718: "Thủ Dầu Một", 724: "Dĩ An"},
        callbacks=callbacks,
        incidents=IncidentService(db),
        # The access tests send many bad tokens from one address: the failure limit has
        # tests of its own (tests/api/test_users.py).
        auth=AuthPolicy(failures=FailureLimiter(limit=1_000_000, window_s=300)),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        yield Api(app, client, db, control, queues, callbacks, ami, tokens, agent_ids)
