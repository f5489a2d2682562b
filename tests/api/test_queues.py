"""GET /queues: the live view, as LiveQueueView reports it."""

from __future__ import annotations

from dataclasses import replace

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
