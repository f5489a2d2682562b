"""The incident board's page without a browser: who may open it, and what it carries (the
places of its filters, within what the user may see)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import update

from store.models import User
from store.users import create_user
from tests.web.board_world import board_of
from tests.web.conftest import Site
from web.session import SESSION_COOKIE


@pytest.fixture
async def client(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=site.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as c:
        yield c


async def get_as(client: httpx.AsyncClient, token: str | None, path: str) -> httpx.Response:
    client.cookies.clear()
    if token is not None:
        client.cookies.set(SESSION_COOKIE, token)
    return await client.get(path)


def config_of(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="board-config">(.*?)</script>', html)
    assert found is not None
    data = json.loads(found.group(1))
    assert isinstance(data, dict)
    return data


async def test_strangers_sign_in_first_and_agents_get_the_403_page(
    site: Site, client: httpx.AsyncClient
) -> None:
    anonymous = await get_as(client, None, "/incidents?category=food")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/incidents"
    agent = await get_as(client, site.tokens["agent"], "/incidents")
    assert agent.status_code == 403
    assert "Bảng điều hành sự vụ" in agent.text
    assert "board-config" not in agent.text
    # A team user whose team is gone (the database allows it) may see nothing.
    board = await board_of(site)
    user, teamless = await create_user(
        site.db, name="Đội đã giải thể", role="team", team_id=board.tree.team("team-74").id
    )
    async with site.db.session() as session:
        await session.execute(update(User).where(User.id == user.id).values(team_id=None))
        await session.commit()
    assert (await get_as(client, teamless, "/incidents")).status_code == 403


async def test_a_district_center_gets_its_own_places_and_a_supervisor_all(
    site: Site, client: httpx.AsyncClient
) -> None:
    await board_of(site, "center-718", "team-25942")
    center = await get_as(client, site.tokens["center-718"], "/incidents")
    assert center.status_code == 200
    assert '<a href="/incidents" aria-current="page">Sự vụ</a>' in center.text
    config = config_of(center.text)
    assert config["role"] == "team"
    assert config["scope"] == {"code": 718, "name": "Thành phố Thủ Dầu Một", "level": "district"}
    assert config["districts"] == [{"code": 718, "name": "Thành phố Thủ Dầu Một"}]
    assert [c["code"] for c in config["communes"]] == [25741, 25744]  # type: ignore[index,union-attr]

    commune_team = config_of((await get_as(client, site.tokens["team-25942"], "/incidents")).text)
    assert commune_team["districts"] == []
    assert [c["code"] for c in commune_team["communes"]] == [25942]  # type: ignore[index,union-attr]

    supervisor = config_of((await get_as(client, site.tokens["supervisor"], "/incidents")).text)
    assert supervisor["scope"] is None
    assert [d["code"] for d in supervisor["districts"]] == [718, 724]  # type: ignore[index,union-attr]
    assert len(supervisor["communes"]) == 3  # type: ignore[arg-type]


async def test_a_team_user_lands_on_the_board_after_signing_in(
    site: Site, client: httpx.AsyncClient
) -> None:
    await board_of(site, "team-25741")
    home = await get_as(client, site.tokens["team-25741"], "/")
    assert home.status_code == 303
    assert home.headers["location"] == "/incidents"
