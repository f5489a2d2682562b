"""Callbacks on a real Asterisk: SIPp citizens are offered a callback in a surge, one takes
it and hangs up, its placeholder waits in app_queue between the callers who came before
and after, an agent frees up, and the hotline rings the agent, then calls the citizen back
on a SIPp phone at ``callback_host``; a citizen who never answers is tried again at the
front of the queue, then given up on; a service restart keeps the place."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from hotline1022.service import Hotline
from ivr.menu_file import DEFAULT_MENU
from queues.placeholders import placeholder_id
from simulation.citizens import SippCallee, citizen_scenario, run_citizens
from simulation.sipp import remove_run
from simulation.stack import Stack, free_udp_tcp_port
from store.models import Call, Callback
from store.users import create_user
from tests.integration.conftest import database_for

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]

# Citizens whose number starts so let the hotline's call ring out.
SILENT = "0904"
# 3 = violation report (no district question). The offer follows the "you chose" prompt;
# a key 8 s after the 3 lands while the offer plays (it starts ~4 s in and lasts ~13 s).
VIOLATION = "3"
TAKES_CALLBACK = "31"


@dataclass
class Surge:
    stack: Stack
    callee: SippCallee
    api: httpx.AsyncClient

    @property
    def hotline(self) -> Hotline:
        return self.stack.running

    def dial(self, number: str, keys: str) -> subprocess.Popen[bytes]:
        """A SIPp citizen dials 1022 and presses ``keys``, then holds until the hotline
        hangs up (after the agent's talk, or after confirming a callback)."""
        return run_citizens(
            citizen_scenario(keys, between_keys_ms=8000, wait_for_bye_ms=200_000),
            [number],
            server_port=self.stack.settings.sip_port,
            local_port=free_udp_tcp_port(),
            media_port=self.stack.next_media_port(),
        )

    async def until(self, cond: Callable[[], bool], what: str, within_s: float = 60) -> None:
        await self.stack.wait_for(cond, within_s, what)

    async def db_until(
        self, query: Callable[[], Awaitable[bool]], what: str, within_s: float = 60
    ) -> None:
        """Until ``query()`` says yes."""
        deadline = asyncio.get_running_loop().time() + within_s
        while not await query():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"timed out after {within_s:.0f} s waiting for {what}")
            await asyncio.sleep(0.2)

    def state_of(self, number: str) -> str | None:
        """The live status of the number's open call, if the tracker has one."""
        calls = [c for c in self.hotline.tracker.calls.values() if c.caller_number == number]
        return calls[-1].status if calls else None

    async def callback_of(self, number: str) -> Callback | None:
        async with self.hotline.db.session() as s:
            return await s.scalar(
                select(Callback)
                .where(Callback.caller_number == number)
                .order_by(Callback.id.desc())
                .limit(1)
            )

    async def calls_of(self, number: str) -> list[Call]:
        async with self.hotline.db.session() as s:
            rows = await s.scalars(
                select(Call).where(Call.caller_number == number).order_by(Call.arrived_at)
            )
            return list(rows.all())

    async def queue(self, name: str) -> list[str]:
        """Who waits in the queue, in app_queue's order: numbers, or cb<id> for a
        callback's placeholder."""
        entries = sorted(
            await self.hotline.pbx.queue_entries(name), key=lambda e: int(e["Position"])
        )
        order = []
        for e in entries:
            found = placeholder_id(e["Channel"])
            order.append(f"cb{found[0]}" if found else e["CallerIDNum"])
        return order


async def finished(proc: subprocess.Popen[bytes], within_s: float = 120) -> None:
    try:
        rc = await asyncio.wait_for(asyncio.to_thread(proc.wait), within_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    remove_run(proc)
    assert rc == 0, f"SIPp citizen failed ({rc}): {err[-1500:]}"


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def surge(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Surge]:
    state_dir: Path = tmp_path_factory.mktemp("hotline")
    menu_file = state_dir / "menu.yaml"
    shutil.copyfile(DEFAULT_MENU, menu_file)
    settings = {
        # Offered whenever the wait is not zero (here: no agent free, or none at all).
        "callback_threshold_s": 0,
        "callback_attempts": 2,
        "callback_retry_s": 2,
        "callback_ring_s": 3,
        "wrapup_s": 1,
    }
    # Agents talk 6 s: longer than a called-back phone rings unanswered (3 s).
    async with (
        database_for(request.param) as url,
        Stack(
            state_dir=state_dir,
            database_url=url,
            talk_ms=6000,
            menu_file=menu_file,
            settings=settings,
        ) as stack,
    ):
        port = int(stack.settings.callback_host.rsplit(":", 1)[1])
        callee = SippCallee(port, stack.next_media_port(), silent=SILENT)
        await asyncio.to_thread(callee.start)
        try:
            _, token = await create_user(stack.running.db, name="boss", role="supervisor")
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=stack.running.app()),
                base_url="http://hotline",
                headers={"Authorization": f"Bearer {token}"},
            ) as api:
                yield Surge(stack, callee, api)
        finally:
            callee.stop()


async def test_callback_keeps_its_place_and_the_citizen_is_called_back(surge: Surge) -> None:
    # agent01's phone is registered, but nobody is logged in: every caller waits.
    await surge.stack.start_agents(1, login=False)
    a, b, c = "0903000001", "0903000002", "0903000003"

    first = surge.dial(a, VIOLATION)  # holds through the offer
    await surge.until(lambda: surge.state_of(a) == "queued", f"{a} to wait in the queue")

    asks = surge.dial(b, TAKES_CALLBACK)
    await finished(asks)  # heard the confirmation; the hotline hung up
    cb = await surge.callback_of(b)
    assert cb is not None and cb.queue == "violation" and cb.priority == 0
    await surge.until(
        lambda: surge.hotline.callbacks.placeholder_of(cb.id) is not None,
        "the placeholder to join",
    )
    last = surge.dial(c, VIOLATION)
    await surge.until(lambda: surge.state_of(c) == "queued", f"{c} to wait in the queue")

    # The callback waits exactly where B would have: behind A, ahead of C.
    assert await surge.queue("violation") == [a, f"cb{cb.id}", c]
    view = {q["name"]: q for q in (await surge.api.get("/queues")).json()}["violation"]
    assert (view["waiting"], view["callbacks_pending"], view["estimated_wait_s"]) == (3, 1, None)
    [asked] = await surge.calls_of(b)
    assert (asked.status, asked.ivr_outcome, asked.category, asked.queue) == (
        "callback",
        "callback",
        "violation",
        "violation",
    )
    assert asked.repeat_of is None and asked.complete

    # B calls again while the callback waits: recognised, and keeps it with 1.
    again = surge.dial(b, "1")
    await finished(again)
    await surge.db_until(
        lambda: _complete_calls(surge, b, 2), "the second call of B to be recorded"
    )
    _, repeat = await surge.calls_of(b)
    assert (repeat.repeat_of, repeat.status) == (asked.uniqueid, "callback")
    assert await surge.queue("violation") == [a, f"cb{cb.id}", c]  # still one place

    # An agent frees up: A, then the callback (agent rung, then B called back), then C.
    resp = await surge.api.post("/agents/1/login")
    assert resp.status_code == 200, resp.text
    await finished(first)
    await finished(last)
    await surge.db_until(
        lambda: _callback_status(surge, b, "completed"), "the callback to complete"
    )
    done = await surge.callback_of(b)
    assert done is not None
    assert (done.status, done.result, done.attempts, done.agent_endpoint) == (
        "completed",
        "answered",
        0,
        "agent01",
    )
    await surge.stack.wait_idle()  # every call record complete and written
    [answered_a] = await surge.calls_of(a)
    [answered_c] = await surge.calls_of(c)
    assert answered_a.status == answered_c.status == "answered"
    assert answered_a.answered_at and answered_c.answered_at and done.completed_at
    assert answered_a.answered_at < done.completed_at < answered_c.answered_at
    assert surge.callee.called() == [b], surge.callee.errors()

    listed = await surge.api.get("/callbacks", params={"status": "completed"})
    assert [x["caller_number"] for x in listed.json()["items"]] == [b]


async def test_a_citizen_who_never_answers_is_tried_again_then_given_up(surge: Surge) -> None:
    d = "0904000001"  # rings unanswered
    resp = await surge.api.post("/agents/1/logout")
    assert resp.status_code == 200, resp.text
    await finished(surge.dial(d, TAKES_CALLBACK))
    cb = await surge.callback_of(d)
    assert cb is not None and cb.status == "waiting"
    assert (await surge.api.post("/agents/1/login")).status_code == 200
    await surge.db_until(lambda: _callback_status(surge, d, "failed"), "the callback to fail")
    failed = await surge.callback_of(d)
    assert failed is not None
    assert (failed.attempts, failed.result) == (2, "noanswer")
    assert surge.callee.called().count(d) == 2  # first in its turn, then at the front again
    assert await surge.queue("violation") == []


async def test_a_service_restart_keeps_the_place(surge: Surge) -> None:
    e = "0903000005"
    assert (await surge.api.post("/agents/1/logout")).status_code == 200
    await finished(surge.dial(e, TAKES_CALLBACK))
    cb = await surge.callback_of(e)
    assert cb is not None
    await surge.until(
        lambda: surge.hotline.callbacks.placeholder_of(cb.id) is not None, "its placeholder"
    )
    channel = surge.hotline.callbacks.placeholder_of(cb.id)

    # The service stops and starts again; Asterisk and the placeholder stay.
    stack = surge.stack
    await stack.running.stop()
    stack.hotline = Hotline(stack.settings)
    await stack.hotline.start()
    await stack.wait_for(lambda: stack.running.link.connected, 15, "the AMI link")
    await surge.until(
        lambda: surge.hotline.callbacks.placeholder_of(cb.id) is not None,
        "the placeholder to be found",
    )
    # The very same channel: kept, not made again.
    assert surge.hotline.callbacks.placeholder_of(cb.id) == channel
    kept = await surge.callback_of(e)
    assert kept is not None and (kept.status, kept.next_attempt_at) == ("waiting", None)
    assert await surge.queue("violation") == [f"cb{cb.id}"]

    await stack.running.agents.login(1)
    await surge.db_until(
        lambda: _callback_status(surge, e, "completed"), "the callback to complete"
    )
    assert surge.callee.called()[-1] == e


async def _complete_calls(surge: Surge, number: str, count: int) -> bool:
    calls = await surge.calls_of(number)
    return len(calls) >= count and all(c.complete for c in calls)


async def _callback_status(surge: Surge, number: str, status: str) -> bool:
    cb = await surge.callback_of(number)
    return cb is not None and cb.status == status
