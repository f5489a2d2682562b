"""Tokens expire, are revoked one at a time, stop with their deactivated user; failed
authentications are limited per address; administrators manage users over REST."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from api.deps import AuthPolicy
from api.ratelimit import FailureLimiter
from store.models import ApiToken
from store.users import create_user, hash_token, issue_token, token_lifetimes
from tests.api.support import Api


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def age(api: Api, token: str, by: timedelta) -> None:
    """Make the token as if it had been issued ``by`` earlier."""
    async with api.db.session() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
        assert row is not None and row.expires_at is not None
        row.created_at -= by
        row.expires_at -= by
        await session.commit()


async def test_a_token_past_its_roles_lifetime_is_refused(api: Api) -> None:
    _, token = await create_user(
        api.db, name="Ca đêm", role="agent", agent_id=api.agent_ids["agent02"]
    )
    assert (await api.client.get("/agents", headers=bearer(token))).status_code == 200
    await age(api, token, timedelta(hours=12, seconds=1))  # an agent's token lives 12 h

    response = await api.client.get("/agents", headers=bearer(token))

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_a_shorter_lifetime_in_the_settings_applies_to_tokens_issued_before(
    api: Api,
) -> None:
    _, token = await create_user(api.db, name="Giám sát", role="supervisor")
    await age(api, token, timedelta(hours=2))
    assert (await api.client.get("/agents", headers=bearer(token))).status_code == 200
    policy: AuthPolicy = api.app.state.auth
    policy.lifetimes = token_lifetimes({"supervisor": 3600})

    assert (await api.client.get("/agents", headers=bearer(token))).status_code == 401


async def test_revoking_one_token_leaves_the_others_working(api: Api) -> None:
    user, first = await create_user(api.db, name="Hai máy", role="supervisor")
    second = await issue_token(api.db, user.id, label="máy tính bảng")
    admin = api.auth("admin")
    tokens = (await api.client.get(f"/users/{user.id}/tokens", headers=admin)).json()
    assert len(tokens) == 2
    assert all(set(t) == {"id", "label", "created_at", "expires_at", "revoked_at"} for t in tokens)
    tablet = next(t for t in tokens if t["label"] == "máy tính bảng")

    revoked = await api.client.post(f"/users/{user.id}/tokens/{tablet['id']}/revoke", headers=admin)

    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert (await api.client.get("/agents", headers=bearer(second))).status_code == 401
    assert (await api.client.get("/agents", headers=bearer(first))).status_code == 200
    again = await api.client.post(f"/users/{user.id}/tokens/{tablet['id']}/revoke", headers=admin)
    assert again.json() == revoked.json()  # idempotent
    other = await api.client.post(f"/users/{user.id}/tokens/999999/revoke", headers=admin)
    assert other.status_code == 404


async def test_a_deactivated_users_tokens_stop_at_once_and_come_back_on_reactivation(
    api: Api,
) -> None:
    user, token = await create_user(api.db, name="Nghỉ việc", role="supervisor")
    assert (await api.client.get("/agents", headers=bearer(token))).status_code == 200
    admin = api.auth("admin")

    off = await api.client.post(f"/users/{user.id}/deactivate", headers=admin)

    assert off.status_code == 200 and off.json()["active"] is False
    assert (await api.client.get("/agents", headers=bearer(token))).status_code == 401
    on = await api.client.post(f"/users/{user.id}/reactivate", headers=admin)
    assert on.json()["active"] is True
    assert (await api.client.get("/agents", headers=bearer(token))).status_code == 200


async def test_an_admin_cannot_deactivate_themselves(api: Api) -> None:
    me = next(
        u
        for u in (await api.client.get("/users", headers=api.auth("admin"))).json()
        if u["name"] == "admin user"
    )
    response = await api.client.post(f"/users/{me['id']}/deactivate", headers=api.auth("admin"))
    assert response.status_code == 409


async def test_an_admin_creates_a_user_whose_token_works_and_is_never_shown_again(
    api: Api,
) -> None:
    admin = api.auth("admin")
    created = await api.client.post(
        "/users", headers=admin, json={"name": "Trưởng ca", "role": "supervisor"}
    )
    assert created.status_code == 201
    body = created.json()
    token = body["token"]["token"]
    assert body["token"]["expires_at"] is not None
    assert (await api.client.get("/agents", headers=bearer(token))).status_code == 200
    listed = (await api.client.get(f"/users/{body['user']['id']}/tokens", headers=admin)).text
    assert token not in listed and hash_token(token) not in listed
    taken = await api.client.post(
        "/users", headers=admin, json={"name": "Trưởng ca", "role": "supervisor"}
    )
    assert taken.status_code == 409
    no_agent = await api.client.post("/users", headers=admin, json={"name": "X", "role": "agent"})
    assert no_agent.status_code == 422
    unknown = await api.client.post(
        "/users", headers=admin, json={"name": "Y", "role": "agent", "agent_id": 999999}
    )
    assert unknown.status_code == 404
    both = await api.client.post(
        "/users", headers=admin, json={"name": "Z", "role": "supervisor", "team_id": 1}
    )
    assert both.status_code == 422
    huge = await api.client.get(f"/users/{2**40}", headers=admin)
    assert huge.status_code == 422


async def test_an_admin_cannot_revoke_the_token_they_are_using(api: Api) -> None:
    admin, token = await create_user(api.db, name="Quản trị 2", role="admin")
    [row] = (await api.client.get(f"/users/{admin.id}/tokens", headers=bearer(token))).json()
    response = await api.client.post(
        f"/users/{admin.id}/tokens/{row['id']}/revoke", headers=bearer(token)
    )
    assert response.status_code == 409
    assert (await api.client.get("/users", headers=bearer(token))).status_code == 200


async def test_the_11th_failure_in_a_window_is_answered_429_with_retry_after(api: Api) -> None:
    now = [1000.0]
    api.app.state.auth = AuthPolicy(
        failures=FailureLimiter(limit=10, window_s=300), clock=lambda: now[0]
    )
    for i in range(10):
        response = await api.client.get("/agents", headers=bearer(f"guess-{i}"))
        assert response.status_code == 401
        now[0] += 1

    blocked = await api.client.get("/agents", headers=bearer("guess-10"))

    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) == 300 - 10
    # Even a good token learns nothing from this address until the window moves on.
    assert (await api.client.get("/agents", headers=api.auth("admin"))).status_code == 429
    now[0] += 291
    assert (await api.client.get("/agents", headers=api.auth("admin"))).status_code == 200


async def test_missing_tokens_do_not_count_as_failures(api: Api) -> None:
    api.app.state.auth = AuthPolicy(failures=FailureLimiter(limit=2, window_s=300))
    for _ in range(5):
        assert (await api.client.get("/agents")).status_code == 401
    assert (await api.client.get("/agents", headers=api.auth("admin"))).status_code == 200


# -- passwords over REST (the /admin page's users tab) ------------------------------------------


async def test_an_admin_creates_a_user_with_a_generated_password_shown_once(api: Api) -> None:
    from tests.api.test_auth_login import cookie_value, login

    admin = api.auth("admin")
    created = await api.client.post(
        "/users",
        json={"name": "Trần Giám Sát", "role": "supervisor", "generate_password": True},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    password = created.json()["password"]
    assert len(password) >= 10
    assert "password" not in (await api.client.get("/users", headers=admin)).text
    assert (await login(api, "Trần Giám Sát", password)).status_code == 200

    typed = await api.client.post(
        "/users",
        json={"name": "Lê Gõ Tay", "role": "supervisor", "password": "mật-khẩu-gõ-tay"},
        headers=admin,
    )
    assert typed.status_code == 201 and typed.json()["password"] is None
    session = cookie_value(await login(api, "Lê Gõ Tay", "mật-khẩu-gõ-tay"))
    assert session


async def test_a_bad_password_is_refused_and_no_user_is_made(api: Api) -> None:
    admin = api.auth("admin")
    for body, words in (
        ({"password": "ngắn"}, "too short"),
        ({"password": "Người Mới Tên Dài"}, "user name"),
        ({"password": "mật-khẩu-đủ-dài", "generate_password": True}, "not both"),
    ):
        response = await api.client.post(
            "/users", json={"name": "Người Mới Tên Dài", "role": "admin", **body}, headers=admin
        )
        assert response.status_code == 422 and words in response.text, response.text
    assert "Người Mới Tên Dài" not in (await api.client.get("/users", headers=admin)).text


async def test_a_password_reset_ends_web_sessions_and_keeps_script_tokens(api: Api) -> None:
    from api.auth import SESSION_COOKIE
    from tests.api.test_auth_login import SAME_ORIGIN, cookie_value, login

    user, token = await create_user(api.db, name="Quên Mật Khẩu", role="supervisor")
    admin = api.auth("admin")
    first = await api.client.post(f"/users/{user.id}/password", json={}, headers=admin)
    assert first.status_code == 200, first.text
    old = first.json()["password"]
    session = cookie_value(await login(api, "Quên Mật Khẩu", old))

    second = await api.client.post(f"/users/{user.id}/password", json={}, headers=admin)

    new = second.json()["password"]
    assert new != old and second.json()["sessions_ended"] is True
    assert (await login(api, "Quên Mật Khẩu", old)).status_code == 401
    assert (await login(api, "Quên Mật Khẩu", new)).status_code == 200
    me = await api.client.get(
        "/auth/me", headers={"Cookie": f"{SESSION_COOKIE}={session}", **SAME_ORIGIN}
    )
    assert me.status_code == 401
    assert (await api.client.get("/agents", headers=bearer(token))).status_code == 200
    typed = await api.client.post(
        f"/users/{user.id}/password", json={"password": "ngắn"}, headers=admin
    )
    assert typed.status_code == 422 and "too short" in typed.json()["detail"]
    missing = await api.client.post("/users/999999/password", json={}, headers=admin)
    assert missing.status_code == 404


# -- supervisors manage agent and team users, never staff -------------------------------------

STAFF_ONLY = "Supervisors manage agent and team users only"


async def test_a_supervisor_manages_the_sign_ins_of_agents_and_teams(api: Api) -> None:
    from tests.api.test_auth_login import login

    supervisor = api.auth("supervisor")
    teams = await api.client.get("/teams", headers=supervisor)
    team_id = teams.json()["items"][0]["id"]
    created = await api.client.post(
        "/users",
        json={
            "name": "Ca Sáng",
            "role": "agent",
            "agent_id": api.agent_ids["agent02"],
            "generate_password": True,
        },
        headers=supervisor,
    )
    assert created.status_code == 201, created.text
    user_id, token = created.json()["user"]["id"], created.json()["token"]["token"]
    assert (await login(api, "Ca Sáng", created.json()["password"])).status_code == 200
    team = await api.client.post(
        "/users", json={"name": "Đội Sáng", "role": "team", "team_id": team_id}, headers=supervisor
    )
    assert team.status_code == 201, team.text
    # The list shows everyone, staff included (read-only for a supervisor).
    names = {u["name"] for u in (await api.client.get("/users", headers=supervisor)).json()}
    assert {"Ca Sáng", "Đội Sáng", "admin user", "supervisor user"} <= names

    reset = await api.client.post(f"/users/{user_id}/password", json={}, headers=supervisor)
    assert reset.status_code == 200
    assert (await login(api, "Ca Sáng", reset.json()["password"])).status_code == 200
    off = await api.client.post(f"/users/{user_id}/deactivate", headers=supervisor)
    assert off.status_code == 200 and off.json()["active"] is False
    assert (await api.client.get("/agents", headers=bearer(token))).status_code == 401
    on = await api.client.post(f"/users/{user_id}/reactivate", headers=supervisor)
    assert on.status_code == 200 and on.json()["active"] is True
    issued = await api.client.post(
        f"/users/{user_id}/tokens", json={"label": "máy 2"}, headers=supervisor
    )
    assert issued.status_code == 201
    tokens = (await api.client.get(f"/users/{user_id}/tokens", headers=supervisor)).json()
    assert {"initial", "máy 2"} <= {t["label"] for t in tokens if t["revoked_at"] is None}
    revoked = await api.client.post(
        f"/users/{user_id}/tokens/{issued.json()['id']}/revoke", headers=supervisor
    )
    assert revoked.status_code == 200
    assert (
        await api.client.get("/agents", headers=bearer(issued.json()["token"]))
    ).status_code == 401
    assert (await api.client.get("/agents", headers=bearer(token))).status_code == 200


async def test_a_supervisor_may_neither_create_nor_touch_supervisors_and_admins(
    api: Api,
) -> None:
    supervisor = api.auth("supervisor")
    for role in ("supervisor", "admin"):
        response = await api.client.post(
            "/users",
            json={"name": f"Lên chức {role}", "role": role, "generate_password": True},
            headers=supervisor,
        )
        assert response.status_code == 403 and STAFF_ONLY in response.text, response.text
    names = {u["name"] for u in (await api.client.get("/users", headers=api.auth("admin"))).json()}
    assert not {n for n in names if n.startswith("Lên chức")}

    colleague, colleague_token = await create_user(api.db, name="Đồng Nghiệp", role="supervisor")
    boss, boss_token = await create_user(api.db, name="Quản Trị Viên", role="admin")
    me = next(
        u
        for u in (await api.client.get("/users", headers=supervisor)).json()
        if u["name"] == "supervisor user"
    )
    for user_id, token in ((colleague.id, colleague_token), (boss.id, boss_token)):
        [row] = (await api.client.get(f"/users/{user_id}/tokens", headers=api.auth("admin"))).json()
        for method, path, body in (
            ("POST", f"/users/{user_id}/password", {}),
            ("POST", f"/users/{user_id}/password", {"password": "mật-khẩu-mới-dài"}),
            ("POST", f"/users/{user_id}/deactivate", None),
            ("POST", f"/users/{user_id}/reactivate", None),
            ("GET", f"/users/{user_id}/tokens", None),
            ("POST", f"/users/{user_id}/tokens", {"label": "chiếm quyền"}),
            ("POST", f"/users/{user_id}/tokens/{row['id']}/revoke", None),
        ):
            response = await api.client.request(method, path, json=body, headers=supervisor)
            assert response.status_code == 403, f"{method} {path}: {response.text}"
            assert STAFF_ONLY in response.json()["detail"]
        # Reading one is allowed (what the list shows); their token still works, untouched.
        assert (await api.client.get(f"/users/{user_id}", headers=supervisor)).status_code == 200
        assert (await api.client.get("/agents", headers=bearer(token))).status_code == 200
        after = await api.client.get(f"/users/{user_id}/tokens", headers=api.auth("admin"))
        assert [t["revoked_at"] for t in after.json()] == [None]
    # Themself too: a supervisor is staff (an administrator gets 409 for themself instead).
    own = await api.client.post(f"/users/{me['id']}/deactivate", headers=supervisor)
    assert own.status_code == 403 and STAFF_ONLY in own.text
    # An administrator still manages supervisors.
    admin_reset = await api.client.post(
        f"/users/{colleague.id}/password", json={}, headers=api.auth("admin")
    )
    assert admin_reset.status_code == 200
