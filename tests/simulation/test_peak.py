"""A peak run's callers: their patience hangs up who still waits, and no one else."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from pbx.events import parse_event
from simulation.peak import CallWatch


class _FakeLink:
    def __init__(self) -> None:
        self.actions: list[tuple[str, Mapping[str, str]]] = []

    def status(self) -> dict[str, object]:
        return {"event_backlog": 0}

    async def action(self, name: str, fields: Mapping[str, str]) -> list[dict[str, str]]:
        self.actions.append((name, fields))
        return []


async def test_patience_hangs_up_a_caller_still_waiting_and_no_other() -> None:
    link = _FakeLink()
    watch = CallWatch(link, {"0900000001": 0.05, "0900000002": 0.05})  # type: ignore[arg-type]

    def ev(name: str, uid: str, number: str = "", **extra: str) -> None:
        headers = {
            "Event": name,
            "Uniqueid": uid,
            "Channel": f"PJSIP/pstn-{uid}",
            "CallerIDNum": number,
            "Context": "citizens",
            "Exten": "1022",
            **extra,
        }
        watch.on_event(parse_event(headers, 0.0))

    ev("Newchannel", "a", "0900000001")
    ev("Newchannel", "b", "0900000002")
    ev("Newchannel", "x", "0999999999")  # not one of ours
    ev("QueueCallerJoin", "a", Queue="food")
    ev("QueueCallerJoin", "b", Queue="food")
    ev("AgentConnect", "b", Queue="food")
    assert not watch.settled(2)
    await asyncio.sleep(0.15)
    assert link.actions == [("Hangup", {"Channel": "PJSIP/pstn-a", "Cause": "16"})]
    assert watch.gave_up == 1
    ev("Hangup", "a")
    assert watch.settled(2) and watch.arrived() == 2
