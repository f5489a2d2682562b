"""GET /callbacks and POST /callbacks/{id}/cancel (the callback service is a fake here;
tests/queues/test_callbacks.py tests the real one, tests/integration the whole path)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.api.support import Api


async def test_lists_newest_first_and_filters_by_status(api: Api) -> None:
    old = await api.add_callback(
        call_uniqueid="1.1", status="completed", requested_at=datetime(2024, 5, 1, tzinfo=UTC)
    )
    new = await api.add_callback(
        call_uniqueid="1.2",
        caller_number="0987654321",
        status="retry",
        attempts=1,
        result="noanswer",
        requested_at=datetime(2024, 5, 2, tzinfo=UTC),
    )

    everything = await api.client.get("/callbacks", headers=api.auth("supervisor"))
    retrying = await api.client.get(
        "/callbacks", params={"status": "retry"}, headers=api.auth("admin")
    )

    assert everything.status_code == 200
    assert [c["id"] for c in everything.json()["items"]] == [new.id, old.id]
    assert everything.json()["total"] == 2
    body = retrying.json()
    assert (body["total"], len(body["items"])) == (1, 1)
    item = body["items"][0]
    assert (item["caller_number"], item["attempts"], item["result"]) == (
        "0987654321",
        1,
        "noanswer",
    )
    assert item["queue"] == "food-724" and item["status"] == "retry"


async def test_an_unknown_status_is_refused(api: Api) -> None:
    response = await api.client.get(
        "/callbacks", params={"status": "lost"}, headers=api.auth("supervisor")
    )
    assert response.status_code == 422


async def test_cancel_returns_the_cancelled_callback_and_says_who(api: Api) -> None:
    callback = await api.add_callback()

    response = await api.client.post(
        f"/callbacks/{callback.id}/cancel", headers=api.auth("supervisor")
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["result"] == "cancelled by supervisor user"
    assert api.callbacks.cancelled == [(callback.id, "supervisor user")]


async def test_cancel_of_a_finished_or_missing_callback(api: Api) -> None:
    done = await api.add_callback(status="completed")

    conflict = await api.client.post(f"/callbacks/{done.id}/cancel", headers=api.auth("admin"))
    missing = await api.client.post("/callbacks/999/cancel", headers=api.auth("admin"))

    assert conflict.status_code == 409
    assert "completed already" in conflict.json()["detail"]
    assert missing.status_code == 404
