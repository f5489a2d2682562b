"""What the console tests publish on the feed, in the shapes of the event stream's contract
(``agent``, ``call``, ``pop``), and the call rows behind them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from live.hub import Audience
from store.models import Call
from tests.web.conftest import Site

HOSTILE_NAME = '<img src=x onerror="window.__xss=1">Bà Tư'

TRACK_CONNECTION = """
window.__connection = [];
document.addEventListener("DOMContentLoaded", () => {
  const node = document.getElementById("connection");
  if (!node) return;
  new MutationObserver(() => window.__connection.push(node.dataset.state))
    .observe(node, { attributes: true, attributeFilter: ["data-state"] });
});
"""


async def add_call(site: Site, number: str, **fields: Any) -> Call:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "uniqueid": f"1700000000.{number[-4:]}",
        "linkedid": f"1700000000.{number[-4:]}",
        "caller_number": number,
        "caller_name": HOSTILE_NAME,
        "arrived_at": now - timedelta(seconds=40),
        "queue_entered_at": now - timedelta(seconds=30),
        "answered_at": now - timedelta(seconds=20),
        "category": "medical",
        "priority": 10,
        "route": "ivr",
        "queue": "medical-718",
        "agent_id": site.agent_id,
        "agent_endpoint": "agent01",
        "status": "answered",
        "district_code": 718,
    }
    values.update(fields)
    async with site.db.session() as session:
        call = Call(**values)
        session.add(call)
        await session.commit()
        return call


def call_data(call: Call, site: Site, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uniqueid": call.uniqueid,
        "call_id": call.id,
        "status": call.status,
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "arrived_at": call.arrived_at.isoformat(),
        "answered_at": None,
        "ended_at": None,
        "queue": call.queue,
        "category": call.category,
        "priority": call.priority,
        "route": call.route,
        "district_code": call.district_code,
        "district_name": "Thủ Dầu Một",
        "redial": True,
        "repeat_of": "1699999999.1",
        "agent_id": site.agent_id,
        "wait_s": 10.0,
        "talk_s": None,
    }
    data.update(changes)
    return data


def mine(site: Site) -> Audience:
    return Audience(staff=frozenset(), agent_ids=frozenset({site.agent_id}))


def agent_event(site: Site, state: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "agent_id": site.agent_id,
        "endpoint": "agent01",
        "name": "agent01",
        "state": state,
        "since": (datetime.now(UTC) - timedelta(seconds=65)).isoformat(),
        "reason": None,
        "call_uniqueid": None,
        "queues": ["medical-718"],
        "wrapup_until": None,
        "answered_today": 3,
    }
    data.update(changes)
    return data


def pop_for(call: Call, site: Site) -> dict[str, Any]:
    return {
        "agent_id": site.agent_id,
        "call": call_data(call, site, status="connected"),
        "previous_calls": [
            {
                "call_id": 1,
                "arrived_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
                "status": "answered",
                "category": "food",
                "disposition": "advice",
            }
        ],
        "open_incidents": [],
    }
