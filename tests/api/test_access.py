"""Who may call what: every route of the app, with every role, no token and bad tokens.

The table below is the access policy. A route added to the app without a row here fails
the test, so nobody ships a route without deciding who may call it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from starlette.routing import BaseRoute

from api.deps import require_roles
from dispatch.outcomes import OutcomeRequest
from dispatch.ports import Actor
from store.models import Agent
from store.users import create_user, list_tokens
from tests.api.support import Api
from tests.dispatch.tree import small_tree

PRINCIPALS = (
    "anonymous",
    "bad_token",
    "revoked",
    "inactive",
    "agent",
    "supervisor",
    "team",
    "admin",
)

OPEN = dict.fromkeys(PRINCIPALS, 200)


def guarded(*allowed: str) -> dict[str, int]:
    """401 without a valid token, 2xx for ``allowed`` roles, 403 for the other roles."""
    expected = {"anonymous": 401, "bad_token": 401, "revoked": 401, "inactive": 401}
    for role in ("agent", "supervisor", "team", "admin"):
        expected[role] = 200 if role in allowed else 403
    return expected


STAFF = ("agent", "supervisor", "admin")
SUPERVISORS = ("supervisor", "admin")
EVERYONE = ("agent", "supervisor", "team", "admin")

NO_CONTENT = dict.fromkeys(SUPERVISORS, 204)
COMMANDERS = ("supervisor", "team", "admin")
NO_CONFERENCES = {**guarded(*COMMANDERS), **dict.fromkeys(COMMANDERS, 503)}
NO_FILE = dict.fromkeys(SUPERVISORS, 404)
# Recordings and coaching: the api fixture runs neither service, so a role let through gets
# the documented 503 (the routes for real: tests/api/test_recordings.py, test_coaching.py).
# Agents read recordings only where HOTLINE_RECORDING_AGENT_MAY_LISTEN is on (off here).
NO_RECORDINGS = {**guarded(*SUPERVISORS), **dict.fromkeys(SUPERVISORS, 503)}
NO_PAUSING = {**guarded(*STAFF), **dict.fromkeys(STAFF, 503)}
NO_COACHING = NO_RECORDINGS

EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/openapi.json"): OPEN,
    ("HEAD", "/openapi.json"): OPEN,
    ("GET", "/docs"): OPEN,
    ("HEAD", "/docs"): OPEN,
    ("GET", "/docs/oauth2-redirect"): OPEN,
    ("HEAD", "/docs/oauth2-redirect"): OPEN,
    ("GET", "/redoc"): OPEN,
    ("HEAD", "/redoc"): OPEN,
    ("GET", "/health"): OPEN,
    ("GET", "/calls"): guarded(*STAFF),
    ("GET", "/calls/{call_id}"): guarded(*STAFF),
    ("GET", "/queues"): guarded(*STAFF),
    ("GET", "/agents"): guarded(*STAFF),
    ("POST", "/agents/{agent_id}/login"): guarded(*STAFF),
    ("POST", "/agents/{agent_id}/logout"): guarded(*STAFF),
    ("POST", "/agents/{agent_id}/pause"): guarded(*STAFF),
    ("POST", "/agents/{agent_id}/unpause"): guarded(*STAFF),
    ("GET", "/agents/pause-reasons"): guarded(*STAFF),
    ("GET", "/pause-reasons"): guarded(*SUPERVISORS),
    ("POST", "/pause-reasons"): {**guarded(*SUPERVISORS), "supervisor": 201, "admin": 201},
    ("PATCH", "/pause-reasons/{code}"): guarded(*SUPERVISORS),
    ("POST", "/agents"): {**guarded(*SUPERVISORS), "supervisor": 201, "admin": 201},
    ("PATCH", "/agents/{agent_id}"): guarded(*SUPERVISORS),
    ("GET", "/routing"): guarded(*STAFF),
    ("GET", "/places"): guarded(*EVERYONE),
    ("GET", "/places/{place_id}"): guarded(*EVERYONE),
    ("GET", "/teams"): guarded(*EVERYONE),
    ("GET", "/teams/{team_id}"): guarded(*EVERYONE),
    ("POST", "/teams"): {**guarded(*SUPERVISORS), "supervisor": 201, "admin": 201},
    ("PATCH", "/teams/{team_id}"): guarded(*SUPERVISORS),
    ("GET", "/ivr/stats"): guarded(*SUPERVISORS),
    ("GET", "/ivr/announcements"): guarded(*SUPERVISORS),
    ("PUT", "/ivr/announcements/{name}"): guarded(*SUPERVISORS),
    ("POST", "/ivr/reload"): guarded(*SUPERVISORS),
    ("POST", "/ivr/announcements/{name}/draft"): guarded(*SUPERVISORS),
    ("POST", "/ivr/announcements/{name}/draft/publish"): guarded(*SUPERVISORS),
    ("DELETE", "/ivr/announcements/{name}/draft"): {**guarded(*SUPERVISORS), **NO_CONTENT},
    ("POST", "/ivr/announcements/{name}/revert"): guarded(*SUPERVISORS),
    # The api fixture's fake IVR has no sound files: past the role check, 404.
    ("GET", "/ivr/announcements/{name}/draft.wav"): {**guarded(*SUPERVISORS), **NO_FILE},
    ("GET", "/ivr/announcements/{name}/audio.wav"): {**guarded(*SUPERVISORS), **NO_FILE},
    ("GET", "/staffing"): guarded(*SUPERVISORS),
    ("GET", "/stats/queues"): guarded(*SUPERVISORS),
    ("GET", "/stats/agents"): guarded(*STAFF),
    ("GET", "/callbacks"): guarded(*SUPERVISORS),
    ("POST", "/callbacks/{callback_id}/cancel"): guarded(*SUPERVISORS),
    # The call has no outcome when GET runs (404 once the role is let through); a call has
    # one outcome: the first allowed role records it, the next are told it has one.
    ("GET", "/calls/{call_id}/outcome"): {**guarded(*STAFF), **dict.fromkeys(STAFF, 404)},
    ("POST", "/calls/{call_id}/outcome"): {
        **guarded(*STAFF),
        "agent": 201,
        "supervisor": 409,
        "admin": 409,
    },
    # The fixture's team sits at a test place of its own: the incident is not under it, so
    # for that team it does not exist (404, as api/deps.py says). The agent took its call.
    ("GET", "/incidents/{incident_id}"): {**guarded(*STAFF, "team"), "team": 404},
    # What each may do to it: as for reading it (the agent reads an empty set of actions).
    ("GET", "/incidents/{incident_id}/actions"): {**guarded(*STAFF, "team"), "team": 404},
    # The fixture's team user may not even read the incident: 404 there too.
    # The supervisor acknowledges it; the admin then finds it acknowledged (409).
    ("POST", "/incidents/{incident_id}/acknowledge"): {
        **guarded(*SUPERVISORS, "team"),
        "team": 404,
        "admin": 409,
    },
    # The supervisor re-assigns it to the district's team; the admin finds it there already.
    ("POST", "/incidents/{incident_id}/assign"): {
        **guarded(*SUPERVISORS, "team"),
        "team": 404,
        "admin": 409,
    },
    # The supervisor cancels it; the admin finds it closed.
    ("POST", "/incidents/{incident_id}/transitions"): {
        **guarded(*SUPERVISORS, "team"),
        "team": 404,
        "admin": 409,
    },
    # A team user sees what lies under its team's place (tests/api/test_monitoring.py).
    ("GET", "/monitoring/incidents"): guarded(*SUPERVISORS, "team"),
    ("GET", "/wallboard/data"): guarded(*SUPERVISORS),
    ("GET", "/monitoring/summary"): guarded(*SUPERVISORS, "team"),
    ("GET", "/monitoring/teams"): guarded(*SUPERVISORS, "team"),
    ("GET", "/monitoring/districts"): guarded(*SUPERVISORS, "team"),
    ("GET", "/reports/export"): guarded(*SUPERVISORS),
    # Supervisors manage agent and team users (the target below is a team user); on a
    # supervisor or an administrator they get 403 (tests/api/test_users.py).
    ("GET", "/users"): guarded(*SUPERVISORS),
    ("POST", "/users"): {**guarded(*SUPERVISORS), "supervisor": 201, "admin": 201},
    ("GET", "/users/{user_id}"): guarded(*SUPERVISORS),
    ("POST", "/users/{user_id}/deactivate"): guarded(*SUPERVISORS),
    ("POST", "/users/{user_id}/reactivate"): guarded(*SUPERVISORS),
    ("POST", "/users/{user_id}/password"): guarded(*SUPERVISORS),
    ("GET", "/users/{user_id}/tokens"): guarded(*SUPERVISORS),
    ("POST", "/users/{user_id}/tokens"): {**guarded(*SUPERVISORS), "supervisor": 201, "admin": 201},
    ("POST", "/users/{user_id}/tokens/{token_id}/revoke"): guarded(*SUPERVISORS),
    # Open: a name and a password, whoever calls; the body below is wrong for everyone
    # (tests/api/test_auth_login.py signs in for real).
    ("POST", "/auth/login"): dict.fromkeys(PRINCIPALS, 401),
    # Acts on the session cookie only: without one there is nothing to end, for anyone.
    ("POST", "/auth/logout"): dict.fromkeys(PRINCIPALS, 204),
    ("GET", "/auth/me"): guarded(*EVERYONE),
    # Every role may watch; the api fixture runs no live feed, so a valid token gets the
    # documented 503 here (the stream itself, per role: tests/api/test_events.py).
    ("GET", "/events"): {**guarded(*EVERYONE), **dict.fromkeys(EVERYONE, 503)},
    # The command conference: the api fixture runs no conference service, so a role that
    # may lead one gets the documented 503 (a team that is no center: 403 from the service,
    # tests/api/test_conferences.py, which also runs the routes for real).
    ("GET", "/conferences"): NO_CONFERENCES,
    ("GET", "/conferences/{conference_id}"): NO_CONFERENCES,
    ("GET", "/conferences/{conference_id}/roll"): NO_CONFERENCES,
    ("GET", "/conferences/{conference_id}/actions"): NO_CONFERENCES,
    ("GET", "/conferences/{conference_id}/recording"): NO_CONFERENCES,
    ("POST", "/conferences"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/start"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/end"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/mute-all"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/unmute-all"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/lock"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/unlock"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/record/start"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/record/stop"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/floor/release"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/points/{point_id}/floor"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/points/{point_id}/kick"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/points/{point_id}/redial"): NO_CONFERENCES,
    ("POST", "/conferences/{conference_id}/points/{point_id}/hand/dismiss"): NO_CONFERENCES,
    ("GET", "/recordings"): NO_RECORDINGS,
    ("GET", "/recordings/verify"): NO_RECORDINGS,
    ("GET", "/recordings/{recording_id}"): NO_RECORDINGS,
    ("GET", "/recordings/{recording_id}/audio"): NO_RECORDINGS,
    ("GET", "/recordings/{recording_id}/verify"): NO_RECORDINGS,
    ("GET", "/recordings/{recording_id}/listens"): NO_RECORDINGS,
    ("GET", "/calls/{call_id}/recordings"): NO_RECORDINGS,
    ("POST", "/calls/{call_id}/recording/pause"): NO_PAUSING,
    ("POST", "/calls/{call_id}/recording/resume"): NO_PAUSING,
    ("GET", "/holds"): NO_RECORDINGS,
    ("POST", "/holds"): NO_RECORDINGS,
    ("DELETE", "/holds/{hold_id}"): NO_RECORDINGS,
    ("GET", "/monitor"): NO_COACHING,
    ("POST", "/monitor"): NO_COACHING,
    ("PATCH", "/monitor/{session_id}"): NO_COACHING,
    ("DELETE", "/monitor/{session_id}"): NO_COACHING,
}

# Bodies for the routes that need one, so an allowed caller gets 2xx, not 422.
BODIES: dict[tuple[str, str], Callable[[str], dict[str, object]]] = {
    ("PUT", "/ivr/announcements/{name}"): lambda _: {"text": "Thông tin mới."},
    ("POST", "/ivr/announcements/{name}/draft"): lambda _: {"text": "Bản nháp."},
    ("POST", "/ivr/announcements/{name}/draft/publish"): lambda _: {"draft_id": "fake"},
    ("POST", "/agents/{agent_id}/pause"): lambda _: {"reason": "break"},
    ("POST", "/pause-reasons"): lambda who: {"code": f"new-{who}", "label": f"Lý do {who}"},
    ("PATCH", "/pause-reasons/{code}"): lambda who: {"label": f"Đổi bởi {who}"},
    ("POST", "/agents"): lambda who: {"endpoint": f"new-{who}", "name": f"Mới {who}"},
    ("POST", "/teams"): lambda who: {
        "name": f"Tổ {who}",
        "kind": "team",
        "place_level": "province",
        "place_code": 0,  # the api fixture's own place
        "phones": [{"number": "0912345678"}],
    },
    ("PATCH", "/teams/{team_id}"): lambda who: {"name": f"Tổ sửa bởi {who}"},
    ("PATCH", "/agents/{agent_id}"): lambda _: {"skills": {"medical": 4}},
    ("POST", "/calls/{call_id}/outcome"): lambda _: {"disposition": "advice"},
    ("POST", "/incidents/{incident_id}/acknowledge"): lambda _: {},
    ("POST", "/incidents/{incident_id}/assign"): lambda _: {"team_id": DISTRICT_TEAM[0]},
    ("POST", "/incidents/{incident_id}/transitions"): lambda _: {
        "status": "cancelled",
        "reason": "Kiểm tra quyền",
    },
    ("POST", "/users"): lambda who: {
        "name": f"Người dùng {who}",
        "role": "team",
        "team_id": FIXTURE_TEAM[0],
    },
    ("POST", "/users/{user_id}/tokens"): lambda who: {"label": who},
    ("POST", "/users/{user_id}/password"): lambda _: {},
    ("POST", "/auth/login"): lambda who: {"name": who, "password": "không-đúng-đâu"},
    ("POST", "/holds"): lambda who: {"call_id": 1, "reason": f"Khiếu nại ({who})"},
    ("POST", "/monitor"): lambda _: {"agent_id": 1, "mode": "whisper", "phone": "sup01"},
    ("PATCH", "/monitor/{session_id}"): lambda _: {"mode": "barge"},
}
# The incident's district team, known once the tree is made (the bodies are built later).
DISTRICT_TEAM: list[int] = []
# The api fixture's team, for the team users created and acted on.
FIXTURE_TEAM: list[int] = []


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every endpoint, included routers flattened."""
    routes: list[BaseRoute] = list(app.routes)
    try:  # FastAPI >= 0.13x keeps included routers as nodes; this walks into them
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI copies routes in flat
        pass
    else:
        routes = list(iter_route_contexts(routes))  # type: ignore[arg-type]
    found = set()
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        assert path and methods, f"cannot check route {route!r}: no path or methods"
        found |= {(method, path) for method in methods}
    return found


def headers_for(api: Api, principal: str) -> dict[str, str]:
    if principal == "anonymous":
        return {}
    if principal == "bad_token":
        return {"Authorization": "Bearer this-token-was-never-issued"}
    return api.auth(principal)


async def test_every_route_answers_every_principal_as_the_table_says(api: Api) -> None:
    own_agent = api.agent_ids["agent01"]
    call = await api.add_call(
        uniqueid="1.1", arrived_at=datetime(2024, 5, 1, tzinfo=UTC), agent_id=own_agent
    )
    teams = await api.client.get("/teams", headers=api.auth("admin"))
    team = teams.json()["items"][0]  # the api fixture's test team
    FIXTURE_TEAM[:] = [team["id"]]
    # Cancelling is idempotent: the second allowed role finds it cancelled, and that is 200.
    callback = await api.add_callback()
    tree = await small_tree(api.db)
    DISTRICT_TEAM[:] = [tree.team("team-718").id]
    other_call = await api.add_call(
        uniqueid="1.2", arrived_at=datetime(2024, 5, 1, tzinfo=UTC), agent_id=own_agent
    )
    incident = await api.app.state.services.outcomes.record(
        other_call.id,
        OutcomeRequest("incident", commune_code=25741, category="medical", urgency="urgent"),
        Actor("user:test", role="supervisor"),
    )
    target, _ = await create_user(api.db, name="Người bị thử", role="team", team_id=team["id"])
    [target_token] = await list_tokens(api.db, target.id)
    params = {
        "user_id": target.id,
        "token_id": target_token.id,
        "place_id": team["place"]["id"],
        "team_id": team["id"],
        "call_id": call.id,
        "agent_id": own_agent,
        "name": "info_cases",
        "code": "meal",
        "callback_id": callback.id,
        "incident_id": incident[0].incident_id,
        "conference_id": 1,
        "point_id": 1,
        "recording_id": 1,
        "hold_id": 1,
        "session_id": 1,
    }

    routes = app_routes(api.app)
    assert routes - EXPECTED.keys() == set(), "routes without an access rule in EXPECTED"
    assert EXPECTED.keys() - routes == set(), "rules for routes the app does not have"

    mismatches = []
    for method, path in sorted(routes):
        for principal in PRINCIPALS:
            response = await api.client.request(
                method,
                path.format(**params),
                headers=headers_for(api, principal),
                json=BODIES[(method, path)](principal) if (method, path) in BODIES else None,
            )
            expected = EXPECTED[(method, path)][principal]
            if response.status_code != expected:
                mismatches.append(
                    f"{method} {path} as {principal}: {response.status_code} (want {expected})"
                    f" {response.text[:120]}"
                )
    assert mismatches == []


async def test_missing_token_says_how_to_send_one(api: Api) -> None:
    response = await api.client.get("/calls")

    assert response.status_code == 401
    assert response.json() == {
        "detail": "Missing bearer token: send 'Authorization: Bearer <token>'"
    }
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token-without-scheme"]
)
async def test_other_schemes_and_empty_tokens_count_as_missing(
    api: Api, authorization: str
) -> None:
    response = await api.client.get("/calls", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.json()["detail"].startswith("Missing bearer token")


@pytest.mark.parametrize("who", ["bad_token", "revoked", "inactive"])
async def test_unknown_revoked_and_inactive_tokens_are_invalid(api: Api, who: str) -> None:
    response = await api.client.get("/agents", headers=headers_for(api, who))

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked token"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_wrong_role_names_the_roles_allowed(api: Api) -> None:
    response = await api.client.get("/calls", headers=api.auth("team"))

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Role 'team' may not read call records; allowed roles: agent, supervisor, admin"
    }


async def test_agent_user_whose_agent_is_gone_sees_nothing(api: Api) -> None:
    await api.add_call(uniqueid="1.1", arrived_at=datetime(2024, 5, 1, tzinfo=UTC))
    async with api.db.session() as session:
        await session.execute(delete(Agent).where(Agent.endpoint == "agent01"))
        await session.commit()

    response = await api.client.get("/calls", headers=api.auth("agent"))

    assert response.status_code == 403
    assert "no agent" in response.json()["detail"]


def test_require_roles_refuses_an_unknown_role_at_definition() -> None:
    with pytest.raises(ValueError, match="'superviser' is not a valid Role"):
        require_roles("superviser")
