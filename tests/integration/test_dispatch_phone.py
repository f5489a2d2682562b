"""Dispatch by phone on a real Asterisk: the hotline calls a team's SIPp phone through the
telephone network's gateway (``PJSIP/<number>@pstn-out``, whose contact is the SIPp at
``callback_host``), reads it the order over FastAGI, and the member's RFC 4733 key decides:
1 accepts, 2 then 1 accepts after a second reading, 9 refuses; a phone that rings out is
``no_answer``, a busy one ``busy``, and with the FastAGI server down an answered call is
``failed``. The incident service is a fake that answers ``reading()`` and records results.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from dispatch.phone import PhoneCall, TeamPhoneCaller
from dispatch.ports import IncidentReading, PhoneOrder, PhoneResult
from dispatch.reading import OrderFacts, order_text
from simulation.stack import Stack, free_udp_tcp_port
from simulation.team_phones import SippTeamPhone

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]

RING_S = 4


@dataclass
class Incidents:
    """The incident service's side of ``PhoneResults``: every incident waits for its team."""

    results: list[tuple[PhoneOrder, PhoneResult]] = field(default_factory=list)

    async def phone_result(self, order: PhoneOrder, result: PhoneResult) -> None:
        self.results.append((order, result))

    async def reading(self, incident_id: int) -> IncidentReading | None:
        facts = OrderFacts(
            incident_id,
            "medical",
            "critical",
            ("Phường Hiệp Thành", "Thành phố Thủ Dầu Một"),
            address="15 đường Yersin",
            caller_number="0912345678",
        )
        return IncidentReading(incident_id, order_text(facts))

    def of(self, order: PhoneOrder) -> list[PhoneResult]:
        return [result for o, result in self.results if o == order]


@dataclass
class Desk:
    stack: Stack
    caller: TeamPhoneCaller
    incidents: Incidents
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @asynccontextmanager
    async def phone(self, **kw: object) -> AsyncIterator[SippTeamPhone]:
        """A team's phone at the gateway's address, for one test."""
        port = int(self.stack.settings.callback_host.rsplit(":", 1)[1])
        phone = SippTeamPhone(port, self.stack.next_media_port(), **kw)  # type: ignore[arg-type]
        await asyncio.to_thread(phone.start)
        try:
            yield phone
        finally:
            await asyncio.to_thread(phone.stop)

    def order(self) -> PhoneOrder:
        n = next(self.numbers)
        number = f"0913{n:06d}"
        endpoint = self.stack.settings.callback_endpoint
        return PhoneOrder(
            incident_id=100 + n,
            team_id=7,
            attempt=1,
            dial=f"PJSIP/{number}@{endpoint}",
            phone=number,
        )

    async def result_of(self, order: PhoneOrder, within_s: float = 60) -> PhoneResult:
        await self.stack.wait_for(lambda: bool(self.incidents.of(order)), within_s, "a result")
        await asyncio.sleep(0.5)  # a second result would come right after
        [result] = self.incidents.of(order)
        return result

    def call_of(self, order: PhoneOrder) -> PhoneCall:
        [call] = [c for c in self.caller.recent if c.order == order]
        return call


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Desk]:
    state_dir: Path = tmp_path_factory.mktemp("hotline")
    async with Stack(
        state_dir=state_dir, agent_count=2, settings={"dispatch_ring_s": RING_S}
    ) as stack:
        # The service's own phone caller, wired as hotline1022/service.py wires it (AMI
        # listener, FastAGI script, order audio where Asterisk plays prompts); only where
        # its results go is the test's.
        incidents = Incidents()
        caller = stack.running.team_phones
        caller.results = incidents
        caller.key_wait_ms = 3000
        yield Desk(stack, caller, incidents)


async def until_hung_up(desk: Desk, phone: SippTeamPhone, outcome: str = "bye") -> None:
    await desk.stack.wait_for(
        lambda: bool(phone.calls()) and phone.calls()[-1].outcome == outcome,
        30,
        f"the phone's call to end with {outcome!r}: {phone.calls()} {phone.errors()}",
    )


async def test_1_accepts_the_order(desk: Desk) -> None:
    async with desk.phone(keys="1", answer_after_ms=1000, first_key_after_ms=2000) as phone:
        order = desk.order()
        await desk.caller.call(order)
        assert await desk.result_of(order) is PhoneResult.ACCEPTED
        await until_hung_up(desk, phone)
        [call] = phone.calls()
        assert (call.number, call.keys) == (order.phone, "1")
    heard = desk.call_of(order)
    assert (heard.readings, heard.keys) == (1, ["1"])
    assert heard.uniqueid


async def test_2_then_1_accepts_after_a_second_reading(desk: Desk) -> None:
    async with desk.phone(keys="21", answer_after_ms=1000, between_keys_ms=3000) as phone:
        order = desk.order()
        await desk.caller.call(order)
        assert await desk.result_of(order) is PhoneResult.ACCEPTED
        await until_hung_up(desk, phone)
        assert phone.calls()[-1].keys == "21"
    heard = desk.call_of(order)
    assert (heard.readings, heard.keys) == (2, ["2", "1"])


async def test_9_refuses_the_order(desk: Desk) -> None:
    async with desk.phone(keys="9", answer_after_ms=1000) as phone:
        order = desk.order()
        await desk.caller.call(order)
        assert await desk.result_of(order) is PhoneResult.REFUSED
        await until_hung_up(desk, phone)
    assert desk.call_of(order).keys == ["9"]


async def test_a_phone_that_rings_out_is_no_answer(desk: Desk) -> None:
    async with desk.phone(answer_after_ms=None) as phone:
        order = desk.order()
        await desk.caller.call(order)
        assert await desk.result_of(order, within_s=RING_S + 20) is PhoneResult.NO_ANSWER
        await until_hung_up(desk, phone, "rang out")


async def test_a_busy_phone_is_busy(desk: Desk) -> None:
    async with desk.phone(busy=True) as phone:
        order = desk.order()
        await desk.caller.call(order)
        assert await desk.result_of(order) is PhoneResult.BUSY
        await until_hung_up(desk, phone, "busy")


async def test_nobody_at_that_number_fails(desk: Desk) -> None:
    order = PhoneOrder(999, 7, 1, "PJSIP/no-such-endpoint", "no-such-endpoint")
    await desk.caller.call(order)
    assert await desk.result_of(order) is PhoneResult.FAILED


async def test_a_registered_endpoint_is_called_the_same_way(desk: Desk) -> None:
    """A team's phone that is a PJSIP endpoint of this Asterisk (here a developer's test
    phone, ``phone01``; the teams' own endpoints are provisioned the same way)."""
    settings = desk.stack.settings
    phone = SippTeamPhone(
        free_udp_tcp_port(),
        desk.stack.next_media_port(),
        keys="1",
        endpoint="phone01",
        password=settings.secrets["phones"]["phone01"],
        server_port=settings.sip_port,
    )
    await asyncio.to_thread(phone.start)
    try:
        order = PhoneOrder(500, 8, 2, "PJSIP/phone01", "phone01")
        await desk.caller.call(order)
        assert await desk.result_of(order) is PhoneResult.ACCEPTED
        await until_hung_up(desk, phone)
        assert [(c.number, c.keys) for c in phone.calls()] == [("phone01", "1")]
    finally:
        await asyncio.to_thread(phone.stop)


# Last: it stops the service's FastAGI server.
async def test_with_fastagi_down_an_answered_call_fails_and_hangs_up(desk: Desk) -> None:
    await desk.stack.running.agi.close()
    async with desk.phone(keys="1", answer_after_ms=500, first_key_after_ms=5000) as phone:
        order = desk.order()
        await desk.caller.call(order)
        assert await desk.result_of(order) is PhoneResult.FAILED
        await until_hung_up(desk, phone)  # the dialplan hung up, before any key
        assert phone.calls()[-1].keys == ""
