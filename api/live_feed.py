"""What the event stream carries: the domain's changes made into messages, once each.

``LiveFeed`` is told of changes by the domain's callbacks (wired in ``hotline1022/service.py``:
agent states, queues, calls, incidents) and of ``AgentCalled`` by the AMI link; it builds each
message's data and audience once and publishes it on the bus (``live.bus``). It also makes a
viewer's snapshot: from memory (agents, queues, open calls) and, for incidents, from the
database filtered as ``/monitoring`` and the incident routes filter.

Bursts are coalesced where that is cheap: queue items and calls are published at most every
``coalesce_s`` (100 ms by default), and a queue item only when it differs from the last one
published; agent states at once (an agent changes state a few times a minute). A pop (the
caller's history and open incidents) costs one set of queries per ring, whoever watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import aliased

from api.schemas import QueueOut
from dispatch.filters import OPEN_STATUSES, IncidentFilter, conditions, team_place
from live.bus import Bus
from live.hub import EVERYONE_STAFF, Audience, Viewer
from pbx.events import AgentCalled, AmiEvent, event_names
from queues.agent_state import AgentLiveState
from queues.calls import CallState
from queues.ports import AgentStateView, LiveQueueView
from stats.demand import VIETNAM
from store.db import Database
from store.models import Agent, Call, CallOutcome, Incident, IncidentEvent, Place, Team, User

__all__ = ["POP_HISTORY_DAYS", "LiveFeed", "same_queue_item"]

log = logging.getLogger(__name__)

POP_HISTORY_DAYS = 30
POP_HISTORY_LIMIT = 20
# How long a pop waits for its call's row (the tracker writes every 0.2 s).
POP_ROW_WAIT_S = 1.0
# The most a pop waits for the database (its row and history) before it goes out without.
POP_DB_LIMIT_S = 2.0
# The most a batch of call changes waits for their rows' ids before it goes out without.
CALL_IDS_WAIT_S = 0.5
# Most open incidents a snapshot carries (newest first).
SNAPSHOT_INCIDENTS = 500
# States in which the agent's current call (and its pop) still stands.
_WITH_CALL = ("ringing", "on_call", "wrapup")

QUEUES_AUDIENCE = Audience(agents=True)

# How far the oldest caller's entry may seem to move before a queue item is sent again.
WAIT_SLACK_S = 1.0


def same_queue_item(
    before: Mapping[str, Any], before_at: float, item: Mapping[str, Any], at: float
) -> bool:
    """True when ``item`` (read at ``at``) tells nothing ``before`` (read at ``before_at``)
    did not: the same fields, and the same oldest caller, whose wait only grew with the time
    between the two. A page counts the wait on its own clock from the item it got, so a
    growing wait alone is not a change: without this, every flush while a caller waits
    sent every queue again (three changes in four at the peak hour, bench/boards_load.py)."""
    if {k: v for k, v in before.items() if k != "longest_wait_s"} != {
        k: v for k, v in item.items() if k != "longest_wait_s"
    }:
        return False
    wait_before, wait = before.get("longest_wait_s"), item.get("longest_wait_s")
    if wait_before == wait or not item.get("waiting"):
        return True
    if not isinstance(wait_before, (int, float)) or not isinstance(wait, (int, float)):
        return False
    return abs((at - wait) - (before_at - wait_before)) <= WAIT_SLACK_S


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _epoch_iso(ts: float) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts else None


@dataclass(frozen=True)
class _AgentRow:
    id: int
    name: str


class LiveFeed:
    """Turns the domain's changes into the stream's messages (see the module doc)."""

    EVENTS: ClassVar[frozenset[str]] = event_names(AgentCalled)
    """What ``on_ami_event`` acts on (``AmiLink.add_listener(..., events=...)``)."""

    def __init__(
        self,
        bus: Bus,
        db: Database,
        *,
        agent_states: AgentStateView | None,
        queues: LiveQueueView,
        calls: Callable[[], Mapping[str, CallState]] = dict,
        district_names: Mapping[int, str] | None = None,
        coalesce_s: float = 0.1,
        heartbeat_s: float = 15.0,
        flush_calls: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.hub = bus.hub
        self.db = db
        self.agent_states = agent_states
        self.queues = queues
        self.calls = calls
        self.district_names = dict(district_names or {})
        self.coalesce_s = coalesce_s
        self.heartbeat_s = heartbeat_s
        self._flush_calls = flush_calls
        self._clock = clock
        self._agents: dict[str, _AgentRow] = {}
        self._looked_up: set[str] = set()
        self._answered: dict[int, int] = {}
        self._answered_day = self._today()
        self._counted: set[str] = set()
        self._call_ids: dict[str, int] = {}
        self._last_queue: dict[str, tuple[dict[str, Any], float]] = {}
        self._dirty_queues = False
        self._dirty_calls: dict[str, CallState] = {}
        self._dirty_incidents: set[int] = set()
        # incident id -> the team holding it when it was last published (open ones only).
        self._holders: dict[int, int | None] = {}
        self._scheduled: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._calls_lock = asyncio.Lock()
        # agent id -> the pop of their ringing or current call.
        self.pops: dict[int, dict[str, Any]] = {}
        # Issue 15, set by the wiring: what an agent's console shows after a (re)load of
        # being coached now (agent id -> the ``coaching`` message, or None), and which of
        # their calls' recordings are paused now (uniqueids -> since when).
        self.coaching_view: Callable[[int], dict[str, Any] | None] | None = None
        self.paused_view: Callable[[Iterable[str]], Awaitable[Mapping[str, datetime]]] | None = None

    # -- start and stop -------------------------------------------------------------------

    async def start(self) -> None:
        await self.load_agents()
        await self._load_answered_today()
        await self.bus.start()

    async def close(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.hub.close()
        await self.bus.close()

    async def load_agents(self) -> None:
        async with self.db.session() as s:
            rows = await s.execute(select(Agent.endpoint, Agent.id, Agent.name))
            self._agents = {ep: _AgentRow(aid, name) for ep, aid, name in rows.all()}

    def _today(self) -> datetime:
        # "Today" is the hotline's day, in Vietnam, whatever the server's zone.
        now = datetime.fromtimestamp(self._clock(), VIETNAM)
        return now.replace(hour=0, minute=0, second=0, microsecond=0)

    async def _load_answered_today(self) -> None:
        self._answered_day = self._today()
        async with self.db.session() as s:
            rows = await s.execute(
                select(Call.agent_id, Call.uniqueid).where(
                    Call.answered_at >= self._answered_day.astimezone(UTC),
                    Call.agent_id.is_not(None),
                )
            )
            self._answered, self._counted = {}, set()
            for agent_id, uid in rows.all():
                if agent_id is None:
                    continue
                self._answered[agent_id] = self._answered.get(agent_id, 0) + 1
                self._counted.add(uid)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sources (called by the domain, never block) ---------------------------------------

    def agent_changed(self, agent: AgentLiveState) -> None:
        row = self._agents.get(agent.endpoint)
        if row is None:
            # An agent created since the start (POST /agents), or no agent of ours: looked
            # up once.
            if agent.endpoint not in self._looked_up:
                self._looked_up.add(agent.endpoint)
                with contextlib.suppress(RuntimeError):  # no running loop: unit tests
                    self._spawn(self._late_agent(agent))
            return
        if agent.state not in _WITH_CALL:
            self.pops.pop(row.id, None)
        self.bus.publish("agent", self.agent_data(agent), Audience(agent_ids=frozenset({row.id})))
        self.queue_changed()  # its queues' agents_by_state

    async def _late_agent(self, agent: AgentLiveState) -> None:
        await self.load_agents()
        if agent.endpoint in self._agents:
            self.agent_changed(agent)

    def queue_changed(self, _queue: str | None = None) -> None:
        self._dirty_queues = True
        self._schedule()

    def call_changed(self, call: CallState) -> None:
        self._dirty_calls[call.uniqueid] = call
        self._count_answered(call)
        self._schedule()

    def incident_changed(self, incident_id: int) -> None:
        self._dirty_incidents.add(incident_id)
        self._schedule()

    def on_ami_event(self, ev: AmiEvent) -> None:
        """The screen pop: when an agent's phone rings (``AgentCalled``), before answer."""
        if isinstance(ev, AgentCalled):
            endpoint = ev.member_name or ev.interface.split("/", 1)[-1]
            try:
                self._spawn(self.pop(endpoint, ev.uniqueid))
            except RuntimeError:  # no running loop (unit tests feeding events by hand)
                return

    def _schedule(self) -> None:
        if self._scheduled is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._scheduled = loop.call_later(self.coalesce_s, self._flush)

    def _flush(self) -> None:
        self._scheduled = None
        if self._dirty_queues:
            self._dirty_queues = False
            self.publish_queues()
        if self._dirty_calls:
            calls, self._dirty_calls = self._dirty_calls, {}
            self._spawn(self._publish_calls(list(calls.values())))
        if self._dirty_incidents:
            ids, self._dirty_incidents = self._dirty_incidents, set()
            self._spawn(self._publish_incidents(sorted(ids)))

    # -- agents -----------------------------------------------------------------------------

    def _count_answered(self, call: CallState) -> None:
        if call.answered_at is None or not call.agent_endpoint or call.uniqueid in self._counted:
            return
        today = self._today()
        if today != self._answered_day:
            self._answered_day, self._answered, self._counted = today, {}, set()
        if call.answered_at < today:
            return
        row = self._agents.get(call.agent_endpoint)
        if row is not None:
            self._counted.add(call.uniqueid)
            self._answered[row.id] = self._answered.get(row.id, 0) + 1

    def agent_data(self, agent: AgentLiveState) -> dict[str, Any]:
        row = self._agents.get(agent.endpoint)
        call = agent.ringing or agent.on_call
        if agent.state == "wrapup":
            call = agent.last_call
        return {
            "agent_id": row.id if row else None,
            "endpoint": agent.endpoint,
            "name": row.name if row else agent.endpoint,
            "state": agent.state,
            "since": _epoch_iso(agent.since),
            "reason": agent.reason if agent.state == "paused" else None,
            "call_uniqueid": None if call in (None, "unknown") else call,
            "queues": sorted(agent.queues),
            "wrapup_until": _epoch_iso(agent.wrapup_until) if agent.state == "wrapup" else None,
            "answered_today": self._answered.get(row.id, 0) if row else 0,
        }

    def agents_data(self, viewer: Viewer) -> list[dict[str, Any]]:
        states = self.agent_states.snapshot() if self.agent_states is not None else {}
        out = []
        for endpoint, row in sorted(self._agents.items(), key=lambda kv: kv[1].id):
            if not Audience(agent_ids=frozenset({row.id})).admits(viewer):
                continue
            state = states.get(endpoint) or AgentLiveState(endpoint)
            out.append(self.agent_data(state))
        return out

    # -- queues -----------------------------------------------------------------------------

    def queues_data(self) -> list[dict[str, Any]]:
        states = self.agent_states.snapshot() if self.agent_states is not None else None
        return [
            QueueOut.from_view(view, states).model_dump(mode="json")
            for view in self.queues.snapshot()
        ]

    def publish_queues(self) -> int:
        """Publish the queue items that say something the last ones published did not."""
        sent = 0
        now = time.monotonic()
        for item in self.queues_data():
            last = self._last_queue.get(item["name"])
            if last is None or not same_queue_item(last[0], last[1], item, now):
                self._last_queue[item["name"]] = (item, now)
                self.bus.publish("queue", item, QUEUES_AUDIENCE)
                sent += 1
        return sent

    # -- calls ------------------------------------------------------------------------------

    def call_data(self, call: CallState, call_id: int | None = None) -> dict[str, Any]:
        row = self._agents.get(call.agent_endpoint) if call.agent_endpoint else None
        district = call.district_code
        return {
            "uniqueid": call.uniqueid,
            "call_id": call_id if call_id is not None else self._call_ids.get(call.uniqueid),
            "status": call.status,
            "caller_number": call.caller_number,
            "caller_name": call.caller_name,
            "arrived_at": _iso(call.arrived_at),
            "answered_at": _iso(call.answered_at),
            "ended_at": _iso(call.ended_at),
            "queue": call.queue,
            "category": call.category,
            "priority": call.priority,
            "route": call.route,
            "district_code": district,
            "district_name": self.district_names.get(district) if district is not None else None,
            "redial": call.repeat_of is not None,
            "repeat_of": call.repeat_of,
            "agent_id": row.id if row else None,
            "wait_s": call.wait_s,
            "talk_s": call.talk_s,
        }

    def call_audience(self, call: CallState) -> Audience:
        row = self._agents.get(call.agent_endpoint) if call.agent_endpoint else None
        return Audience(agent_ids=frozenset({row.id}) if row else frozenset())

    async def _lookup_call_ids(self, uids: Iterable[str]) -> None:
        wanted = [u for u in uids if u not in self._call_ids]
        if not wanted:
            return
        try:
            async with self.db.session() as s:
                rows = await s.execute(
                    select(Call.uniqueid, Call.id).where(Call.uniqueid.in_(wanted))
                )
                self._call_ids.update({uid: cid for uid, cid in rows.all()})
        except Exception:  # the database down: the calls go out without their ids
            log.warning("event stream: could not look up %d call id(s)", len(wanted))

    async def _publish_calls(self, calls: list[CallState]) -> None:
        # One batch at a time, in order (the lock is fair): a call's states never go out of
        # order when a lookup is slow.
        async with self._calls_lock:
            try:
                async with asyncio.timeout(CALL_IDS_WAIT_S):
                    await self._lookup_call_ids(c.uniqueid for c in calls)
            except TimeoutError:
                log.warning("event stream: %d call(s) sent without their ids", len(calls))
            self._send_calls(calls)

    def _send_calls(self, calls: list[CallState]) -> None:
        for call in calls:
            self.bus.publish("call", self.call_data(call), self.call_audience(call))
            if call.complete:
                self._call_ids.pop(call.uniqueid, None)

    def calls_data(self, viewer: Viewer) -> list[dict[str, Any]]:
        return [
            self.call_data(c)
            for c in sorted(self.calls().values(), key=lambda c: c.arrived_at)
            if not c.complete and self.call_audience(c).admits(viewer)
        ]

    # -- the screen pop ---------------------------------------------------------------------

    async def pop(self, endpoint: str, uniqueid: str) -> dict[str, Any] | None:
        """Publish the pop of ``uniqueid`` to the agent at ``endpoint`` (see the contract)."""
        row = self._agents.get(endpoint)
        if row is None:
            await self.load_agents()  # an agent created since the start
            row = self._agents.get(endpoint)
            if row is None:
                return None
        call = self.calls().get(uniqueid)
        if call is None:
            return None  # not a citizen's call (a callback's placeholder, a test)
        call_id: int | None = None
        previous: list[dict[str, Any]] = []
        incidents: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(POP_DB_LIMIT_S):
                call_id = await self._call_row(uniqueid)
                if call.caller_number:
                    previous, incidents = await self._history(call.caller_number, uniqueid)
        except Exception as exc:
            # The database is down or slow: the agent still sees who calls and what they
            # chose, at once; the history is missing, which the console says.
            log.warning("pop of %s without its history: %r", uniqueid, exc)
        data: dict[str, Any] = {
            "agent_id": row.id,
            "call": self.call_data(call, call_id),
            "previous_calls": previous,
            "open_incidents": incidents,
        }
        self.pops[row.id] = data
        self.bus.publish("pop", data, Audience(staff=frozenset(), agent_ids=frozenset({row.id})))
        return data

    async def _call_row(self, uniqueid: str) -> int | None:
        deadline = self._clock() + POP_ROW_WAIT_S
        while True:
            await self._lookup_call_ids([uniqueid])
            if uniqueid in self._call_ids or self._clock() >= deadline:
                return self._call_ids.get(uniqueid)
            if self._flush_calls is not None:
                with contextlib.suppress(Exception):
                    await self._flush_calls()
            await asyncio.sleep(0.05)

    async def _history(
        self, number: str, uniqueid: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        since = datetime.fromtimestamp(self._clock(), UTC) - timedelta(days=POP_HISTORY_DAYS)
        async with self.db.session() as s:
            calls = await s.execute(
                select(
                    Call.id, Call.arrived_at, Call.status, Call.category, CallOutcome.disposition
                )
                .outerjoin(CallOutcome, CallOutcome.call_id == Call.id)
                .where(
                    Call.caller_number == number,
                    Call.arrived_at >= since,
                    Call.uniqueid != uniqueid,
                )
                .order_by(Call.arrived_at.desc(), Call.id.desc())
                .limit(POP_HISTORY_LIMIT)
            )
            previous = [
                {
                    "call_id": cid,
                    "arrived_at": _iso(at),
                    "status": status,
                    "category": category,
                    "disposition": disposition,
                }
                for cid, at, status, category, disposition in calls.all()
            ]
            incidents = await self._incident_rows(
                s,
                [Incident.caller_number == number, Incident.status.in_(OPEN_STATUSES)],
            )
        open_incidents = [
            {
                k: d[k]
                for k in (
                    "id",
                    "category",
                    "urgency",
                    "status",
                    "commune_code",
                    "commune_name",
                    "address",
                    "team_name",
                )
            }
            for d, _ in incidents
        ]
        return previous, open_incidents

    # -- incidents --------------------------------------------------------------------------

    async def _incident_rows(
        self, session: Any, where: list[ColumnElement[bool]], limit: int | None = None
    ) -> list[tuple[dict[str, Any], Audience]]:
        """Incidents with what their messages say and who may see them (three queries)."""
        parent = aliased(Place)
        stmt = (
            select(Incident, Place.code, Place.name, parent.code, Team.name)
            .join(Place, Place.id == Incident.place_id)
            .outerjoin(parent, parent.id == Place.parent_id)
            .outerjoin(Team, Team.id == Incident.team_id)
            .where(*where)
            .order_by(Incident.id.desc())
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = (await session.execute(stmt)).all()
        if not rows:
            return []
        ids = [r[0].id for r in rows]
        # The agents of each incident's calls (its first and the linked ones).
        agents: dict[int, set[int]] = {i: set() for i in ids}
        first = await session.execute(
            select(Incident.id, Call.agent_id)
            .join(Call, Call.id == Incident.call_id)
            .where(Incident.id.in_(ids), Call.agent_id.is_not(None))
        )
        linked = await session.execute(
            select(IncidentEvent.incident_id, Call.agent_id)
            .join(Call, Call.id == IncidentEvent.call_id)
            .where(IncidentEvent.incident_id.in_(ids), Call.agent_id.is_not(None))
        )
        for incident_id, agent_id in [*first.all(), *linked.all()]:
            agents[incident_id].add(agent_id)
        out = []
        for incident, commune_code, commune_name, district_code, team_name in rows:
            data = {
                "id": incident.id,
                "status": incident.status,
                "category": incident.category,
                "urgency": incident.urgency,
                "commune_code": commune_code,
                "commune_name": commune_name,
                "district_code": district_code,
                "team_id": incident.team_id,
                "team_name": team_name,
                "call_id": incident.call_id,
                "address": incident.address,
                "created_at": _iso(incident.created_at),
                "ack_due_at": _iso(incident.ack_due_at),
            }
            audience = Audience(
                agent_ids=frozenset(agents[incident.id]),
                team_ids=frozenset(t for t in (incident.team_id, incident.first_team_id) if t),
                place_paths=(incident.place_path,),
            )
            out.append((data, audience))
        return out

    async def _publish_incidents(self, ids: list[int]) -> None:
        try:
            async with self.db.session() as s:
                rows = await self._incident_rows(s, [Incident.id.in_(ids)])
        except Exception:
            log.exception("event stream: incidents %s not published", ids)
            return
        for data, audience in reversed(rows):
            data.pop("commune_name", None)
            audience = self._with_previous_holder(data, audience)
            self.bus.publish("incident", data, audience)

    def _with_previous_holder(self, data: dict[str, Any], audience: Audience) -> Audience:
        """The team that held the incident until this change also gets it, once: a team
        sees what it holds wherever it is, and its board must learn that the incident went
        to another team (it may not read it afterwards, unless it is under its place)."""
        incident_id, holder = data["id"], data["team_id"]
        before = self._holders.get(incident_id)
        if data["status"] in OPEN_STATUSES:
            self._holders[incident_id] = holder
        else:
            self._holders.pop(incident_id, None)
        if before is None or before == holder or before in audience.team_ids:
            return audience
        return replace(audience, team_ids=audience.team_ids | {before})

    async def incidents_data(self, viewer: Viewer) -> list[dict[str, Any]]:
        """The open incidents ``viewer`` may see, as /monitoring and the incident routes
        choose them."""
        async with self.db.session() as s:
            where: list[ColumnElement[bool]]
            if viewer.role in EVERYONE_STAFF:
                where = [Incident.status.in_(OPEN_STATUSES)]
            elif viewer.role == "team" and viewer.team_id is not None:
                place = await team_place(s, viewer.team_id)
                f = IncidentFilter(
                    under=place.path if place else "/nowhere/", or_held_by=viewer.team_id
                )
                where = await conditions(s, f, OPEN_STATUSES)
            elif viewer.role == "agent" and viewer.agent_id is not None:
                own = select(Call.id).where(Call.agent_id == viewer.agent_id)
                linked = select(IncidentEvent.incident_id).where(IncidentEvent.call_id.in_(own))
                where = [
                    Incident.status.in_(OPEN_STATUSES),
                    or_(Incident.call_id.in_(own), Incident.id.in_(linked)),
                ]
            else:
                return []
            rows = await self._incident_rows(s, where, SNAPSHOT_INCIDENTS)
        out = []
        for data, audience in rows:
            self._holders.setdefault(data["id"], data["team_id"])
            if audience.admits(viewer):
                data.pop("commune_name", None)
                out.append(data)
        return out

    # -- a viewer's snapshot ----------------------------------------------------------------

    async def viewer_of(self, user: User) -> Viewer:
        place_path = None
        if user.role == "team" and user.team_id is not None:
            async with self.db.session() as s:
                place = await team_place(s, user.team_id)
                place_path = place.path if place else None
        return Viewer(
            user.role, agent_id=user.agent_id, team_id=user.team_id, place_path=place_path
        )

    async def snapshot(self, user: User, viewer: Viewer) -> dict[str, Any]:
        sees_queues = QUEUES_AUDIENCE.admits(viewer)
        calls = self.calls_data(viewer)
        coaching: dict[str, Any] | None = None
        paused: dict[str, str | None] = {}
        if viewer.role == "agent" and viewer.agent_id:
            if self.coaching_view is not None:
                coaching = self.coaching_view(viewer.agent_id)
            if self.paused_view is not None:
                since = await self.paused_view(c["uniqueid"] for c in calls if c.get("uniqueid"))
                paused = {uid: _iso(at) for uid, at in since.items()}
        return {
            "user": {
                "id": user.id,
                "name": user.name,
                "role": user.role,
                "agent_id": user.agent_id,
                "team_id": user.team_id,
            },
            "agents": self.agents_data(viewer),
            "queues": self.queues_data() if sees_queues else [],
            "calls": calls,
            "incidents": await self.incidents_data(viewer),
            "coaching": coaching,
            "recording_paused": paused,
            "pop": self.pops.get(viewer.agent_id)
            if viewer.role == "agent" and viewer.agent_id
            else None,
            "server_time": datetime.now(UTC).isoformat(),
        }
