"""/agents: listing, and login/logout through AgentControl with its failures."""

from __future__ import annotations

import pytest

from tests.api.support import Api


async def test_supervisor_lists_every_agent(api: Api) -> None:
    response = await api.client.get("/agents", headers=api.auth("supervisor"))

    assert response.status_code == 200
    assert [(a["endpoint"], a["name"], a["logged_in"]) for a in response.json()] == [
        ("agent01", "Tổng đài viên 01", False),
        ("agent02", "Tổng đài viên 02", False),
        ("agent03", "Tổng đài viên 03", False),
    ]
    first = response.json()[0]
    assert set(first) == {
        "id", "endpoint", "name", "active", "home_district", "skills", "logged_in",
        "logged_in_at", "paused", "pause_reason", "paused_at", "state", "state_since", "call",
    }  # fmt: skip
    # Seeded agents can take every category at proficiency 3; nothing runs, so logged out.
    assert first["skills"] == {"food": 3, "general": 3, "medical": 3, "violation": 3}
    assert (first["state"], first["home_district"]) == ("logged_out", None)


async def test_agent_lists_only_themself(api: Api) -> None:
    response = await api.client.get("/agents", headers=api.auth("agent"))

    assert [a["endpoint"] for a in response.json()] == ["agent01"]


async def test_agent_logs_in_and_out_as_themself(api: Api) -> None:
    own = api.agent_ids["agent01"]

    login = await api.client.post(f"/agents/{own}/login", headers=api.auth("agent"))

    assert login.status_code == 200
    assert login.json()["logged_in"] is True
    assert login.json()["logged_in_at"].endswith("Z")
    logout = await api.client.post(f"/agents/{own}/logout", headers=api.auth("agent"))
    assert (logout.status_code, logout.json()["logged_in"]) == (200, False)
    assert api.control.requests == [("login", own), ("logout", own)]


@pytest.mark.parametrize(("action", "verb"), [("login", "log in"), ("logout", "log out")])
async def test_agent_may_not_switch_another_agent(api: Api, action: str, verb: str) -> None:
    other = api.agent_ids["agent02"]

    response = await api.client.post(f"/agents/{other}/{action}", headers=api.auth("agent"))

    assert response.status_code == 403
    assert response.json() == {"detail": f"An agent may {verb} only as themself"}
    assert api.control.requests == []


@pytest.mark.parametrize("role", ["supervisor", "admin"])
async def test_supervisor_and_admin_switch_any_agent(api: Api, role: str) -> None:
    other = api.agent_ids["agent03"]

    response = await api.client.post(f"/agents/{other}/login", headers=api.auth(role))

    assert (response.status_code, response.json()["endpoint"]) == (200, "agent03")
    assert response.json()["logged_in"] is True


async def test_unknown_agent_is_404(api: Api) -> None:
    response = await api.client.post("/agents/999/login", headers=api.auth("supervisor"))

    assert response.status_code == 404
    assert response.json() == {"detail": "Agent 999 not found"}


@pytest.mark.parametrize(("action", "word"), [("login", "in"), ("logout", "out")])
async def test_asterisk_down_is_503_and_changes_nothing(api: Api, action: str, word: str) -> None:
    own = api.agent_ids["agent01"]
    api.control.unavailable = True

    response = await api.client.post(f"/agents/{own}/{action}", headers=api.auth("agent"))

    assert response.status_code == 503
    assert response.json() == {"detail": f"Asterisk did not answer; could not log {word} the agent"}
    listed = await api.client.get("/agents", headers=api.auth("agent"))
    assert listed.json()[0]["logged_in"] is False


async def test_supervisor_creates_an_agent_with_skills_and_a_home_district(api: Api) -> None:
    body = {
        "endpoint": "agent21",
        "name": "Trần Thị Mai",
        "home_district": 718,
        "skills": {"medical": 5, "aid": 2},
    }
    created = await api.client.post("/agents", json=body, headers=api.auth("supervisor"))
    assert created.status_code == 201, created.text
    agent = created.json()
    assert agent["skills"] == {"medical": 5, "food": 2}  # "aid" is the food category
    assert (agent["home_district"], agent["active"], agent["logged_in"]) == (718, True, False)
    again = await api.client.post("/agents", json=body, headers=api.auth("admin"))
    assert again.status_code == 409 and "agent21" in again.json()["detail"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"endpoint": "agent22", "name": "A", "skills": {"cooking": 3}}, "should be 'medical'"),
        ({"endpoint": "agent22", "name": "A", "skills": {"medical": 6}}, "less than or equal to 5"),
        ({"endpoint": "Agent 22", "name": "A"}, "endpoint: an endpoint must be 2 to 40"),
        ({"endpoint": "agent22", "name": "A", "home_district": 9999}, "unknown home district"),
    ],
)
async def test_bad_agent_is_refused_clearly(
    api: Api, body: dict[str, object], message: str
) -> None:
    response = await api.client.post("/agents", json=body, headers=api.auth("admin"))
    assert response.status_code == 422
    assert message in response.text


async def test_editing_skills_reaches_the_queues_at_once(api: Api) -> None:
    own = api.agent_ids["agent02"]
    response = await api.client.patch(
        f"/agents/{own}",
        json={"skills": {"violation": 4, "information": 1}, "home_district": 724},
        headers=api.auth("supervisor"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["skills"] == {"general": 1, "violation": 4}
    assert response.json()["home_district"] == 724
    assert ("apply_skills", own) in api.control.requests
    # A name change alone does not touch Asterisk.
    api.control.requests.clear()
    response = await api.client.patch(
        f"/agents/{own}", json={"name": "Lê Văn Bình"}, headers=api.auth("supervisor")
    )
    assert response.json()["name"] == "Lê Văn Bình" and api.control.requests == []
    cleared = await api.client.patch(
        f"/agents/{own}", json={"clear_home_district": True}, headers=api.auth("admin")
    )
    assert cleared.json()["home_district"] is None


async def test_skills_saved_but_asterisk_down_says_so(api: Api) -> None:
    api.control.unavailable = True
    own = api.agent_ids["agent02"]
    response = await api.client.patch(
        f"/agents/{own}", json={"skills": {"medical": 2}}, headers=api.auth("admin")
    )
    assert response.status_code == 503 and "Saved" in response.json()["detail"]
    listed = await api.client.get("/agents", headers=api.auth("admin"))
    assert next(a for a in listed.json() if a["id"] == own)["skills"] == {"medical": 2}


async def test_pause_with_a_reason_and_unpause(api: Api) -> None:
    own = api.agent_ids["agent01"]
    reasons = await api.client.get("/agents/pause-reasons", headers=api.auth("agent"))
    assert reasons.json() == {"break": "Nghỉ giải lao", "meal": "Nghỉ ăn"}
    bad = await api.client.post(
        f"/agents/{own}/pause", json={"reason": "nap"}, headers=api.auth("agent")
    )
    assert bad.status_code == 422 and "nap" in bad.json()["detail"]
    paused = await api.client.post(
        f"/agents/{own}/pause", json={"reason": "meal"}, headers=api.auth("agent")
    )
    assert (paused.json()["paused"], paused.json()["pause_reason"]) == (True, "meal")
    other = await api.client.post(
        f"/agents/{api.agent_ids['agent02']}/pause",
        json={"reason": "meal"},
        headers=api.auth("agent"),
    )
    assert other.status_code == 403
    unpaused = await api.client.post(f"/agents/{own}/unpause", headers=api.auth("agent"))
    assert unpaused.json()["paused"] is False


async def test_the_service_is_told_who_asked(api: Api) -> None:
    """Its log line says "by user <name>", as the phone's says "by phone"."""
    own = api.agent_ids["agent01"]
    for path in ("login", "logout"):
        response = await api.client.post(f"/agents/{own}/{path}", headers=api.auth("agent"))
        assert response.status_code == 200, response.text
    await api.client.post(
        f"/agents/{own}/pause", json={"reason": "meal"}, headers=api.auth("admin")
    )
    await api.client.post(f"/agents/{own}/unpause", headers=api.auth("admin"))
    assert api.control.by == ["user Đỗ Thị Agent"] * 2 + ["user admin user"] * 2


async def test_routing_policy_is_readable(api: Api) -> None:
    response = await api.client.get("/routing", headers=api.auth("supervisor"))
    assert response.status_code == 200
    table = response.json()
    assert table["queues"][0]["queue"] == "emergency"
    assert [r["after_s"] for r in table["rules"]["widen"]] == [0, 30, 90]
