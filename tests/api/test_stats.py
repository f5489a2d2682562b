"""``GET /stats/queues`` and ``GET /stats/agents`` on the recorded day (figures by hand in
tests/stats/recorded_day.py and tests/stats/test_history.py), their access and 422s."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.app import create_app
from stats.rollups import rebuild
from tests.api.support import Api, FakeAgentControl, FakeQueueView
from tests.stats.recorded_day import DAY, NOW, load_recorded_day

NEXT_DAY = DAY + timedelta(days=1)
THE_DAY = {"since": "2024-05-01T00:00:00+07:00", "until": "2024-05-02T00:00:00+07:00"}


@pytest.fixture
async def day(api: Api) -> dict[str, int]:
    ids = await load_recorded_day(api.db)
    await rebuild(api.db, DAY, NEXT_DAY, now=NOW)
    return ids


async def get(api: Api, path: str, who: str = "supervisor", **params: Any) -> Any:
    response = await api.client.get(path, params=params, headers=api.auth(who))
    assert response.status_code == 200, response.text
    return response.json()


async def refused(api: Api, path: str, who: str = "supervisor", **params: Any) -> Any:
    response = await api.client.get(path, params=params, headers=api.auth(who))
    assert response.status_code == 422, response.text
    return response.json()["detail"]


async def test_the_day_per_category(api: Api, day: dict[str, int]) -> None:
    body = await get(api, "/stats/queues", interval="day", **THE_DAY)

    assert (body["since"], body["until"]) == ("2024-04-30T17:00:00Z", "2024-05-01T17:00:00Z")
    assert (body["interval"], body["by"]) == ("day", "category")
    rows = {row["category"]: row for row in body["rows"]}
    assert list(rows) == ["medical", "food", "violation", "general"]
    medical = rows["medical"]
    assert medical["label"] == "2024-05-01"
    assert (medical["start"], medical["end"]) == ("2024-04-30T17:00:00Z", "2024-05-01T17:00:00Z")
    assert {k: medical[k] for k in ("offered", "answered", "abandoned", "short_abandoned")} == {
        "offered": 9,
        "answered": 6,
        "abandoned": 2,
        "short_abandoned": 1,
    }
    assert (medical["repeats"], medical["callbacks"], medical["queue"]) == (1, 0, None)
    assert medical["service_levels"] == [
        {"seconds": 15, "answered_within": 3, "value": 0.375},
        {"seconds": 20, "answered_within": 5, "value": 0.625},
    ]
    assert medical["asa_s"] == pytest.approx(102.5 / 6)
    assert medical["aht_s"] == pytest.approx(845 / 6)
    assert medical["longest_wait_s"] == 30
    assert rows["food"]["service_levels"] == [
        {"seconds": 20, "answered_within": 2, "value": pytest.approx(2 / 7)}
    ]
    assert rows["food"]["callbacks"] == 1


async def test_all_categories_with_chosen_thresholds_and_by_queue(
    api: Api, day: dict[str, int]
) -> None:
    body = await get(api, "/stats/queues", interval="day", by="all", thresholds="20,10", **THE_DAY)

    (row,) = body["rows"]
    assert (row["category"], row["offered"], row["answered"]) == (None, 21, 13)
    assert [(sl["seconds"], sl["answered_within"]) for sl in row["service_levels"]] == [
        (10, 5),
        (20, 9),
    ]

    body = await get(
        api, "/stats/queues", interval="day", by="queue", category="medical", **THE_DAY
    )
    assert [(r["queue"], r["offered"]) for r in body["rows"]] == [
        ("emergency", 2),
        ("medical", 6),
        ("medical-718", 1),
    ]


async def test_quarter_hours_at_the_08_15_edge(api: Api, day: dict[str, int]) -> None:
    body = await get(
        api,
        "/stats/queues",
        interval="15m",
        category="medical",
        since="2024-05-01T08:00:00+07:00",
        until="2024-05-01T08:20:00+07:00",  # widened to 08:30
    )

    assert body["until"] == "2024-05-01T01:30:00Z"
    assert [(r["label"], r["offered"], r["abandoned"]) for r in body["rows"]] == [
        ("2024-05-01 08:00", 4, 1),
        ("2024-05-01 08:15", 2, 0),
    ]


async def test_settings_thresholds_are_the_default(api: Api, day: dict[str, int]) -> None:
    app = create_app(
        db=api.db,
        agents=FakeAgentControl(api.db),
        queues=FakeQueueView(),
        ami_status=dict,
        sl_thresholds={"food": [10, 30], "*": [15]},
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        response = await client.get(
            "/stats/queues", params={"interval": "day", **THE_DAY}, headers=api.auth("supervisor")
        )

    body = response.json()
    levels = {r["category"]: [sl["seconds"] for sl in r["service_levels"]] for r in body["rows"]}
    assert levels == {"medical": [15], "food": [10, 30], "violation": [15], "general": [15]}


async def test_agents_see_only_themselves(api: Api, day: dict[str, int]) -> None:
    body = await get(api, "/stats/agents", who="agent", interval="day", **THE_DAY)

    (own,) = body["rows"]
    assert (own["endpoint"], own["answered"], own["logged_in_s"]) == ("agent01", 3, 7200)
    assert own["paused_by_reason"] == {"break": 900, "meal": 2700}
    assert own["occupancy"] == pytest.approx(431 / 3600)

    response = await api.client.get(
        "/stats/agents", params={"agent_id": day["agent02"]}, headers=api.auth("agent")
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "An agent may read only their own statistics"}

    body = await get(api, "/stats/agents", interval="day", agent_id=day["agent02"], **THE_DAY)
    (other,) = body["rows"]
    assert (other["endpoint"], other["answered"], other["talk_s"]) == ("agent02", 4, 390)

    body = await get(api, "/stats/agents", interval="day", **THE_DAY)
    assert [r["endpoint"] for r in body["rows"]] == ["agent01", "agent02", "agent03"]


async def test_defaults_are_today_by_hour(api: Api) -> None:
    body = await get(api, "/stats/queues")

    assert body["interval"] == "hour"
    assert body["since"].endswith("T17:00:00Z")
    assert {r["offered"] for r in body["rows"]} == {0}
    assert (await get(api, "/stats/agents"))["rows"] == []


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        (
            "/stats/queues",
            {"since": "2024-05-02T00:00:00+07:00", "until": "2024-05-01T00:00:00+07:00"},
            "until: must be after since",
        ),
        (
            "/stats/agents",
            {"since": "2024-01-01", "until": "2024-03-05", "interval": "hour"},
            "range too big for interval=hour: 64 days, at most 62 (use interval=day)",
        ),
        (
            "/stats/queues",
            {"since": "2024-01-01", "until": "2024-01-09", "interval": "15m"},
            "range too big for interval=15m: 8 days, at most 7 (use interval=hour or day)",
        ),
        ("/stats/queues", {"thresholds": "15,31"}, "thresholds: expected whole seconds"),
        ("/stats/queues", {"thresholds": "fast"}, "thresholds: expected whole seconds"),
    ],
)
async def test_parameters_it_cannot_answer(
    api: Api, path: str, params: dict[str, str], message: str
) -> None:
    detail = await refused(api, path, **params)

    assert detail.startswith(message)


async def test_unknown_interval_names_the_ones_there_are(api: Api) -> None:
    response = await api.client.get(
        "/stats/queues", params={"interval": "week"}, headers=api.auth("supervisor")
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]

    assert error["loc"] == ["query", "interval"]
    assert error["msg"] == "Input should be '15m', 'hour' or 'day'"


async def test_openapi_carries_the_definitions(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()

    queues = doc["paths"]["/stats/queues"]["get"]["description"]
    assert "(offered − short_abandoned)" in queues
    assert "5 s or more" in queues
    assert "Tiếng Việt" in queues
    agents = doc["paths"]["/stats/agents"]["get"]["description"]
    assert "(ringing + talk + wrap-up) / (logged-in − paused)" in agents
