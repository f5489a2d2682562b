"""The conference pages without a browser: who may open them (a center's user yes, a commune
team no), what they carry, the top bar's link, and that the same paths stay the API's for
anything but a browser's navigation."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from tests.web.board_world import board_of
from tests.web.conftest import Site
from web.routes import HtmlRoute, pages_first
from web.session import SESSION_COOKIE

NAVIGATE = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
NAV_LINK = '<a href="/conferences"'


@pytest.fixture
async def client(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=site.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as c:
        yield c


async def open_as(client: httpx.AsyncClient, token: str | None, path: str) -> httpx.Response:
    client.cookies.clear()
    if token is not None:
        client.cookies.set(SESSION_COOKIE, token)
    return await client.get(path, headers=NAVIGATE)


def config_of(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="conf-config">(.*?)</script>', html)
    assert found is not None
    data = json.loads(found.group(1))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("path", ["/conferences", "/conferences/7"])
async def test_strangers_sign_in_first_and_back(client: httpx.AsyncClient, path: str) -> None:
    anonymous = await open_as(client, None, path)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/login?next={path}"


@pytest.mark.parametrize("path", ["/conferences", "/conferences/7"])
async def test_an_agent_and_a_commune_team_get_the_403_page(
    site: Site, client: httpx.AsyncClient, path: str
) -> None:
    await board_of(site, "team-25741")
    for who in ("agent", "team-25741"):
        refused = await open_as(client, site.tokens[who], path)
        assert refused.status_code == 403, who
        assert "Không có quyền truy cập" in refused.text
        assert "Hội nghị trực tuyến" in refused.text
        assert "conf-config" not in refused.text
        assert NAV_LINK not in refused.text


async def test_a_supervisor_gets_the_list_and_the_form_and_the_link(
    site: Site, client: httpx.AsyncClient
) -> None:
    page = await open_as(client, site.tokens["supervisor"], "/conferences")
    assert page.status_code == 200
    assert '<a href="/conferences" aria-current="page">Hội nghị</a>' in page.text
    assert "Tạo hội nghị" in page.text
    assert "/static/js/conferences.js?v=" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    config = config_of(page.text)
    assert config["role"] == "supervisor"
    assert config["scope"] is None
    # Elsewhere too: the link is in the supervisor's top bar on every page.
    wallboard = await open_as(client, site.tokens["supervisor"], "/wallboard")
    assert '<a href="/conferences">Hội nghị</a>' in wallboard.text


async def test_one_conference_page_carries_its_id(site: Site, client: httpx.AsyncClient) -> None:
    page = await open_as(client, site.tokens["supervisor"], "/conferences/42")
    assert page.status_code == 200
    assert "/static/js/conference.js?v=" in page.text
    assert config_of(page.text)["conference_id"] == 42
    assert '<a href="/conferences" aria-current="page">' not in page.text


async def test_a_district_center_may_call_its_own_district(
    site: Site, client: httpx.AsyncClient
) -> None:
    await board_of(site, "center-718", "team-25741")
    page = await open_as(client, site.tokens["center-718"], "/conferences")
    assert page.status_code == 200
    config = config_of(page.text)
    assert config["role"] == "team"
    assert config["scope"] == {"level": "district", "code": 718, "name": "Thành phố Thủ Dầu Một"}
    assert config["team_name"] == "Đội center-718"
    # Its incident board has the link; a commune team's has not.
    board = await open_as(client, site.tokens["center-718"], "/incidents")
    assert NAV_LINK in board.text
    commune = await open_as(client, site.tokens["team-25741"], "/incidents")
    assert commune.status_code == 200
    assert NAV_LINK not in commune.text


def app_with_things(*, ordered: bool) -> FastAPI:
    app = FastAPI()
    api = APIRouter()
    pages = APIRouter(route_class=HtmlRoute)

    @api.get("/things")
    async def things() -> dict[str, str]:
        return {"from": "api"}

    @pages.get("/things")
    async def things_page() -> dict[str, str]:
        return {"from": "page"}

    app.include_router(api)
    app.include_router(pages)
    if ordered:
        pages_first(app)
    return app


async def get_things(app: FastAPI, headers: dict[str, str] | None = None) -> object:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return (await c.get("/things", headers=headers)).json()


async def test_the_same_paths_answer_json_to_anything_but_a_navigation() -> None:
    """A page route shares its path with the API's route: only ``Accept: text/html`` gets
    the page, though the API's route was added first."""
    app = app_with_things(ordered=True)
    assert await get_things(app) == {"from": "api"}
    assert await get_things(app, {"Accept": "application/json"}) == {"from": "api"}
    assert await get_things(app, {"Accept": "text/event-stream"}) == {"from": "api"}
    assert await get_things(app, NAVIGATE) == {"from": "page"}
    # Left in the order they were added, the API's route takes the navigation too.
    assert await get_things(app_with_things(ordered=False), NAVIGATE) == {"from": "api"}


async def test_on_the_site_the_api_keeps_its_json(site: Site, client: httpx.AsyncClient) -> None:
    """The page's paths are the API's too: a script's or a client's request reaches the API
    (here without a conference service: its 503), only a navigation gets the page."""
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {site.tokens['supervisor']}"}
    for headers in ({}, {"Accept": "application/json"}):
        for path in ("/conferences", "/conferences/7"):
            answer = await client.get(path, headers={**bearer, **headers})
            assert answer.status_code == 503, path
            assert answer.headers["content-type"] == "application/json"
            assert answer.json()["detail"] == "Dịch vụ hội nghị không chạy trên máy chủ này"
    assert (await client.get("/conferences")).status_code == 401
    page = await open_as(client, site.tokens["supervisor"], "/conferences")
    assert page.headers["content-type"].startswith("text/html")
