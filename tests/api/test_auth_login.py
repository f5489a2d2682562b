"""Signing in with a name and password: the session cookie, its flags and lifetime,
signing out, who is signed in, and failures counted by the address's limit."""

from __future__ import annotations

import httpx
import pytest

from api.auth import SESSION_COOKIE, csrf_token_for
from api.deps import AuthPolicy
from api.ratelimit import FailureLimiter
from api.routers.auth import WRONG_LOGIN
from store.users import get_user_by_name, set_active, set_password, token_lifetimes
from tests.api.support import Api

AGENT = "Đỗ Thị Agent"
PASSWORD = "mật-khẩu-đủ-dài-1"
SAME_ORIGIN = {"Origin": "http://hotline.test"}


@pytest.fixture
async def signed(api: Api) -> Api:
    """The fixture's users, each with ``PASSWORD``."""
    for name in (AGENT, "supervisor user", "admin user", "team user", "inactive"):
        user = await get_user_by_name(api.db, name)
        assert user is not None
        await set_password(api.db, user.id, PASSWORD)
    return api


def set_cookie(response: httpx.Response) -> str:
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 1, cookies
    return cookies[0]


def cookie_value(response: httpx.Response) -> str:
    first = set_cookie(response).split(";")[0]
    name, _, value = first.partition("=")
    assert name == SESSION_COOKIE and value
    return value


async def login(api: Api, name: str = AGENT, password: str = PASSWORD) -> httpx.Response:
    response = await api.client.post(
        "/auth/login", json={"name": name, "password": password}, headers=SAME_ORIGIN
    )
    # Tests send the cookie themselves, so that each says which one it sends.
    api.client.cookies.clear()
    return response


def with_cookie(token: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={token}", **headers}


async def test_login_answers_the_user_and_a_csrf_token_and_sets_the_cookie(signed: Api) -> None:
    response = await login(signed)
    assert response.status_code == 200, response.text
    body = response.json()
    token = cookie_value(response)
    assert body["user"] == {
        "id": body["user"]["id"],
        "name": AGENT,
        "role": "agent",
        "agent_id": signed.agent_ids["agent01"],
        "team_id": None,
    }
    assert body["csrf_token"] == csrf_token_for(token) != token
    assert body["expires_at"]

    flags = [part.strip() for part in set_cookie(response).split(";")[1:]]
    lowered = [flag.lower() for flag in flags]
    assert "httponly" in lowered
    assert "samesite=strict" in lowered
    assert "path=/" in lowered
    assert "secure" not in lowered  # plain http: a Secure cookie would never come back
    (max_age,) = [int(f.split("=")[1]) for f in flags if f.lower().startswith("max-age=")]
    # An agent's session lives for the role's lifetime: a shift.
    assert 12 * 3600 - 5 <= max_age <= 12 * 3600

    me = await signed.client.get("/auth/me", headers=with_cookie(token))
    assert me.status_code == 200
    assert me.json() == body


async def test_the_cookie_is_secure_over_https(signed: Api) -> None:
    transport = httpx.ASGITransport(app=signed.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://hotline.test") as client:
        response = await client.post(
            "/auth/login",
            json={"name": "supervisor user", "password": PASSWORD},
            headers={"Origin": "https://hotline.test"},
        )
    assert response.status_code == 200, response.text
    flags = [part.strip().lower() for part in set_cookie(response).split(";")[1:]]
    assert "secure" in flags
    # A supervisor's session lives for a week.
    assert f"max-age={7 * 24 * 3600}" in flags or f"max-age={7 * 24 * 3600 - 1}" in flags


@pytest.mark.parametrize(
    ("name", "password"),
    [
        (AGENT, PASSWORD + "x"),  # wrong password
        ("Không có ai", PASSWORD),  # unknown name
        ("inactive", PASSWORD),  # right password, deactivated user
        ("revoked", PASSWORD),  # a user who has no password at all
    ],
)
async def test_every_failed_login_answers_the_same_401(
    signed: Api, name: str, password: str
) -> None:
    response = await login(signed, name, password)
    assert response.status_code == 401
    assert response.json() == {"detail": WRONG_LOGIN}
    assert "set-cookie" not in response.headers


async def test_wrong_passwords_are_counted_per_address_then_429(signed: Api) -> None:
    signed.app.state.auth = AuthPolicy(failures=FailureLimiter(limit=3, window_s=300))
    for _ in range(3):
        assert (await login(signed, password="sai-mat-khau-roi")).status_code == 401
    limited = await login(signed)  # even the right password: the address learns nothing more
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "set-cookie" not in limited.headers


async def test_a_good_login_is_not_counted(signed: Api) -> None:
    signed.app.state.auth = AuthPolicy(failures=FailureLimiter(limit=2, window_s=300))
    for _ in range(4):
        assert (await login(signed)).status_code == 200


async def test_login_from_another_site_is_refused(signed: Api) -> None:
    response = await signed.client.post(
        "/auth/login",
        json={"name": AGENT, "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Yêu cầu từ trang khác bị từ chối")
    assert "set-cookie" not in response.headers
    # A script (no Origin) may sign in.
    scripted = await signed.client.post("/auth/login", json={"name": AGENT, "password": PASSWORD})
    assert scripted.status_code == 200


async def test_logout_revokes_the_session_and_clears_the_cookie(signed: Api) -> None:
    token = cookie_value(await login(signed))
    response = await signed.client.post(
        "/auth/logout",
        headers=with_cookie(token, **{"X-CSRF-Token": csrf_token_for(token)}, **SAME_ORIGIN),
    )
    assert response.status_code == 204
    cleared = set_cookie(response).lower()
    assert cleared.startswith(f"{SESSION_COOKIE}=") and "max-age=0" in cleared
    assert (await signed.client.get("/auth/me", headers=with_cookie(token))).status_code == 401
    # Once more, or without a cookie: nothing to end, the same answer.
    again = await signed.client.post("/auth/logout", headers=with_cookie(token))
    assert again.status_code == 204
    assert (await signed.client.post("/auth/logout")).status_code == 204


async def test_logout_needs_the_csrf_token(signed: Api) -> None:
    token = cookie_value(await login(signed))
    refused = await signed.client.post("/auth/logout", headers=with_cookie(token))
    assert refused.status_code == 403
    assert (await signed.client.get("/auth/me", headers=with_cookie(token))).status_code == 200


async def test_a_session_ends_with_its_role_lifetime(signed: Api) -> None:
    token = cookie_value(await login(signed))
    assert (await signed.client.get("/calls", headers=with_cookie(token))).status_code == 200
    # Shortening the agents' lifetime in the settings takes effect at once.
    policy = signed.app.state.auth
    signed.app.state.auth = AuthPolicy(
        lifetimes=token_lifetimes({"agent": 0}), failures=policy.failures
    )
    expired = await signed.client.get("/calls", headers=with_cookie(token))
    assert expired.status_code == 401
    assert expired.json()["detail"].startswith("Token expired")
    # Other roles' sessions go on.
    other = cookie_value(await login(signed, "supervisor user"))
    assert (await signed.client.get("/calls", headers=with_cookie(other))).status_code == 200


async def test_a_deactivated_users_session_stops_at_once(signed: Api) -> None:
    token = cookie_value(await login(signed, "admin user"))
    assert (await signed.client.get("/users", headers=with_cookie(token))).status_code == 200
    admin = await get_user_by_name(signed.db, "admin user")
    assert admin is not None
    await set_active(signed.db, admin.id, False)
    assert (await signed.client.get("/users", headers=with_cookie(token))).status_code == 401


async def test_me_with_a_bearer_token_has_no_csrf_token(signed: Api) -> None:
    response = await signed.client.get("/auth/me", headers=signed.auth("supervisor"))
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["name"] == "supervisor user"
    assert body["user"]["role"] == "supervisor"
    assert body["csrf_token"] is None
    assert body["expires_at"]


async def test_me_without_a_session_is_401(signed: Api) -> None:
    assert (await signed.client.get("/auth/me")).status_code == 401
    assert (await signed.client.get("/auth/me", headers=with_cookie("nope"))).status_code == 401
