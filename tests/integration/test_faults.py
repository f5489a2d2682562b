"""Faults on a real Asterisk: the rebuild after a (re)connect never closes a live call."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from queues.calls import UNSEEN_CAUSE
from tests.integration.conftest import Live

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]


async def test_a_call_that_starts_after_the_snapshot_is_not_closed_by_the_rebuild(
    live: Live,
) -> None:
    """The race of the finding, made certain: CoreShowChannels answers, then a citizen
    dials 1022 before the reconciliation runs with that snapshot (which lacks the call)."""
    hotline = live.stack.running
    tracker = hotline.tracker
    number = "0901000601"
    real_channels = hotline.pbx.channels
    call: list[asyncio.Task[dict[str, object]]] = []

    async def snapshot_then_a_call() -> Sequence[Any]:
        channels = await real_channels()
        call.append(asyncio.create_task(live.call(number, "", hangup_after_ms=6000)))
        await live.stack.wait_for(
            lambda: any(c.caller_number == number for c in tracker.calls.values()),
            30,
            "the call to start",
        )
        return channels

    hotline.pbx.channels = snapshot_then_a_call  # type: ignore[method-assign]
    try:
        await hotline._on_ami_connect()
    finally:
        hotline.pbx.channels = real_channels  # type: ignore[method-assign]
    assert hotline.rebuild.status()["state"] == "done", hotline.rebuild.status()
    try:
        states = [c for c in tracker.calls.values() if c.caller_number == number]
        assert states, "the call left memory"
        assert all(not s.complete and s.hangup_cause != UNSEEN_CAUSE for s in states), states
    finally:
        rec = await call[0]
    # It ended when the caller hung up, as the events said, not at the rebuild.
    assert rec["status"] == "abandoned_ivr" and rec["complete"] is True
    assert rec["hangup_cause"] != UNSEEN_CAUSE


async def test_health_shows_the_rebuild(live: Live) -> None:
    body = (await live.api.get("/health")).json()
    rebuild = body["ami"]["rebuild"]
    assert rebuild["state"] == "done" and rebuild["failed_steps"] == []
    assert rebuild["count"] >= 1 and rebuild["duration_s"] is not None
