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
    assert set(response.json()[0]) == {"id", "endpoint", "name", "logged_in", "logged_in_at"}


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
    assert response.json() == {
        "detail": f"Asterisk did not answer; the agent was not logged {word}"
    }
    listed = await api.client.get("/agents", headers=api.auth("agent"))
    assert listed.json()[0]["logged_in"] is False
