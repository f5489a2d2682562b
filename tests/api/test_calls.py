"""GET /calls and /calls/{id}: filters, paging, what an agent may see, clear 4xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.categories import Category
from store.models import CallStatus, IvrEvent
from tests.api.support import Api

T0 = datetime(2024, 5, 24, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội


async def seed(api: Api) -> None:
    """Eight calls, one an hour from T0; the category, status and agent vary."""
    plan = [
        (Category.MEDICAL, CallStatus.ANSWERED, "agent01"),
        (Category.FOOD, CallStatus.ANSWERED, "agent02"),
        (Category.MEDICAL, CallStatus.ABANDONED_QUEUE, None),
        (Category.VIOLATION, CallStatus.ANSWERED, "agent01"),
        (Category.GENERAL, CallStatus.ABANDONED_IVR, None),
        (Category.MEDICAL, CallStatus.ANSWERED, "agent02"),
        (Category.FOOD, CallStatus.QUEUED, None),
        (Category.MEDICAL, CallStatus.CONNECTED, "agent01"),
    ]
    for hour, (category, status, endpoint) in enumerate(plan):
        await api.add_call(
            uniqueid=f"1716512400.{hour}",
            arrived_at=T0 + timedelta(hours=hour),
            category=category,
            status=status,
            agent_id=api.agent_ids[endpoint] if endpoint else None,
            agent_endpoint=endpoint,
        )


async def uniqueids(api: Api, who: str = "supervisor", **params: str) -> list[str]:
    response = await api.client.get("/calls", params=params, headers=api.auth(who))
    assert response.status_code == 200, response.text
    return [item["uniqueid"] for item in response.json()["items"]]


def ids(*hours: int) -> list[str]:
    return [f"1716512400.{hour}" for hour in hours]


async def test_newest_first_with_total_and_paging(api: Api) -> None:
    await seed(api)

    first = await api.client.get("/calls?limit=3", headers=api.auth("supervisor"))
    second = await api.client.get("/calls?limit=3&offset=3", headers=api.auth("admin"))
    beyond = await api.client.get("/calls?limit=3&offset=8", headers=api.auth("admin"))

    assert first.status_code == second.status_code == beyond.status_code == 200
    assert [i["uniqueid"] for i in first.json()["items"]] == ids(7, 6, 5)
    assert [i["uniqueid"] for i in second.json()["items"]] == ids(4, 3, 2)
    assert {k: first.json()[k] for k in ("total", "limit", "offset")} == {
        "total": 8,
        "limit": 3,
        "offset": 0,
    }
    assert (beyond.json()["items"], beyond.json()["total"]) == ([], 8)


async def test_filters_combine(api: Api) -> None:
    await seed(api)

    assert await uniqueids(api, category="medical") == ids(7, 5, 2, 0)
    assert await uniqueids(api, status="answered") == ids(5, 3, 1, 0)
    assert await uniqueids(api, category="medical", status="answered") == ids(5, 0)
    assert await uniqueids(api, status="abandoned_ivr") == ids(4)


async def test_time_window_is_since_inclusive_until_exclusive(api: Api) -> None:
    await seed(api)

    since = (T0 + timedelta(hours=2)).isoformat()
    until = (T0 + timedelta(hours=5)).isoformat(sep=" ")  # a space separator is ISO too

    assert await uniqueids(api, since=since, until=until) == ids(4, 3, 2)


async def test_times_in_any_offset_and_naive_as_utc(api: Api) -> None:
    await seed(api)
    # 10:00 in Hà Nội = 03:00 UTC = hour 2.
    expected = ids(7, 6, 5, 4, 3, 2)

    assert await uniqueids(api, since="2024-05-24T10:00:00+07:00") == expected
    assert await uniqueids(api, since="2024-05-24T03:00:00Z") == expected
    assert await uniqueids(api, since="2024-05-24T03:00:00") == expected
    # An unencoded '+' arrives as a space; it is read as the offset sign it was meant to be.
    response = await api.client.get(
        "/calls?since=2024-05-24T10:00:00+07:00", headers=api.auth("admin")
    )
    assert [i["uniqueid"] for i in response.json()["items"]] == expected


async def test_agent_sees_only_the_calls_they_took(api: Api) -> None:
    await seed(api)

    assert await uniqueids(api, "agent") == ids(7, 3, 0)
    assert await uniqueids(api, "agent", category="medical") == ids(7, 0)
    response = await api.client.get("/calls?limit=1", headers=api.auth("agent"))
    assert response.json()["total"] == 3


async def test_call_body_has_every_field_and_the_agent(api: Api) -> None:
    call = await api.add_call(
        uniqueid="1716512400.9",
        linkedid="1716512400.8",
        caller_number="0987654321",
        caller_name="Hoàng Thị Thu Hường",
        arrived_at=T0,
        queue_entered_at=T0 + timedelta(seconds=20),
        answered_at=T0 + timedelta(seconds=50),
        ended_at=T0 + timedelta(seconds=170),
        ivr_choice="1",
        category=Category.MEDICAL,
        priority=10,
        route="ivr",
        queue="q-medical",
        agent_id=api.agent_ids["agent01"],
        agent_endpoint="agent01",
        status=CallStatus.ANSWERED,
        wait_s=30.0,
        talk_s=120.0,
        hangup_cause="16",
        complete=True,
        district_code=721,
        ivr_outcome="transferred",
        ivr_exit_node="medical",
    )
    async with api.db.session() as session:
        session.add_all(
            [
                IvrEvent(
                    call_uniqueid="1716512400.9",
                    seq=1,
                    node="welcome",
                    kind="key",
                    key="1",
                    at=T0 + timedelta(seconds=3),
                ),
                IvrEvent(
                    call_uniqueid="1716512400.9",
                    seq=0,
                    node="welcome",
                    kind="enter",
                    key=None,
                    at=T0,
                ),
                IvrEvent(
                    call_uniqueid="other", seq=0, node="welcome", kind="enter", key=None, at=T0
                ),
            ]
        )
        await session.commit()

    response = await api.client.get(f"/calls/{call.id}", headers=api.auth("supervisor"))

    assert response.status_code == 200
    body = response.json()
    assert body.pop("updated_at").endswith("Z")
    assert body == {
        "id": call.id,
        "uniqueid": "1716512400.9",
        "linkedid": "1716512400.8",
        "caller_number": "0987654321",
        "caller_name": "Hoàng Thị Thu Hường",
        "arrived_at": "2024-05-24T01:00:00Z",
        "queue_entered_at": "2024-05-24T01:00:20Z",
        "answered_at": "2024-05-24T01:00:50Z",
        "ended_at": "2024-05-24T01:02:50Z",
        "ivr_choice": "1",
        "category": "medical",
        "priority": 10,
        "route": "ivr",
        "queue": "q-medical",
        "agent_id": api.agent_ids["agent01"],
        "agent_endpoint": "agent01",
        "status": "answered",
        "wait_s": 30.0,
        "talk_s": 120.0,
        "hangup_cause": "16",
        "complete": True,
        "district_code": 721,
        "ivr_outcome": "transferred",
        "ivr_exit_node": "medical",
        "agent": "agent01",
        "ivr_path": [
            {"at": "2024-05-24T01:00:00Z", "node": "welcome", "kind": "enter", "key": None},
            {"at": "2024-05-24T01:00:03Z", "node": "welcome", "kind": "key", "key": "1"},
        ],
    }


async def test_live_call_without_agent(api: Api) -> None:
    call = await api.add_call(uniqueid="2.1", arrived_at=T0, status=CallStatus.IN_IVR)

    body = (await api.client.get(f"/calls/{call.id}", headers=api.auth("admin"))).json()

    assert (body["status"], body["agent"], body["answered_at"]) == ("in_ivr", None, None)


async def test_unknown_call_is_404(api: Api) -> None:
    response = await api.client.get("/calls/123", headers=api.auth("supervisor"))

    assert response.status_code == 404
    assert response.json() == {"detail": "Call 123 not found"}


async def test_another_agents_call_is_not_found_for_an_agent(api: Api) -> None:
    # As if it did not exist (api/deps.py): a 403 would tell the id is a call.
    await seed(api)
    theirs = await api.add_call(uniqueid="3.1", arrived_at=T0, agent_id=api.agent_ids["agent02"])
    unassigned = await api.add_call(uniqueid="3.2", arrived_at=T0)

    for call in (theirs, unassigned):
        response = await api.client.get(f"/calls/{call.id}", headers=api.auth("agent"))
        assert response.status_code == 404
        assert response.json() == {"detail": f"Call {call.id} not found"}


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("since=yesterday", "since", "expected an ISO 8601 date-time such as"),
        ("until=24/05/2024", "until", "got '24/05/2024'"),
        ("limit=0", "limit", "greater than or equal to 1"),
        ("limit=501", "limit", "less than or equal to 500"),
        ("offset=-1", "offset", "greater than or equal to 0"),
        ("category=fire", "category", "'medical', 'food', 'violation' or 'general'"),
        ("status=lost", "status", "'in_ivr', 'queued', 'connected', 'answered'"),
    ],
)
async def test_malformed_queries_are_422_naming_the_problem(
    api: Api, query: str, field: str, words: str
) -> None:
    response = await api.client.get(f"/calls?{query}", headers=api.auth("supervisor"))

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"] == ["query", field]
    assert words in error["msg"]


async def test_non_numeric_call_id_is_422(api: Api) -> None:
    response = await api.client.get("/calls/abc", headers=api.auth("supervisor"))

    assert response.status_code == 422
