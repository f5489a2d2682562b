"""The tables: agents, calls, API users and their tokens (SQLAlchemy 2 typed declarative).

Free-text columns are unbounded ``String`` so that a long Vietnamese name or an unexpected
hangup cause never fails an insert on PostgreSQL. The vocabularies (categories, statuses,
routes, roles) are ``StrEnum`` classes here and plain strings in the tables, so that adding a
value needs no schema change.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, Index, MetaData, false, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.types import UTCDateTime, utcnow

__all__ = [
    "Agent",
    "Announcement",
    "ApiToken",
    "Base",
    "Call",
    "CallStatus",
    "Category",
    "IvrEvent",
    "IvrOutcome",
    "Role",
    "Route",
    "User",
]

# Named constraints make later Alembic revisions (and SQLite batch mode) able to drop them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Category(StrEnum):
    """What the citizen calls about, as classified by the IVR."""

    MEDICAL = "medical"
    FOOD = "food"
    VIOLATION = "violation"
    GENERAL = "general"


class CallStatus(StrEnum):
    """Where a call is (live) or how it ended (final)."""

    IN_IVR = "in_ivr"
    QUEUED = "queued"
    CONNECTED = "connected"
    ANSWERED = "answered"
    ABANDONED_QUEUE = "abandoned_queue"
    ABANDONED_IVR = "abandoned_ivr"
    SELF_SERVED = "self_served"  # left the menu after recorded information: no agent needed


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


class Role(StrEnum):
    """What an API user may do; see the routers for who may call what."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    TEAM = "team"
    ADMIN = "admin"


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
    queue_entered_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
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

    user: Mapped[User] = relationship(lazy="raise")


class IvrEvent(Base):
    """One step of a call through the menu: a node reached, a key, a timeout, a hang-up."""

    __tablename__ = "ivr_events"
    __table_args__ = (Index("ix_ivr_events_at_node", "at", "node"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_uniqueid: Mapped[str] = mapped_column(index=True)
    seq: Mapped[int]
    node: Mapped[str]
    # enter, key, invalid, timeout, back, exhausted, district, confirm, heard, queue, hangup
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
