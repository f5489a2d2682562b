"""The tables: agents, calls, API users and their tokens, and the statistics rollups.

Free-text columns are unbounded ``String`` so that a long Vietnamese name or an unexpected
hangup cause never fails an insert on PostgreSQL. The vocabularies (statuses, routes, roles;
the categories in ``store.categories``) are ``StrEnum`` classes and plain strings in the
tables, so that adding a value needs no schema change.

One concern, the schema as Alembic's revisions build it; it stays one module so that every
table, constraint and index can be read against the migrations in one place.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.types import UTCDateTime, utcnow

__all__ = [
    "PERIOD_15M",
    "PERIOD_DAY",
    "SL_EDGES",
    "Agent",
    "AgentSkill",
    "AgentState",
    "AgentStateChange",
    "Announcement",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Call",
    "CallOutcome",
    "CallStatus",
    "Callback",
    "CallbackStatus",
    "Conference",
    "ConferenceEvent",
    "ConferencePoint",
    "ConferenceStatus",
    "Disposition",
    "Incident",
    "IncidentEvent",
    "IncidentStatus",
    "IvrEvent",
    "IvrOutcome",
    "LegalHold",
    "Place",
    "Recording",
    "RecordingPause",
    "Role",
    "Route",
    "Team",
    "TeamKind",
    "TeamMember",
    "TeamPhone",
    "Urgency",
    "User",
    "agent_pause_stats",
    "agent_stats",
    "queue_stats",
]

# Named constraints make later Alembic revisions (and SQLite batch mode) able to drop them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class CallStatus(StrEnum):
    """Where a call is (live) or how it ended (final)."""

    IN_IVR = "in_ivr"
    QUEUED = "queued"
    CONNECTED = "connected"
    ANSWERED = "answered"
    ABANDONED_QUEUE = "abandoned_queue"
    ABANDONED_IVR = "abandoned_ivr"
    SELF_SERVED = "self_served"  # left the menu after recorded information: no agent needed
    CALLBACK = "callback"  # chose to be called back and hung up; see the callbacks table


class Route(StrEnum):
    """How a call reached its queue."""

    IVR = "ivr"  # the citizen chose in the menu
    DEFAULT = "default"  # no valid input, the IVR's default
    FALLBACK = "fallback"  # FastAGI was down; the dialplan sent it to the general queue


class IvrOutcome(StrEnum):
    """How a call left the IVR."""

    TRANSFERRED = "transferred"  # reached a queue
    SELF_SERVED = "self_served"  # heard recorded information and left (or was said goodbye)
    ABANDONED = "abandoned"  # hung up inside the menu
    CALLBACK = "callback"  # chose to be called back (or to keep their pending callback)


class AgentState(StrEnum):
    """What an agent is doing, as app_queue's member events say (see queues/agent_state.py)."""

    LOGGED_OUT = "logged_out"
    IDLE = "idle"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAPUP = "wrapup"
    PAUSED = "paused"


class CallbackStatus(StrEnum):
    """Where a callback is. ``completed``, ``failed`` and ``cancelled`` are final."""

    WAITING = "waiting"  # its placeholder holds the caller's place in the queue
    CALLING = "calling"  # an agent took the placeholder; the citizen is being rung
    RETRY = "retry"  # the citizen did not answer; tried again at next_attempt_at
    COMPLETED = "completed"  # the citizen answered and talked to the agent
    FAILED = "failed"  # every attempt went unanswered
    CANCELLED = "cancelled"  # the citizen called back in and was served, or a supervisor


class Role(StrEnum):
    """What an API user may do; see the routers for who may call what."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    TEAM = "team"
    ADMIN = "admin"


class Disposition(StrEnum):
    """How an agent closed a call (its outcome)."""

    ADVICE = "advice"  # advice given (medical, self-care)
    INFORMATION = "information"  # information given
    INCIDENT = "incident"  # an incident was created and dispatched
    DUPLICATE = "duplicate"  # about an incident already open: linked to it
    WRONG_NUMBER = "wrong_number"
    PRANK = "prank"


class Urgency(StrEnum):
    """How soon a team must act; sets the acknowledgment deadline (dispatch/deadlines.py)."""

    CRITICAL = "critical"  # life-threatening: minutes
    URGENT = "urgent"
    NORMAL = "normal"


class IncidentStatus(StrEnum):
    """Where an incident is; ``resolved`` and ``cancelled`` are final (dispatch/lifecycle.py)."""

    NEW = "new"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class TeamKind(StrEnum):
    """An operations center (province, district) or a rapid-response team (any level)."""

    CENTER = "center"
    TEAM = "team"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Agent(Base):
    """A call-taker, one per PJSIP endpoint (``agent01``…)."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]
    logged_in: Mapped[bool] = mapped_column(default=False, server_default=false())
    logged_in_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The district-level unit (vietnam-provinces code) whose callers the agent takes first.
    home_district: Mapped[int | None]
    # Paused in every queue, with one of the configured reasons, since when.
    paused: Mapped[bool] = mapped_column(default=False, server_default=false())
    pause_reason: Mapped[str | None]
    paused_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True, server_default=true())

    skills: Mapped[list[AgentSkill]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="AgentSkill.category"
    )


class AgentSkill(Base):
    """How well an agent handles a category: proficiency 1 (can) to 5 (expert)."""

    __tablename__ = "agent_skills"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(primary_key=True)
    proficiency: Mapped[int]


class AgentStateChange(Base):
    """An agent entered ``state`` at ``at``; the state lasts until the agent's next row.

    Written by the agent-state tracker from AMI member events, kept for the statistics
    (occupancy, pause time by reason).
    """

    __tablename__ = "agent_state_changes"
    __table_args__ = (Index("ix_agent_state_changes_agent_at", "agent_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[str]
    reason: Mapped[str | None]  # the pause reason when state is "paused"
    # The call when ringing, on_call or wrapup; indexed: the statistics attribute wrap-up
    # time to the call it followed.
    call_uniqueid: Mapped[str | None] = mapped_column(index=True)


class Call(Base):
    """One citizen call, from arrival to hangup; ``complete`` once every end fact is in."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_arrived_category_status", "arrived_at", "category", "status"),
        # The returning-caller look-up: this number's last district.
        Index("ix_calls_caller_number_arrived", "caller_number", "arrived_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uniqueid: Mapped[str] = mapped_column(unique=True)
    linkedid: Mapped[str] = mapped_column(index=True)
    caller_number: Mapped[str]
    caller_name: Mapped[str] = mapped_column(default="", server_default="")
    arrived_at: Mapped[datetime] = mapped_column(index=True)
    # Indexed for the statistics: a call is offered in the bucket it entered the queue, and
    # counts for its agent in the bucket it was answered.
    queue_entered_at: Mapped[datetime | None] = mapped_column(index=True)
    answered_at: Mapped[datetime | None] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    ivr_choice: Mapped[str | None]
    category: Mapped[str | None]
    priority: Mapped[int | None]
    route: Mapped[str | None]
    queue: Mapped[str | None]
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    agent_endpoint: Mapped[str | None]
    status: Mapped[str] = mapped_column(index=True)
    wait_s: Mapped[float | None]
    talk_s: Mapped[float | None]
    hangup_cause: Mapped[str | None]
    complete: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The IVR's classification: the district-level unit's code (vietnam-provinces), and how
    # the call left the menu ("transferred" to a queue, "self_served" after information,
    # "abandoned" by hanging up) and from which node.
    district_code: Mapped[int | None]
    ivr_outcome: Mapped[str | None]
    ivr_exit_node: Mapped[str | None]
    # The uniqueid of the earlier call of the same number that was still open (waiting, or
    # with a callback pending) when this one arrived: a redial, not new demand.
    repeat_of: Mapped[str | None] = mapped_column(index=True)
    # The Asterisk instance the call came through (``HOTLINE_ASTERISK_INSTANCE``): a service
    # reconciles only its own instance's calls, never another's live ones.
    asterisk_instance: Mapped[str] = mapped_column(
        default="main", server_default="main", index=True
    )

    # lazy="raise": under asyncio an implicit lazy load cannot run; load it explicitly
    # (selectinload) and get a clear error when that was forgotten.
    agent: Mapped[Agent | None] = relationship(lazy="raise")


class User(Base):
    """Someone who calls the API; an ``agent`` user is tied to one agent."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    role: Mapped[str]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A ``team`` user acts for this team (or center): acknowledges its incidents, and a
    # center re-assigns those of the places under it.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    # Argon2id (argon2-cffi's encoded form, parameters and salt included); NULL: this user
    # signs in with bearer tokens only.
    password_hash: Mapped[str | None] = mapped_column(default=None)

    agent: Mapped[Agent | None] = relationship(lazy="raise")


class ApiToken(Base):
    """A bearer token of a user, stored only as its SHA-256."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 hex of the token. The tokens are 32 random bytes, so no one can guess or
    # brute-force them from the hash: a slow password hash (bcrypt, argon2) would add nothing
    # but cost to every request.
    token_hash: Mapped[str] = mapped_column(unique=True)
    label: Mapped[str] = mapped_column(default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    # Set when issued (created_at + the role's lifetime then); the role's lifetime now is
    # also enforced, so shortening it in the settings takes effect at once. None: only
    # the role's lifetime applies (tokens issued before expiry existed).
    expires_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="raise")


class IvrEvent(Base):
    """One step of a call through the menu: a node reached, a key, a timeout, a hang-up."""

    __tablename__ = "ivr_events"
    __table_args__ = (Index("ix_ivr_events_at_node", "at", "node"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_uniqueid: Mapped[str] = mapped_column(index=True)
    seq: Mapped[int]
    node: Mapped[str]
    # enter, key, invalid, timeout, back, exhausted, district, confirm, heard, queue, hangup;
    # offer, repeat, callback (see ivr.ports.IvrStep)
    kind: Mapped[str]
    key: Mapped[str | None]
    at: Mapped[datetime]


class Announcement(Base):
    """Recorded information a supervisor updated over REST; overrides the menu file's text."""

    __tablename__ = "announcements"

    name: Mapped[str] = mapped_column(primary_key=True)
    text: Mapped[str]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None]
    # The text callers heard before this one (the menu file's, or an earlier rewrite) and
    # who had set it: what "revert" brings back. NULL: nothing to revert to.
    previous_text: Mapped[str | None]
    previous_by: Mapped[str | None]


class PauseReason(Base):
    """A reason an agent may give for a pause. ``position`` is the N of the phone code *2N:
    never reused nor changed, so a retired reason leaves its code unused and the others'
    codes stay as agents learnt them."""

    __tablename__ = "pause_reasons"

    code: Mapped[str] = mapped_column(primary_key=True)
    label: Mapped[str]
    position: Mapped[int] = mapped_column(unique=True)
    retired: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None]


class Callback(Base):
    """A caller who chose to be called back instead of waiting on the line.

    A placeholder channel holds the caller's place in the queue (``placeholder_uniqueid``);
    when an agent takes it, the hotline rings the citizen. Times in UTC.
    """

    __tablename__ = "callbacks"
    __table_args__ = (
        Index("ix_callbacks_status_next", "status", "next_attempt_at"),
        # The callback caps count the requests of the last window at start.
        Index("ix_callbacks_requested_at", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_uniqueid: Mapped[str] = mapped_column(unique=True)  # the call that asked for it
    caller_number: Mapped[str] = mapped_column(index=True)
    category: Mapped[str | None]
    queue: Mapped[str]
    priority: Mapped[int] = mapped_column(default=0, server_default="0")
    district_code: Mapped[int | None]
    status: Mapped[str] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    requested_at: Mapped[datetime]
    # When the caller would have joined the queue (the offer began): the place it keeps.
    queued_since: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    placeholder_uniqueid: Mapped[str | None]
    agent_endpoint: Mapped[str | None]
    result: Mapped[str | None]  # last attempt: answered, noanswer, busy, failed...
    completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# -- places, teams, outcomes and incidents (dispatch/) -------------------------------------------


class Place(Base):
    """An administrative unit: a tree of any depth (province → district → commune in 2021).

    ``code`` is the unit's official code (vietnam-provinces), unique within its ``level``
    only: district 74 and province 74 are different places. ``path`` is the ids from the
    root down, ``/1/12/130/``, so "everything under X" is a prefix match.
    """

    __tablename__ = "places"
    __table_args__ = (Index("ix_places_level_code", "level", "code", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("places.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[str]  # province, district, commune (dispatch/places.py)
    depth: Mapped[int]  # 0 for a root
    code: Mapped[int]
    name: Mapped[str]
    division_type: Mapped[str] = mapped_column(default="", server_default="")
    codename: Mapped[str] = mapped_column(default="", server_default="")
    path: Mapped[str] = mapped_column(index=True)


class Team(Base):
    """An operations center or a rapid-response team, sitting at one place."""

    __tablename__ = "teams"
    __table_args__ = (Index("ix_teams_place_kind", "place_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    kind: Mapped[str]  # TeamKind
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id", ondelete="RESTRICT"))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    members: Mapped[list[TeamMember]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="TeamMember.id"
    )
    phones: Mapped[list[TeamPhone]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="TeamPhone.position"
    )


class TeamMember(Base):
    """A person of a team."""

    __tablename__ = "team_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str]
    role: Mapped[str] = mapped_column(default="member", server_default="member")
    phone_number: Mapped[str | None]


class TeamPhone(Base):
    """A phone the hotline calls to give a team its orders, tried in ``position`` order.

    Either a PJSIP endpoint of this Asterisk (``endpoint``; the development phones) or a
    number reached through the telephone network's gateway (``number``).
    """

    __tablename__ = "team_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0, server_default="0")
    endpoint: Mapped[str | None]
    number: Mapped[str | None]
    label: Mapped[str] = mapped_column(default="", server_default="")


class CallOutcome(Base):
    """What an agent recorded of a call: one per call.

    ``idempotency_key`` (with the user who sent it) makes a retried request record once;
    ``request_hash`` tells a retry from a different request reusing the key.
    """

    __tablename__ = "call_outcomes"
    __table_args__ = (
        Index("ix_call_outcomes_user_key", "recorded_by", "idempotency_key", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    idempotency_key: Mapped[str | None]
    request_hash: Mapped[str]
    disposition: Mapped[str] = mapped_column(index=True)
    notes: Mapped[str] = mapped_column(default="", server_default="")
    address: Mapped[str] = mapped_column(default="", server_default="")
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id", ondelete="SET NULL"))
    category: Mapped[str | None]
    urgency: Mapped[str | None]
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Incident(Base):
    """A citizen's need turned into an order to a team; see dispatch/lifecycle.py.

    The timers are columns, so a restarted service finds them: ``escalate_at`` (go up a
    level if the assigned team has not acknowledged by then) and ``call_due_at`` (call the
    team's phone, first or again). ``ack_due_at`` is the deadline people see.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_created", "status", "created_at"),
        Index("ix_incidents_place_path_status", "place_path", "status"),
        # The duplicate check: an open incident of this caller, or at this commune.
        Index("ix_incidents_open_caller", "caller_number", "status"),
        Index("ix_incidents_place_category", "place_id", "category"),
        # The figures' rollups (dispatch.rollups): incidents closed after their day was rolled.
        Index("ix_incidents_closed_at", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    caller_number: Mapped[str] = mapped_column(default="", server_default="")
    category: Mapped[str]
    urgency: Mapped[str]
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id", ondelete="RESTRICT"))
    place_path: Mapped[str]  # the place's path, copied: filters by area need no join
    address: Mapped[str] = mapped_column(default="", server_default="")
    notes: Mapped[str] = mapped_column(default="", server_default="")
    status: Mapped[str] = mapped_column(index=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    # 0 at the team of the place, +1 each time it goes up a level.
    escalation: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    dispatched_at: Mapped[datetime | None]  # to the team that holds it now
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]  # resolved or cancelled
    ack_due_at: Mapped[datetime | None] = mapped_column(index=True)
    # The escalation timer: ack_due_at while a center above can take it over; None at the top
    # (the incident stays overdue for the monitoring, but nothing more fires).
    escalate_at: Mapped[datetime | None] = mapped_column(index=True)
    call_due_at: Mapped[datetime | None] = mapped_column(index=True)
    call_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # The first team it was dispatched to and when: what the teams' statistics measure.
    first_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    # The team that acknowledged it, and the time from its dispatch to that team.
    acknowledged_by_team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    ack_s: Mapped[float | None]
    resolve_s: Mapped[float | None]  # from creation to resolved


class IncidentEvent(Base):
    """One thing that happened to an incident, kept forever: who, when, why."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # created, status, assigned, escalated, phone, linked (see dispatch/lifecycle.py)
    kind: Mapped[str]
    from_status: Mapped[str | None]
    to_status: Mapped[str | None]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    actor: Mapped[str]  # "user:<name>", "phone:<endpoint or number>", "system"
    reason: Mapped[str] = mapped_column(default="", server_default="")
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))


# -- the command conference (conference/) and the audit log ---------------------------------------


class ConferenceStatus(StrEnum):
    """Where a conference is; ``ended`` is final."""

    SCHEDULED = "scheduled"
    RUNNING = "running"
    ENDED = "ended"


class Conference(Base):
    """A command conference: its title, who made it, and the controls' current state.

    ``starts_at`` set: the service starts it then (a timer in the database, kept across
    restarts); None: it waits for ``POST /conferences/{id}/start``.
    """

    __tablename__ = "conferences"
    __table_args__ = (Index("ix_conferences_status_starts", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    status: Mapped[str]  # ConferenceStatus
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The operations center its creator acted for (a ``team`` user's center); its users see
    # and control it. None when a supervisor or an administrator made it.
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    starts_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    record: Mapped[bool] = mapped_column(default=False, server_default=false())
    recording: Mapped[bool] = mapped_column(default=False, server_default=false())
    locked: Mapped[bool] = mapped_column(default=False, server_default=false())
    muted_all: Mapped[bool] = mapped_column(default=True, server_default=true())
    # The point given the floor (unmuted), if any: no foreign key, a point is the
    # conference's own row and goes with it.
    floor_point_id: Mapped[int | None]
    recording_path: Mapped[str | None]
    root_node: Mapped[str] = mapped_column(default="root", server_default="root")


class ConferencePoint(Base):
    """One phone a conference calls: a team's (its first phone; the others are read from
    ``team_phones`` when a retry needs them), a leader's, or a bare number.

    ``state`` is ``conference.roll.PointState``; ``attempts`` counts calls placed (the
    account code of attempt N is ``conf-<cid>-<pid>-<N>``), ``phone_index`` the team phone
    the last one rang."""

    __tablename__ = "conference_points"
    __table_args__ = (Index("ix_conference_points_conference_state", "conference_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id", ondelete="SET NULL"))
    label: Mapped[str]
    endpoint: Mapped[str | None]
    number: Mapped[str | None]
    is_leader: Mapped[bool] = mapped_column(default=False, server_default=false())
    node: Mapped[str | None]
    state: Mapped[str]
    reason: Mapped[str] = mapped_column(default="", server_default="")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    phone_index: Mapped[int] = mapped_column(default=0, server_default="0")
    channel: Mapped[str | None]
    muted: Mapped[bool] = mapped_column(default=True, server_default=true())
    hand_at: Mapped[datetime | None]
    talking: Mapped[bool] = mapped_column(default=False, server_default=false())
    joined_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConferenceEvent(Base):
    """A point's change of state, or a control, kept forever: ``kind`` is ``state`` for the
    former, the control's name (``mute_all``, ``floor``…) for the latter, with who asked,
    how long Asterisk took to answer and whether it did."""

    __tablename__ = "conference_events"
    __table_args__ = (Index("ix_conference_events_conference_at", "conference_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id", ondelete="CASCADE"))
    point_id: Mapped[int | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str]
    state: Mapped[str | None]
    reason: Mapped[str] = mapped_column(default="", server_default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    latency_ms: Mapped[float | None]
    ok: Mapped[bool] = mapped_column(default=True, server_default=true())


class AuditEntry(Base):
    """Something a person did, kept forever (``store.audit``): who, what, to what
    (``target``, e.g. ``conference:7``), the details (text or JSON) and whether it worked."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target_at", "target", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    user_name: Mapped[str] = mapped_column(default="", server_default="")
    action: Mapped[str]
    target: Mapped[str] = mapped_column(default="", server_default="")
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    ok: Mapped[bool] = mapped_column(default=True, server_default=true())
    latency_ms: Mapped[float | None]


# -- statistics rollups (stats/rollups.py builds them, stats/history.py reads them) ------
#
# Plain tables rather than mapped classes: they are written and read only in bulk, and the
# service-level columns are generated from SL_EDGES.

PERIOD_15M = 15 * 60
PERIOD_DAY = 24 * 60 * 60  # a day in Vietnam (UTC+7): its bucket is 17:00 UTC the day before

# The thresholds T (seconds) for which each rollup row counts "answered within T s" (wait ≤ T):
# every second to 30 s, every 5 s to 60 s, then a few long ones. A threshold outside this
# list cannot be answered from the rollups (and is refused with a 422).
SL_EDGES: tuple[int, ...] = (*range(1, 31), *range(35, 61, 5), 90, 120, 180, 240, 300)


def _sums(*names: str) -> list[Column[float]]:
    return [Column(name, Float, nullable=False, server_default="0") for name in names]


def _counts(*names: str) -> list[Column[int]]:
    return [Column(name, Integer, nullable=False, server_default="0") for name in names]


# Calls per (period, bucket, category, Asterisk queue), counted in the bucket in which they
# entered the queue. See stats/history.py for what each figure means.
queue_stats = Table(
    "queue_stats",
    Base.metadata,
    Column("period_s", Integer, primary_key=True),
    Column("bucket", UTCDateTime(), primary_key=True),
    Column("category", String, primary_key=True),
    Column("queue", String, primary_key=True),
    *_counts("offered", "answered", "abandoned", "short_abandoned", "callbacks", "repeats"),
    *_counts("handled"),  # answered calls whose talk time is known (the call has ended)
    *_sums("wait_answered_s", "talk_s", "wrapup_s"),
    Column("wait_max_s", Float, nullable=True),
    *_counts(*(f"answered_within_{t}" for t in SL_EDGES)),
)

# Seconds an agent spent in each state within the bucket, and the calls they answered in it.
agent_stats = Table(
    "agent_stats",
    Base.metadata,
    Column("period_s", Integer, primary_key=True),
    Column("bucket", UTCDateTime(), primary_key=True),
    Column(
        "agent_id",
        Integer,
        ForeignKey("agents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    *_counts("answered"),
    *_sums("logged_in_s", "idle_s", "ringing_s", "on_call_s", "wrapup_s", "paused_s"),
    Index("ix_agent_stats_agent_period_bucket", "agent_id", "period_s", "bucket"),
)

# Paused seconds per reason (the reasons are settings, hence rows rather than columns).
agent_pause_stats = Table(
    "agent_pause_stats",
    Base.metadata,
    Column("period_s", Integer, primary_key=True),
    Column("bucket", UTCDateTime(), primary_key=True),
    Column(
        "agent_id",
        Integer,
        ForeignKey("agents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("reason", String, primary_key=True),
    Column("paused_s", Float, nullable=False),
    Index("ix_agent_pause_stats_agent_period_bucket", "agent_id", "period_s", "bucket"),
)


# -- the dispatch figures' rollups (issue 16; dispatch/rollups.py) -----------------------------

# The Vietnam days rolled up, and as of when: a day's rows hold its incidents that were closed
# before ``as_of``; the others are read live.
incident_rollup_days = Table(
    "incident_rollup_days",
    Base.metadata,
    Column("day", Integer, primary_key=True),  # date.toordinal() of the Vietnam day
    Column("as_of", UTCDateTime(), nullable=False),
)

# Per dyadic block of days (2**level days from ``start``, a multiple of 2**level) × kind
# ("place", "taker", "first") × group (a place, a team): counts, and the medians' histograms
# (``dispatch.rollups.HIST``: zlib of 2 × NBINS little-endian uint32, ack_s then resolve_s).
incident_rollups = Table(
    "incident_rollups",
    Base.metadata,
    Column("level", Integer, primary_key=True),
    Column("start", Integer, primary_key=True),
    Column("kind", String, primary_key=True),
    Column("group_id", Integer, primary_key=True),
    *_counts("n", "acknowledged", "resolved", "cancelled", "escalated"),
    Column("hists", LargeBinary, nullable=True),
)

# -- recordings (issue 15; recordings/) ----------------------------------------------------


class Recording(Base):
    """One recorded leg (a call from its answer, a callback's citizen leg, an order read to a
    team phone, a conference): made when Asterisk starts the file, sealed when it has closed
    it (``seq``, ``sha256``, ``prev_chain``, ``chain`` set then; see ``recordings.chain``).

    A purged recording keeps its row (``purged_at``, ``purge_reason``) with its digest and
    chain link, so the chain still verifies after its file is gone.
    """

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_started_at_kind", "started_at", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The chain's order, given at sealing: 1, 2, 3… without gaps (unique across the nodes).
    seq: Mapped[int | None] = mapped_column(unique=True)
    kind: Mapped[str]  # pbx.recording_signals.RecordingKind
    ref: Mapped[str]
    # The citizen's call it belongs to: the call itself, a callback's original call.
    call_uniqueid: Mapped[str | None] = mapped_column(index=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    conference_id: Mapped[int | None] = mapped_column(
        ForeignKey("conferences.id", ondelete="SET NULL"), index=True
    )
    uniqueid: Mapped[str]
    channel: Mapped[str]
    # The file, relative to the recordings directory: one row per file.
    name: Mapped[str] = mapped_column(unique=True)
    instance: Mapped[str] = mapped_column(default="main", server_default="main")
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[float | None]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None]
    prev_chain: Mapped[str | None]
    chain: Mapped[str | None]
    retention_class: Mapped[str | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    purged_at: Mapped[datetime | None]
    purge_reason: Mapped[str | None]
    # JSON: the caller's number, the agent's endpoint… as known when it was sealed.
    parties: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    # Seconds the recording was paused (silence in the file), summed at each resume.
    paused_s: Mapped[float] = mapped_column(default=0.0, server_default="0")


class RecordingPause(Base):
    """A span a recording was paused by someone (a caller's bank details); open while
    ``resumed_at`` is NULL."""

    __tablename__ = "recording_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    paused_at: Mapped[datetime]
    resumed_at: Mapped[datetime | None]
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    by_name: Mapped[str] = mapped_column(default="", server_default="")


class LegalHold(Base):
    """Keep a call's, or an incident's, recordings whatever their retention, until released
    (the row stays: who held, who released, when)."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str]
    created_by: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(index=True)
    released_by: Mapped[str | None]
