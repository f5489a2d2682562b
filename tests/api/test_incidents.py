"""Outcomes and incidents over REST: who may record and change what, idempotency, duplicates
and the lifecycle's rules (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from store.models import CallOutcome, Incident, Team
from store.users import create_user
from tests.api.support import Api
from tests.dispatch.tree import Tree, small_tree

INCIDENT: dict[str, Any] = {
    "disposition": "incident",
    "commune_code": 25741,
    "category": "medical",
    "urgency": "critical",
    "address": "15 đường Yersin",
    "notes": "Người bệnh khó thở, SpO2 88 %",
}


@pytest.fixture
async def tree(api: Api) -> Tree:
    return await small_tree(api.db)


class Calls:
    """Answered calls, one caller number each unless told."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.n = 0

    async def answered(self, agent: str = "agent01", number: str | None = None) -> int:
        self.n += 1
        call = await self.api.add_call(
            uniqueid=f"9.{self.n}",
            caller_number=number or f"09120000{self.n:02d}",
            arrived_at=datetime(2021, 8, 2, 3, self.n, tzinfo=UTC),
            agent_id=self.api.agent_ids[agent],
            category="medical",
        )
        return call.id


@pytest.fixture
def calls(api: Api) -> Calls:
    return Calls(api)


async def team_token(api: Api, tree: Tree, key: str) -> dict[str, str]:
    _, token = await create_user(
        api.db, name=f"user of {key}", role="team", team_id=tree.team(key).id
    )
    return {"Authorization": f"Bearer {token}"}


async def post_outcome(
    api: Api, call_id: int, body: dict[str, Any], who: str = "agent", key: str | None = None
) -> httpx.Response:
    headers = api.auth(who)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await api.client.post(f"/calls/{call_id}/outcome", json=body, headers=headers)


async def test_an_incident_outcome_dispatches_to_the_communes_team(
    api: Api, tree: Tree, calls: Calls
) -> None:
    call_id = await calls.answered()

    resp = await post_outcome(api, call_id, INCIDENT)

    assert resp.status_code == 201, resp.text
    outcome = resp.json()
    assert outcome["disposition"] == "incident"
    assert outcome["place_id"] == tree.place(25741).id
    incident = (
        await api.client.get(f"/incidents/{outcome['incident_id']}", headers=api.auth("supervisor"))
    ).json()
    assert incident["status"] == "dispatched"
    assert incident["status_label"] == "Đã điều động"
    assert incident["team_id"] == tree.team("team-25741").id
    assert incident["place_names"] == [
        "Phường Hiệp Thành",
        "Thành phố Thủ Dầu Một",
        "Tỉnh Bình Dương",
    ]
    assert incident["caller_number"] == "0912000001"
    assert [(e["kind"], e["actor"]) for e in incident["events"]] == [
        ("created", "user:Đỗ Thị Agent"),
        ("dispatched", "system"),
    ]
    got = await api.client.get(f"/calls/{call_id}/outcome", headers=api.auth("agent"))
    assert got.json() == outcome


async def test_only_the_agent_who_took_the_call_or_a_supervisor_records_it(
    api: Api, tree: Tree, calls: Calls
) -> None:
    someone_elses = await calls.answered(agent="agent02")

    refused = await post_outcome(api, someone_elses, {"disposition": "advice"})
    assert refused.status_code == 404  # another agent's call: as if it did not exist
    assert refused.json() == {"detail": f"no call {someone_elses}"}
    assert (
        await post_outcome(api, someone_elses, {"disposition": "advice"}, "supervisor")
    ).status_code == 201
    assert (
        await post_outcome(api, 99999, {"disposition": "advice"}, "supervisor")
    ).status_code == 404


async def test_a_retry_with_the_same_key_records_once(api: Api, tree: Tree, calls: Calls) -> None:
    call_id = await calls.answered()

    first = await post_outcome(api, call_id, INCIDENT, key="k-1")
    again = await post_outcome(api, call_id, INCIDENT, key="k-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    async with api.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Incident)) == 1
        assert await session.scalar(select(func.count()).select_from(CallOutcome)) == 1

    other_body = await post_outcome(api, call_id, {**INCIDENT, "urgency": "normal"}, key="k-1")
    assert other_body.status_code == 409
    assert "already used for another request" in other_body.json()["detail"]
    second = await post_outcome(api, call_id, {"disposition": "advice"}, key="k-2")
    assert second.status_code == 409
    assert "already has an outcome" in second.json()["detail"]


async def test_concurrent_retries_record_one_outcome_and_one_incident(
    api: Api, tree: Tree, calls: Calls
) -> None:
    call_id = await calls.answered()

    answers = await asyncio.gather(
        *(post_outcome(api, call_id, INCIDENT, key="same") for _ in range(6))
    )

    assert sorted(r.status_code for r in answers) == [200] * 5 + [201]
    assert len({r.json()["incident_id"] for r in answers}) == 1
    async with api.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Incident)) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**INCIDENT, "commune_code": None}, "needs commune_code"),
        ({**INCIDENT, "commune_code": 1}, "no commune with code 1"),
        ({**INCIDENT, "urgency": None}, "needs an urgency"),
        ({**INCIDENT, "category": "weather"}, "Input should be 'medical'"),
        ({"disposition": "duplicate"}, "needs duplicate_of"),
        ({"disposition": "duplicate", "duplicate_of": 4242}, "no incident 4242"),
        ({"disposition": "advice", "duplicate_of": 1}, "only for the disposition"),
    ],
)
async def test_an_outcome_missing_what_it_needs_is_refused_and_nothing_written(
    api: Api, tree: Tree, calls: Calls, body: dict[str, Any], message: str
) -> None:
    call_id = await calls.answered()

    resp = await post_outcome(api, call_id, body)

    assert resp.status_code == 422, resp.text
    assert message in resp.json()["detail"]
    async with api.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(CallOutcome)) == 0


async def test_unknown_fields_and_values_are_422(api: Api, tree: Tree, calls: Calls) -> None:
    call_id = await calls.answered()

    for body in ({"disposition": "gossip"}, {"disposition": "advice", "colour": "red"}):
        assert (await post_outcome(api, call_id, body)).status_code == 422


async def test_the_same_caller_or_address_is_linked_not_duplicated(
    api: Api, tree: Tree, calls: Calls
) -> None:
    first = (await post_outcome(api, await calls.answered(number="0988777666"), INCIDENT)).json()

    # The same caller again, about the same thing (another address typed).
    redial = await post_outcome(
        api, await calls.answered(number="0988777666"), {**INCIDENT, "address": "Yersin"}
    )
    # A neighbour, the same address with other spacing and case, the same category.
    neighbour = await post_outcome(
        api, await calls.answered(), {**INCIDENT, "address": "  15 ĐƯỜNG   Yersin "}
    )
    # The same address, another category: its own incident.
    food = await post_outcome(api, await calls.answered(), {**INCIDENT, "category": "food"})

    assert [r.json()["disposition"] for r in (redial, neighbour, food)] == [
        "duplicate",
        "duplicate",
        "incident",
    ]
    assert redial.json()["incident_id"] == neighbour.json()["incident_id"] == first["incident_id"]
    assert food.json()["incident_id"] != first["incident_id"]
    incident = (
        await api.client.get(f"/incidents/{first['incident_id']}", headers=api.auth("supervisor"))
    ).json()
    assert incident["linked_calls"] == 2
    assert [e["kind"] for e in incident["events"]].count("linked") == 2


async def test_an_agent_can_link_a_call_to_an_open_incident_but_not_a_closed_one(
    api: Api, tree: Tree, calls: Calls
) -> None:
    incident_id = (await post_outcome(api, await calls.answered(), INCIDENT)).json()["incident_id"]

    linked = await post_outcome(
        api, await calls.answered(), {"disposition": "duplicate", "duplicate_of": incident_id}
    )
    assert linked.status_code == 201
    assert linked.json()["incident_id"] == incident_id

    cancelled = await api.client.post(
        f"/incidents/{incident_id}/transitions",
        json={"status": "cancelled", "reason": "Báo nhầm"},
        headers=api.auth("supervisor"),
    )
    assert cancelled.status_code == 200
    late = await post_outcome(
        api, await calls.answered(), {"disposition": "duplicate", "duplicate_of": incident_id}
    )
    assert late.status_code == 422
    assert "is cancelled: record a new incident" in late.json()["detail"]
    # Once closed, the same caller's next incident is a new one.
    fresh = await post_outcome(api, await calls.answered(), INCIDENT)
    assert fresh.json()["disposition"] == "incident"
    assert fresh.json()["incident_id"] != incident_id


async def test_the_team_walks_its_incident_through_the_lifecycle(
    api: Api, tree: Tree, calls: Calls
) -> None:
    incident_id = (await post_outcome(api, await calls.answered(), INCIDENT)).json()["incident_id"]
    team = await team_token(api, tree, "team-25741")
    other_team = await team_token(api, tree, "team-25942")
    url = f"/incidents/{incident_id}"

    # Another commune's team may not even read it: as if it did not exist.
    not_theirs = await api.client.post(f"{url}/acknowledge", json={}, headers=other_team)
    assert not_theirs.status_code == 404
    assert not_theirs.json() == {"detail": f"no incident {incident_id}"}
    skip = await api.client.post(f"{url}/transitions", json={"status": "resolved"}, headers=team)
    assert skip.status_code == 409
    assert "skips acknowledged, en_route, on_scene" in skip.json()["detail"]

    steps = [
        await api.client.post(f"{url}/acknowledge", json={}, headers=team),
        await api.client.post(f"{url}/transitions", json={"status": "en_route"}, headers=team),
        await api.client.post(f"{url}/transitions", json={"status": "on_scene"}, headers=team),
        await api.client.post(f"{url}/transitions", json={"status": "resolved"}, headers=team),
    ]

    assert [r.status_code for r in steps] == [200] * 4, [r.text for r in steps]
    final = steps[-1].json()
    assert final["status"] == "resolved"
    assert [
        (e["from_status"], e["to_status"]) for e in final["events"] if e["kind"] == "status"
    ] == [
        ("dispatched", "acknowledged"),
        ("acknowledged", "en_route"),
        ("en_route", "on_scene"),
        ("on_scene", "resolved"),
    ]
    assert {e["actor"] for e in final["events"] if e["kind"] == "status"} == {
        "user:user of team-25741"
    }
    back = await api.client.post(f"{url}/transitions", json={"status": "on_scene"}, headers=team)
    assert back.status_code == 409
    assert "cannot change any more" in back.json()["detail"]
    other = await api.client.post(
        f"{url}/transitions", json={"status": "en_route"}, headers=other_team
    )
    assert other.status_code == 404


async def test_a_new_incident_is_resolved_only_with_a_reason(
    api: Api, tree: Tree, calls: Calls
) -> None:
    async with api.db.session() as session:
        await session.execute(update(Team).values(active=False))  # no team anywhere
        await session.commit()
    incident_id = (await post_outcome(api, await calls.answered(), INCIDENT)).json()["incident_id"]
    url = f"/incidents/{incident_id}/transitions"
    sup = api.auth("supervisor")
    assert (await api.client.get(f"/incidents/{incident_id}", headers=sup)).json()[
        "status"
    ] == "new"

    bare = await api.client.post(url, json={"status": "resolved"}, headers=sup)
    reasoned = await api.client.post(
        url, json={"status": "resolved", "reason": "Người nhà đã tự đưa đi viện"}, headers=sup
    )

    assert bare.status_code == 409
    assert "from new to resolved skips dispatched" in bare.json()["detail"]
    assert reasoned.status_code == 200
    assert reasoned.json()["events"][-1]["reason"] == "Người nhà đã tự đưa đi viện"


async def test_acknowledging_and_dispatching_go_through_their_own_routes(
    api: Api, tree: Tree, calls: Calls
) -> None:
    incident_id = (await post_outcome(api, await calls.answered(), INCIDENT)).json()["incident_id"]
    sup = api.auth("supervisor")

    dispatched = await api.client.post(
        f"/incidents/{incident_id}/transitions", json={"status": "dispatched"}, headers=sup
    )
    unknown = await api.client.post(
        f"/incidents/{incident_id}/transitions", json={"status": "teleported"}, headers=sup
    )

    assert dispatched.status_code == 409
    assert "/assign" in dispatched.json()["detail"]
    assert unknown.status_code == 422
    assert (await api.client.get("/incidents/777", headers=sup)).status_code == 404


async def test_a_district_center_reassigns_under_it(api: Api, tree: Tree, calls: Calls) -> None:
    incident_id = (await post_outcome(api, await calls.answered(), INCIDENT)).json()["incident_id"]
    center = await team_token(api, tree, "center-718")
    elsewhere = await team_token(api, tree, "center-724")
    url = f"/incidents/{incident_id}/assign"

    refused = await api.client.post(
        url, json={"team_id": tree.team("team-718").id}, headers=elsewhere
    )
    moved = await api.client.post(
        url,
        json={"team_id": tree.team("team-718").id, "reason": "Đội phường đang bận"},
        headers=center,
    )

    assert refused.status_code == 404  # another district's center: as if it did not exist
    assert moved.status_code == 200
    body = moved.json()
    assert body["team_id"] == tree.team("team-718").id
    assert body["events"][-1]["kind"] == "assigned"
    assert body["events"][-1]["reason"] == "Đội phường đang bận"


async def test_a_team_reads_its_own_incidents_and_those_under_its_place(
    api: Api, tree: Tree, calls: Calls
) -> None:
    incident_id = (await post_outcome(api, await calls.answered(), INCIDENT)).json()["incident_id"]
    url = f"/incidents/{incident_id}"

    codes = {
        key: (await api.client.get(url, headers=await team_token(api, tree, key))).status_code
        for key in ("team-25741", "center-718", "center-74", "team-25942", "center-724")
    }

    assert codes == {
        "team-25741": 200,  # holds it
        "center-718": 200,  # its district
        "center-74": 200,  # its province
        "team-25942": 404,  # another commune: as if it did not exist
        "center-724": 404,  # another district
    }


async def test_an_agent_reads_only_the_incidents_of_calls_they_took(
    api: Api, tree: Tree, calls: Calls
) -> None:
    """Callers' numbers, addresses and notes: not every agent's to read (issue 11)."""
    theirs = await calls.answered(agent="agent02")
    incident_id = (await post_outcome(api, theirs, INCIDENT, "supervisor")).json()["incident_id"]
    mine = await calls.answered()
    linked = await post_outcome(api, mine, INCIDENT)  # the same address: linked to it

    other = await api.client.get(f"/incidents/{incident_id}", headers=api.auth("agent"))
    missing = await api.client.get("/incidents/999999", headers=api.auth("agent"))

    assert linked.json()["disposition"] == "duplicate"
    assert other.status_code == 200  # a call of theirs is linked to it now
    fresh_call = await calls.answered(agent="agent02")
    fresh = (
        await post_outcome(api, fresh_call, {**INCIDENT, "address": "Số 9 Yersin"}, "supervisor")
    ).json()["incident_id"]
    hidden = await api.client.get(f"/incidents/{fresh}", headers=api.auth("agent"))
    assert (hidden.status_code, hidden.json()) == (404, {"detail": f"no incident {fresh}"})
    assert missing.status_code == 404
    assert (await api.client.get(f"/incidents/{fresh}", headers=api.auth("supervisor"))).is_success


async def test_an_outcome_on_another_agents_call_tells_nothing_of_its_outcome(
    api: Api, tree: Tree, calls: Calls
) -> None:
    """Before: 409 "call N already has an outcome (outcome M, prank)" to any agent."""
    theirs = await calls.answered(agent="agent02")
    assert (await post_outcome(api, theirs, {"disposition": "prank"}, "supervisor")).is_success

    response = await post_outcome(api, theirs, {"disposition": "advice"})

    assert (response.status_code, response.json()) == (404, {"detail": f"no call {theirs}"})
    assert "prank" not in response.text
