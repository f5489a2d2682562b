"""What the live board and the figures share, on the world of
tests/dispatch/monitoring_world.py: the place a team user watches. The filter itself is
exercised through the queries (tests/dispatch/test_monitoring.py, test_figures.py)."""

from __future__ import annotations

import pytest

from dispatch.filters import team_place
from store.db import Database
from tests.dispatch.monitoring_world import World, build_world


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


# -- places ------------------------------------------------------------------------------------


async def test_the_place_a_team_user_watches_is_its_team_s(db: Database, world: World) -> None:
    async with db.session() as session:
        center = await team_place(session, world.teams["718"].id)
        assert center is not None and center.id == world.places["718"].id
        commune = await team_place(session, world.teams["25942"].id)
        assert commune is not None and commune.code == 25942
        assert await team_place(session, 10_000) is None
