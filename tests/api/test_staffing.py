"""``GET /staffing``: from a forecast, from the recorded calls, and its 422s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store.models import CallStatus
from tests.api.support import Api


async def get(api: Api, **params: Any) -> Any:
    response = await api.client.get("/staffing", params=params, headers=api.auth("supervisor"))
    assert response.status_code == 200, response.text
    return response.json()


async def test_forecast_15000_a_day_reproduces_the_reference_table(api: Api) -> None:
    body = await get(api, calls_per_day=15000, max_occupancy=1)

    assert body["source"] == "forecast"
    agents = {row["category"]: row["agents"] for row in body["rows"]}
    assert agents == {"medical": 27, "food": 43, "violation": 19}
    (pooled,) = body["pooled"]
    assert pooled["hour"] is None
    assert pooled["calls_per_hour"] == 1500
    assert pooled["load_erlangs"] == 75
    assert pooled["agents"] == 82
    assert pooled["dedicated_agents"] == 89
    assert pooled["service_levels"][0]["percent"] == 80
    assert pooled["service_levels"][0]["predicted"] >= 0.80
    assert pooled["erlang_a"] is None


async def test_forecast_with_nena_targets_occupancy_cap_and_patience(api: Api) -> None:
    body = await get(
        api, calls_per_day=15000, targets="90:15,95:20", max_occupancy=0.85, patience_s=60
    )

    (pooled,) = body["pooled"]
    assert pooled["agents"] == 89  # 86 meets the targets; 75 Erl / 0.85 needs 89
    assert pooled["occupancy"] <= 0.85
    assert [(sl["percent"], sl["seconds"]) for sl in pooled["service_levels"]] == [
        (90, 15),
        (95, 20),
    ]
    assert 0 < pooled["erlang_a"]["p_abandon"] < 0.01
    assert body["targets"] == [{"percent": 90, "seconds": 15}, {"percent": 95, "seconds": 20}]


async def test_forecast_with_a_mix_and_aht(api: Api) -> None:
    body = await get(api, calls_per_day=10000, mix="medical:0.5,food:0.5", aht_s=240)

    assert [(r["category"], r["calls_per_hour"], r["aht_s"]) for r in body["rows"]] == [
        ("medical", 500, 240),
        ("food", 500, 240),
    ]


async def test_recorded_calls_per_category_and_hour_of_day(api: Api) -> None:
    day1 = datetime(2024, 5, 1, tzinfo=UTC)
    n = 0

    async def call(at: datetime, category: str | None, status: str, talk: float | None) -> None:
        nonlocal n
        n += 1
        await api.add_call(
            uniqueid=f"1.{n}", arrived_at=at, category=category, status=status, talk_s=talk
        )

    for day in (0, 1):
        base = day1 + timedelta(days=day)
        # 02:xx UTC is 09:xx in Vietnam
        await call(base + timedelta(hours=2, minutes=5), "medical", CallStatus.ANSWERED, 100)
        await call(base + timedelta(hours=2, minutes=40), "medical", CallStatus.ANSWERED, 140)
        await call(base + timedelta(hours=3, minutes=10), "food", CallStatus.ANSWERED, 300)
    await call(day1 + timedelta(hours=2, minutes=50), "medical", CallStatus.ABANDONED_QUEUE, None)
    # never needed an agent, or outside the window: not counted
    await call(day1 + timedelta(hours=2), "food", CallStatus.SELF_SERVED, None)
    await call(day1 + timedelta(hours=2), None, CallStatus.ABANDONED_IVR, None)
    await call(day1 + timedelta(days=3), "medical", CallStatus.ANSWERED, 999)

    body = await get(api, since="2024-05-01T00:00:00Z", until="2024-05-03T00:00:00Z")

    assert body["source"] == "recorded"
    assert body["days"] == 2
    assert body["calls_per_day"] == 3.5
    rows = [(r["category"], r["hour"], r["calls_per_hour"], r["aht_s"]) for r in body["rows"]]
    assert rows == [("medical", 9, 2.5, 120), ("food", 10, 1.0, 300)]
    assert all(r["agents"] >= 1 for r in body["rows"])
    assert [(p["hour"], p["calls_per_hour"]) for p in body["pooled"]] == [(9, 2.5), (10, 1.0)]

    overridden = await get(
        api, since="2024-05-01T00:00:00Z", until="2024-05-03T00:00:00Z", aht_s=200
    )
    assert {r["aht_s"] for r in overridden["rows"]} == {200}


async def test_recorded_without_calls_is_empty(api: Api) -> None:
    body = await get(api)

    assert body["source"] == "recorded"
    assert body["days"] == 7
    assert body["rows"] == [] and body["pooled"] == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"calls_per_day": 15000, "targets": "90"}, "targets: expected PERCENT:SECONDS"),
        ({"calls_per_day": 15000, "targets": "90:15,120:20"}, "got '90:15,120:20'"),
        ({"calls_per_day": 15000, "mix": "medical:0.3,food:0.5"}, "sum to 1, got 0.8"),
        ({"calls_per_day": 15000, "mix": "ambulance:1"}, "unknown category 'ambulance'"),
        ({"calls_per_day": 15000, "mix": "medical"}, "mix: expected CATEGORY:SHARE"),
        ({"since": "2024-05-02", "until": "2024-05-01"}, "since: must be before until"),
    ],
)
async def test_bad_input_is_422_with_a_message(
    api: Api, params: dict[str, Any], message: str
) -> None:
    response = await api.client.get("/staffing", params=params, headers=api.auth("admin"))

    assert response.status_code == 422
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"max_occupancy": 1.5},
        {"peak_share": 0},
        {"patience_s": -1},
        {"aht_s": 0},
        {"calls_per_day": "many"},
    ],
)
async def test_out_of_range_numbers_are_422(api: Api, params: dict[str, Any]) -> None:
    response = await api.client.get("/staffing", params=params, headers=api.auth("admin"))

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][0] == "query"
