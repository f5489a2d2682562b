"""GET /queues: the live view, as LiveQueueView reports it."""

from __future__ import annotations

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
            "estimated_wait_s": 90.0,
            "callbacks_pending": 1,
        },
        {
            "name": "q-general",
            "category": "general",
            "waiting": 0,
            "longest_wait_s": 0.0,
            "logged_in_agents": [],
            "estimated_wait_s": None,
            "callbacks_pending": 0,
        },
    ]


async def test_empty_when_no_queue_is_known(api: Api) -> None:
    response = await api.client.get("/queues", headers=api.auth("supervisor"))

    assert (response.status_code, response.json()) == (200, [])
