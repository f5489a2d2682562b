"""Issue 5's acceptance on a real Asterisk, with Bình Dương's places and teams as the service
loads them at its first start (SQLite and PostgreSQL).

1. A SIPp citizen dials 1022 (medical, not life-threatening, Thủ Dầu Một); a SIPp agent
   answers; the agent records the outcome over REST: a medical incident in Phường Hiệp
   Thành. The hotline calls that commune team's SIPp phone (PJSIP endpoint
   ``team-c25741``), reads it the order, and the member's RFC 4733 "1" acknowledges it.
2. A second incident, in Phường Phú Lợi, whose team's phone is not even registered: every
   call fails. The service is stopped before the acknowledgment deadline and started after
   it; the timer is in the database, so the new service escalates the incident at once to
   the district's operations center, whose SIPp phone (``center-d718``) accepts it.

The deadline for medical incidents is shortened to 25 s; a failed call is retried after
60 s, so the escalation is the deadline's, not the phone's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from provision.secrets import team_phone_password
from simulation.stack import Stack, free_udp_tcp_port
from simulation.team_phones import SippTeamPhone
from store.users import create_user
from tests.integration.conftest import Live, database_for

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]

DEADLINE_S = 25
SETTINGS: dict[str, Any] = {
    "callback_threshold_s": -1,
    "ack_deadlines_s": {
        "medical": dict.fromkeys(("critical", "urgent", "normal"), DEADLINE_S),
        "*": dict.fromkeys(("critical", "urgent", "normal"), 600),
    },
    "dispatch_ring_s": 8,
    "dispatch_retry_s": 60,
    "dispatch_call_attempts": 3,
}
MEDICAL_TDM = "121"  # medical, not life-threatening, district 1 (Thủ Dầu Một, 718)


@dataclass
class Dispatch(Live):
    agent_token: str = ""
    team_phones: list[SippTeamPhone] | None = None

    def phone(self, endpoint: str, keys: str = "1") -> SippTeamPhone:
        """A SIPp team phone registered as ``endpoint``; it presses ``keys`` when called."""
        settings = self.stack.settings
        phone = SippTeamPhone(
            free_udp_tcp_port(),
            self.stack.next_media_port(),
            keys=keys,
            endpoint=endpoint,
            password=team_phone_password(settings.secrets, endpoint),
            server_port=settings.sip_port,
        )
        phone.start()
        assert self.team_phones is not None
        self.team_phones.append(phone)
        return phone

    def reconnect(self) -> httpx.AsyncClient:
        """An API client on the service now running (after a restart)."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.stack.running.app()),
            base_url="http://hotline",
            headers=dict(self.api.headers),
        )

    async def outcome(self, call_id: object, **body: object) -> dict[str, Any]:
        resp = await self.api.post(
            f"/calls/{call_id}/outcome",
            json=body,
            headers={"Authorization": f"Bearer {self.agent_token}"},
        )
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    async def incident(self, incident_id: int) -> dict[str, Any]:
        resp = await self.api.get(f"/incidents/{incident_id}")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    async def incident_until(
        self, incident_id: int, status: str, within_s: float
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            incident = await self.incident(incident_id)
            if incident["status"] == status:
                return incident
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"incident {incident_id} never became {status}: {incident}")
            await asyncio.sleep(0.5)


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def dispatch(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Dispatch]:
    state_dir: Path = tmp_path_factory.mktemp("hotline")
    async with (
        database_for(request.param) as url,
        Stack(state_dir=state_dir, database_url=url, settings=SETTINGS) as stack,
    ):
        db = stack.running.db
        _, supervisor = await create_user(db, name="giám sát", role="supervisor")
        _, agent = await create_user(db, name="Lan", role="agent", agent_id=1)
        await stack.start_agents(1)
        phones: list[SippTeamPhone] = []
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=stack.running.app()),
            base_url="http://hotline",
            headers={"Authorization": f"Bearer {supervisor}"},
        ) as api:
            try:
                yield Dispatch(stack, api, supervisor, agent, phones)
            finally:
                for phone in phones:
                    await asyncio.to_thread(phone.stop)


async def test_an_agents_outcome_reaches_the_commune_team_by_phone(dispatch: Dispatch) -> None:
    phone = await asyncio.to_thread(dispatch.phone, "team-c25741", "1")
    call = await dispatch.call("0905100001", MEDICAL_TDM)
    assert call["status"] == "answered" and call["agent_endpoint"] == "agent01"

    outcome = await dispatch.outcome(
        call["id"],
        disposition="incident",
        commune_code=25741,  # Phường Hiệp Thành
        category="medical",
        urgency="urgent",
        address="15 đường Yersin",
        notes="Người bệnh sốt cao, khó thở nhẹ",
    )

    incident = await dispatch.incident_until(outcome["incident_id"], "acknowledged", 60)
    assert incident["team_name"] == "Tổ phản ứng nhanh phường Hiệp Thành"
    assert incident["place_names"][:2] == ["Phường Hiệp Thành", "Thành phố Thủ Dầu Một"]
    assert incident["escalation"] == 0
    phone_events = [e for e in incident["events"] if e["actor"] == "phone:team-c25741"]
    assert [(e["kind"], e["reason"], e["to_status"]) for e in phone_events] == [
        ("phone", "lần gọi 1: accepted", None),
        ("status", "Nhận lệnh qua điện thoại", "acknowledged"),
    ]
    calls = await asyncio.to_thread(phone.calls)
    assert len(calls) == 1
    assert calls[0].keys == "1"


async def test_an_unacknowledged_incident_escalates_across_a_service_restart(
    dispatch: Dispatch,
) -> None:
    center = await asyncio.to_thread(dispatch.phone, "center-d718", "1")
    call = await dispatch.call("0905100002", MEDICAL_TDM)
    outcome = await dispatch.outcome(
        call["id"],
        disposition="incident",
        commune_code=25744,  # Phường Phú Lợi: its team's phone is not registered
        category="medical",
        urgency="critical",
        address="3 Phú Lợi",
    )
    incident_id = outcome["incident_id"]
    first = await dispatch.incident(incident_id)
    assert first["team_name"] == "Tổ phản ứng nhanh phường Phú Lợi"
    due = datetime.fromisoformat(first["ack_due_at"])
    # The hotline tried the commune team's phone, which is nowhere.
    await dispatch.stack.wait_for(
        lambda: any(
            c.order.incident_id == incident_id for c in dispatch.stack.running.team_phones.recent
        ),
        20,
        "the commune team's phone to be tried",
    )

    await dispatch.stack.stop_service()
    assert datetime.now(due.tzinfo) < due, "the deadline passed before the service stopped"
    await asyncio.sleep((due - datetime.now(due.tzinfo)).total_seconds() + 2)
    restarted = datetime.now(due.tzinfo)
    await dispatch.stack.start_service()
    async with dispatch.reconnect() as api:
        dispatch.api = api
        incident = await dispatch.incident_until(incident_id, "acknowledged", 60)

    assert incident["team_name"] == "Trung tâm điều hành thành phố Thủ Dầu Một"
    assert incident["escalation"] == 1
    [escalated] = [e for e in incident["events"] if e["kind"] == "escalated"]
    assert escalated["reason"].startswith("Quá hạn")
    escalated_at = datetime.fromisoformat(escalated["at"])
    # Fired by the new service as soon as it started: the timer outlived the old one.
    assert restarted <= escalated_at
    assert (escalated_at - restarted).total_seconds() < 10
    phone_results = [e["reason"] for e in incident["events"] if e["kind"] == "phone"]
    assert phone_results[0].startswith("lần gọi 1: ")  # the commune team's failed call
    assert phone_results[-1] == "lần gọi 1: accepted"  # the center's first call
    assert [c.keys for c in await asyncio.to_thread(center.calls)] == ["1"]
