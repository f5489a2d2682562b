"""Cookie-authenticated requests that change something must prove they come from the
service's own pages (X-CSRF-Token, and the own Origin); bearer requests need not."""

from __future__ import annotations

import pytest

from api.auth import CROSS_SITE_REFUSED, SESSION_COOKIE, csrf_token_for
from store.users import get_user_by_name, set_password
from tests.api.support import Api

AGENT = "Đỗ Thị Agent"
PASSWORD = "mật-khẩu-đủ-dài-1"


@pytest.fixture
async def session(api: Api) -> str:
    """The agent's session token, from a real sign-in."""
    user = await get_user_by_name(api.db, AGENT)
    assert user is not None
    await set_password(api.db, user.id, PASSWORD)
    response = await api.client.post("/auth/login", json={"name": AGENT, "password": PASSWORD})
    assert response.status_code == 200
    api.client.cookies.clear()
    token = response.headers["set-cookie"].split(";")[0].partition("=")[2]
    assert token
    return token


def login_path(api: Api) -> str:
    return f"/agents/{api.agent_ids['agent01']}/login"


def cookie(token: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={token}", **headers}


async def test_a_cookie_post_without_the_csrf_header_is_refused(api: Api, session: str) -> None:
    response = await api.client.post(login_path(api), headers=cookie(session))
    assert response.status_code == 403
    assert response.json() == {"detail": CROSS_SITE_REFUSED}
    assert api.control.requests == []


async def test_a_cookie_post_with_a_wrong_csrf_token_is_refused(api: Api, session: str) -> None:
    for wrong in ("", "x", session, csrf_token_for(session + "x")):
        response = await api.client.post(
            login_path(api), headers=cookie(session, **{"X-CSRF-Token": wrong})
        )
        assert response.status_code == 403, wrong
    assert api.control.requests == []


async def test_a_cookie_post_from_another_origin_is_refused(api: Api, session: str) -> None:
    for origin in ("https://evil.example", "http://hotline.test.evil.example", "null"):
        response = await api.client.post(
            login_path(api),
            headers=cookie(session, **{"X-CSRF-Token": csrf_token_for(session), "Origin": origin}),
        )
        assert response.status_code == 403, origin
        assert response.json() == {"detail": CROSS_SITE_REFUSED}
    assert api.control.requests == []


async def test_a_cookie_post_with_the_right_token_goes_through(api: Api, session: str) -> None:
    csrf = {"X-CSRF-Token": csrf_token_for(session)}
    response = await api.client.post(login_path(api), headers=cookie(session, **csrf))
    assert response.status_code == 200, response.text
    assert response.json()["logged_in"] is True
    # The same with the service's own Origin, as a browser sends it.
    response = await api.client.post(
        f"/agents/{api.agent_ids['agent01']}/logout",
        headers=cookie(session, **csrf, Origin="http://hotline.test"),
    )
    assert response.status_code == 200, response.text
    assert len(api.control.requests) == 2


async def test_safe_methods_need_no_csrf_header(api: Api, session: str) -> None:
    response = await api.client.get("/calls", headers=cookie(session, Origin="https://x.example"))
    assert response.status_code == 200


async def test_bearer_requests_need_no_csrf_header(api: Api) -> None:
    response = await api.client.post(
        login_path(api), headers={**api.auth("agent"), "Origin": "https://evil.example"}
    )
    assert response.status_code == 200


async def test_the_bearer_token_wins_over_the_cookie(api: Api, session: str) -> None:
    # The agent's cookie, an admin's token: the admin lists users, with no CSRF header.
    response = await api.client.get("/users", headers=cookie(session, **api.auth("admin")))
    assert response.status_code == 200
    me = await api.client.get("/auth/me", headers=cookie(session, **api.auth("admin")))
    assert me.json()["user"]["role"] == "admin"
    assert me.json()["csrf_token"] is None
    # And a bad bearer token is not rescued by a good cookie.
    bad = await api.client.get("/calls", headers=cookie(session, Authorization="Bearer nope"))
    assert bad.status_code == 401


async def test_a_cookie_get_is_refused_for_a_role_as_a_bearer_one_is(
    api: Api, session: str
) -> None:
    response = await api.client.get("/users", headers=cookie(session))
    assert response.status_code == 403
    assert "Role 'agent' may not" in response.json()["detail"]
