"""GET /queues: the live view, as LiveQueueView reports it."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import httpx
from fastapi import FastAPI

from api.schemas import QueueOut, queue_json
from queues.agent_state import AgentLiveState
from queues.ports import QueueView
from tests.api.support import Api


async def test_lists_the_snapshot(api: Api) -> None:
    api.queues.views = [
        QueueView(
            "q-medical",
            "medical",
            2,
            41.5,
            ["agent01", "agent03"],
            estimated_wait_s=90.0,
            callbacks_pending=1,
        ),
        QueueView("q-general", "general", 0, 0.0),
    ]

    response = await api.client.get("/queues", headers=api.auth("agent"))

    assert response.status_code == 200
    assert response.json() == [
        {
            "name": "q-medical",
            "category": "medical",
            "waiting": 2,
            "longest_wait_s": 41.5,
            "logged_in_agents": ["agent01", "agent03"],
            "agents_by_state": {"unknown": 2},  # no agent-state view in this app
            "estimated_wait_s": 90.0,
            "callbacks_pending": 1,
        },
        {
            "name": "q-general",
            "category": "general",
            "waiting": 0,
            "longest_wait_s": 0.0,
            "logged_in_agents": [],
            "agents_by_state": {},
            "estimated_wait_s": None,
            "callbacks_pending": 0,
        },
    ]


async def test_counts_the_members_by_live_state(api: Api) -> None:
    api.queues.views = [QueueView("food-724", "food", 1, 3.0, ["agent01", "agent02", "agent03"])]
    states = {
        "agent01": AgentLiveState("agent01", state="on_call"),
        "agent02": AgentLiveState("agent02", state="paused", reason="meal"),
        "agent03": AgentLiveState("agent03", state="on_call"),
    }

    class View:
        def snapshot(self) -> dict[str, AgentLiveState]:
            return states

    api.app.state.services = replace(api.app.state.services, agent_states=View())
    response = await api.client.get("/queues", headers=api.auth("supervisor"))
    assert response.json()[0]["agents_by_state"] == {"on_call": 2, "paused": 1}


async def test_empty_when_no_queue_is_known(api: Api) -> None:
    response = await api.client.get("/queues", headers=api.auth("supervisor"))

    assert (response.status_code, response.json()) == (200, [])


def _random_views(rng: random.Random, n: int) -> list[QueueView]:
    agents = [f"agent{i:02d}" for i in range(12)]
    return [
        QueueView(
            rng.choice(["medical", "food-724", "emergency", "Hàng đợi ✓"]) + str(i),
            rng.choice(["medical", "food", "violation"]),
            rng.randint(0, 50),
            # An int wait as well as a float: the model makes it a float, so must the JSON.
            rng.choice([0, 7, rng.random() * 600, 1e-7, 123456.789]),
            rng.sample(agents, rng.randint(0, 6)),
            estimated_wait_s=rng.choice([None, 0, 12, rng.random() * 900]),
            callbacks_pending=rng.randint(0, 3),
        )
        for i in range(n)
    ]


def test_the_plain_json_equals_the_models_on_random_views() -> None:
    rng = random.Random(1022)
    states = {
        f"agent{i:02d}": AgentLiveState(
            f"agent{i:02d}", state=rng.choice(["idle", "on_call", "paused", "wrapup"])
        )
        for i in range(0, 12, 2)  # half of them known: the others are "unknown"
    }
    for _ in range(200):
        views = _random_views(rng, rng.randint(0, 5))
        for known in (states, None):
            expected = [QueueOut.from_view(v, known).model_dump(mode="json") for v in views]
            got = [queue_json(v, known) for v in views]
            assert json.dumps(got) == json.dumps(expected)  # the same types, keys and order


async def test_the_route_answers_the_bytes_the_response_model_would(api: Api) -> None:
    api.queues.views = _random_views(random.Random(16), 40)

    response = await api.client.get("/queues", headers=api.auth("agent"))

    # What FastAPI answers for a route returning the models with the same response model.
    reference = FastAPI()

    @reference.get("/queues", response_model=list[QueueOut])
    async def models() -> list[QueueOut]:
        return [QueueOut.from_view(v) for v in api.queues.views]

    transport = httpx.ASGITransport(app=reference)
    async with httpx.AsyncClient(transport=transport, base_url="http://reference") as client:
        expected = await client.get("/queues")
    assert response.content == expected.content
    assert b"1e-7" in response.content  # the draw has a tiny wait: pydantic's float format
    assert response.headers["content-type"] == "application/json"


async def test_the_route_still_checks_who_asks(api: Api) -> None:
    api.queues.views = _random_views(random.Random(3), 2)
    assert (await api.client.get("/queues")).status_code == 401
    assert (await api.client.get("/queues", headers=api.auth("team"))).status_code == 403


async def test_the_documented_schema_is_still_the_model(api: Api) -> None:
    ok = api.app.openapi()["paths"]["/queues"]["get"]["responses"]["200"]
    schema = ok["content"]["application/json"]["schema"]
    assert schema["items"]["$ref"].endswith("/QueueOut")
