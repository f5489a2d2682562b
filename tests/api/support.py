"""Fakes for the PBX ports and the ``Api`` bundle the API tests work with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from queues.ports import (
    AgentNotFound,
    CallbackNotFound,
    CallbackStateError,
    PbxUnavailable,
    QueueView,
    UnknownPauseReason,
)
from store.db import Database
from store.models import Agent, Call, Callback, CallbackStatus, CallStatus

__all__ = ["Api", "FakeAgentControl", "FakeCallbacks", "FakeQueueView"]


class FakeAgentControl:
    """Records what it was asked and, like the real one, stores the agent's new state."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.requests: list[tuple[str, int]] = []
        self.by: list[str] = []  # who asked, for each login, logout, pause and unpause
        self.unavailable = False

    async def _set(self, action: str, agent_id: int, logged_in: bool) -> None:
        self.requests.append((action, agent_id))
        if self.unavailable:
            raise PbxUnavailable("AMI action timed out")
        async with self.db.session() as session:
            agent = await session.get(Agent, agent_id)
            if agent is None:
                raise AgentNotFound(agent_id)
            agent.logged_in = logged_in
            agent.logged_in_at = datetime.now(UTC) if logged_in else None
            await session.commit()

    async def login(self, agent_id: int, *, by: str = "") -> None:
        self.by.append(by)
        await self._set("login", agent_id, True)

    async def logout(self, agent_id: int, *, by: str = "") -> None:
        self.by.append(by)
        await self._set("logout", agent_id, False)

    @property
    def pause_reasons(self) -> dict[str, str]:
        return {"break": "Nghỉ giải lao", "meal": "Nghỉ ăn"}

    @property
    def pause_digits(self) -> dict[str, str]:
        return {"1": "break", "2": "meal"}

    async def load_pause_reasons(self) -> None:
        self.reasons_loaded = getattr(self, "reasons_loaded", 0) + 1

    async def pause(self, agent_id: int, reason: str, *, by: str = "") -> None:
        self.requests.append(("pause", agent_id))
        self.by.append(by)
        if reason not in self.pause_reasons:
            raise UnknownPauseReason(f"unknown pause reason {reason!r}")
        async with self.db.session() as session:
            agent = await session.get(Agent, agent_id)
            if agent is None:
                raise AgentNotFound(agent_id)
            agent.paused, agent.pause_reason = True, reason
            await session.commit()

    async def unpause(self, agent_id: int, *, by: str = "") -> None:
        self.requests.append(("unpause", agent_id))
        self.by.append(by)
        async with self.db.session() as session:
            agent = await session.get(Agent, agent_id)
            if agent is None:
                raise AgentNotFound(agent_id)
            agent.paused, agent.pause_reason = False, None
            await session.commit()

    async def apply_skills(self, agent_id: int) -> None:
        self.requests.append(("apply_skills", agent_id))
        if self.unavailable:
            raise PbxUnavailable("AMI action timed out")


class FakeCallbacks:
    """``CallbackAdmin`` without Asterisk: like the real one, it stores the cancellation."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.cancelled: list[tuple[int, str]] = []

    async def cancel(self, callback_id: int, by: str) -> None:
        async with self.db.session() as session:
            row = await session.get(Callback, callback_id)
            if row is None:
                raise CallbackNotFound(callback_id)
            if row.status == CallbackStatus.CANCELLED:
                return
            if row.status not in (CallbackStatus.WAITING, CallbackStatus.RETRY):
                raise CallbackStateError(f"Callback {callback_id} is {row.status} already")
            row.status = CallbackStatus.CANCELLED
            row.result = f"cancelled by {by}"
            row.completed_at = datetime.now(UTC)
            await session.commit()
        self.cancelled.append((callback_id, by))


@dataclass
class FakeQueueView:
    views: list[QueueView] = field(default_factory=list)

    def snapshot(self) -> list[QueueView]:
        return list(self.views)


@dataclass
class Api:
    """Everything a test needs: the client and what stands behind it."""

    app: FastAPI
    client: httpx.AsyncClient
    db: Database
    control: FakeAgentControl
    queues: FakeQueueView
    callbacks: FakeCallbacks
    ami: dict[str, object]
    tokens: dict[str, str]  # role (or "revoked"/"inactive") -> token
    agent_ids: dict[str, int]  # endpoint -> id

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def add_callback(self, **fields: Any) -> Callback:
        at = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
        values: dict[str, Any] = {
            "call_uniqueid": "1.1",
            "caller_number": "0912345678",
            "category": "food",
            "queue": "food-724",
            "status": CallbackStatus.WAITING,
            "requested_at": at,
            "queued_since": at,
        }
        values.update(fields)
        async with self.db.session() as session:
            callback = Callback(**values)
            session.add(callback)
            await session.commit()
        return callback

    async def add_call(self, **fields: Any) -> Call:
        values: dict[str, Any] = {
            "linkedid": fields.get("uniqueid", "x"),
            "caller_number": "0912345678",
            "caller_name": "Nguyễn Văn An",
            "status": CallStatus.ANSWERED,
        }
        values.update(fields)
        async with self.db.session() as session:
            call = Call(**values)
            session.add(call)
            await session.commit()
        return call


class FakeIvr:
    """``IvrAdmin`` without espeak-ng or a menu file: records what it was asked."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {"info_cases": "Số ca mắc."}
        self.reloads = 0

    async def reload(self) -> dict[str, object]:
        self.reloads += 1
        return {"menu": "menu.yaml", "nodes": 16, "prompts_made": 0}

    async def announcements(self) -> list[dict[str, object]]:
        return [{"name": n, "text": t} for n, t in sorted(self.texts.items())]

    async def set_announcement(self, name: str, text: str, by: str) -> dict[str, object]:
        from ivr.ports import AnnouncementNotFound

        if name not in self.texts:
            raise AnnouncementNotFound(f"No announcement named {name!r}")
        self.texts[name] = text
        return {"name": name, "text": text, "updated_by": by}

    # Drafts: the fake's draft is always there, with id "fake" and no sound file (the real
    # flow, with espeak-ng and sox: tests/api/test_ivr_announcements.py).
    async def make_draft(self, name: str, text: str, by: str) -> dict[str, object]:
        return {"name": name, "draft": {"id": "fake", "text": text, "by": by}}

    def audio(self, name: str, *, draft: bool) -> Path | None:
        return None

    async def publish_draft(self, name: str, draft_id: str, by: str) -> dict[str, object]:
        return await self.set_announcement(name, "Bản nháp.", by)

    async def discard_draft(self, name: str) -> bool:
        return True

    async def revert(self, name: str, by: str) -> dict[str, object]:
        return await self.set_announcement(name, "Bản trước.", by)
