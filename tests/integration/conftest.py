"""A whole hotline on a real Asterisk, once per module and database.

The ``stack`` fixture provisions a throwaway Asterisk instance exactly as ``make run`` does,
runs the service in-process on free ports and yields it with an API client logged in as a
supervisor. It runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from ivr.menu_file import DEFAULT_MENU
from simulation.citizens import citizen_scenario, run_citizens
from simulation.sipp import remove_run
from simulation.stack import Stack, free_udp_tcp_port
from store.users import create_user
from tests.conftest import POSTGRES_ADMIN_URL, _pg_execute


@dataclass
class Live:
    stack: Stack
    api: httpx.AsyncClient
    supervisor_token: str

    async def call(
        self,
        number: str,
        keys: str = "",
        *,
        hangup_after_ms: int | None = None,
        within_s: float = 120,
    ) -> dict[str, object]:
        """A SIPp citizen dials 1022 from ``number``; return the call's record over REST."""
        proc = run_citizens(
            citizen_scenario(keys, hangup_after_ms=hangup_after_ms, wait_for_bye_ms=200_000),
            [number],
            server_port=self.stack.settings.sip_port,
            local_port=free_udp_tcp_port(),
            media_port=self.stack.next_media_port(),
        )
        try:
            rc = await asyncio.wait_for(asyncio.to_thread(proc.wait), within_s)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        remove_run(proc)
        assert rc == 0, f"SIPp citizen {number} failed ({rc}): {err[-1500:]}"
        return await self.complete_record_of(number)

    async def complete_record_of(self, number: str, within_s: float = 30) -> dict[str, object]:
        """The newest call from ``number``, once the service has written it complete."""
        tracker = self.stack.running.tracker
        await self.stack.wait_for(
            lambda: (
                tracker.pending == 0
                and not any(c.caller_number == number for c in tracker.calls.values())
            ),
            within_s,
            f"the record of {number} to be complete",
        )
        return await self.record_of(number)

    async def records_of(self, number: str) -> list[dict[str, object]]:
        """Every call from ``number``, newest first."""
        resp = await self.api.get("/calls", params={"limit": 500})
        assert resp.status_code == 200, resp.text
        return [dict(c) for c in resp.json()["items"] if c["caller_number"] == number]

    async def record_of(self, number: str) -> dict[str, object]:
        """The newest call from ``number``."""
        mine = await self.records_of(number)
        assert mine, f"no record for {number}"
        return mine[0]


@pytest.fixture(scope="module")
def menu_text() -> str:
    """The menu the module's ``live`` hotline starts with: the default one. A module may
    override this fixture (e.g. with shorter prompts, for callers who wait them out)."""
    return DEFAULT_MENU.read_text(encoding="utf-8")


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, menu_text: str
) -> AsyncIterator[Live]:
    state_dir: Path = tmp_path_factory.mktemp("hotline")
    # A copy of the menu, so a test may change it and reload.
    menu_file = state_dir / "menu.yaml"
    menu_file.write_text(menu_text, encoding="utf-8")
    async with (
        database_for(request.param) as url,
        Stack(
            state_dir=state_dir,
            database_url=url,
            talk_ms=2000,
            menu_file=menu_file,
            # These modules drive the menu and the queues with callers who hold; callbacks
            # are offered (and driven) in test_callbacks.py, on a stack of their own.
            settings={"callback_threshold_s": -1},
        ) as stack,
    ):
        hotline = stack.running
        _, token = await create_user(hotline.db, name="supervisor", role="supervisor")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=hotline.app()),
            base_url="http://hotline",
            headers={"Authorization": f"Bearer {token}"},
        ) as api:
            yield Live(stack, api, token)


@asynccontextmanager
async def database_for(kind: str) -> AsyncIterator[str]:
    """The database URL a stack of ``kind`` ("sqlite", "postgresql") gets: "" for SQLite
    (the stack's own file), a fresh PostgreSQL database dropped afterwards."""
    if kind != "postgresql":
        yield ""
        return
    pg_name = f"hotline_it_{secrets.token_hex(5)}"
    await _pg_execute(POSTGRES_ADMIN_URL, f'CREATE DATABASE "{pg_name}"')
    try:
        yield (
            make_url(POSTGRES_ADMIN_URL).set(database=pg_name).render_as_string(hide_password=False)
        )
    finally:
        await _pg_execute(POSTGRES_ADMIN_URL, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
