"""Per-node IVR statistics on a hand-made set of steps with hand-counted figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.db import Database
from store.ivr import ivr_stats
from store.models import Call, IvrEvent

T0 = datetime(2021, 8, 1, 8, 0, tzinfo=UTC)


async def test_stats_per_node(db: Database) -> None:
    steps = {
        # call a: 1 then hangs up in the medical sub-menu
        "a": [
            ("welcome", "enter", None),
            ("welcome", "key", "1"),
            ("medical_severity", "enter", None),
        ],
        # call b: timeout, invalid 8, then 3
        "b": [
            ("welcome", "enter", None),
            ("welcome", "timeout", None),
            ("welcome", "invalid", "8"),
            ("welcome", "key", "3"),
            ("violation", "enter", None),
            ("violation", "queue", None),
        ],
        # call c: 4, back, 1 ... yesterday: outside the window
        "c": [
            ("welcome", "enter", None),
            ("welcome", "key", "4"),
            ("info", "enter", None),
            ("info", "back", "*"),
        ],
    }
    async with db.session() as s:
        for uid, path in steps.items():
            at = T0 - timedelta(days=1) if uid == "c" else T0
            s.add(
                Call(
                    uniqueid=uid,
                    linkedid=uid,
                    caller_number="0901",
                    arrived_at=at,
                    status="abandoned_ivr" if uid == "a" else "answered",
                    ivr_outcome="abandoned" if uid == "a" else "transferred",
                    ivr_exit_node=path[-1][0],
                )
            )
            s.add_all(
                IvrEvent(
                    call_uniqueid=uid, seq=i, node=n, kind=k, key=key, at=at + timedelta(seconds=i)
                )
                for i, (n, k, key) in enumerate(path)
            )
        await s.commit()
        today = {n["node"]: n for n in await ivr_stats(s, since=T0)}
        ever = {n["node"]: n for n in await ivr_stats(s)}
    assert today["welcome"] == {
        "node": "welcome",
        "reached": 2,
        "keys": {"1": 1, "3": 1},
        "invalid": 1,
        "timeout": 1,
        "back": 0,
        "exhausted": 0,
        "heard": 0,
        "hung_up": 0,
    }
    assert today["medical_severity"]["reached"] == 1
    assert today["medical_severity"]["hung_up"] == 1
    assert "info" not in today
    assert ever["welcome"]["reached"] == 3 and ever["info"]["back"] == 1
