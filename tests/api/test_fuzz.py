"""Fuzzing the OpenAPI document with schemathesis: every operation, as every role, on both
databases, against the real app (in-process ASGI) over a real migrated database.

For each operation and each role's token, schemathesis generates requests that fit the
document (positive) and requests that do not (negative), sends them, and runs its default
checks on every answer: no server error, only documented status codes, content types and
headers, bodies that match their declared schema, schema-valid requests accepted and
invalid ones refused, the token actually checked. Every failure is collected, and the test
fails listing them by check, so one run shows all that is wrong rather than the first.

Two lists say what is let pass, each entry with why: ``MAY_REFUSE_VALID``, the operations
whose rules JSON Schema cannot state (a 422 for a schema-valid request there is the rule
speaking), and ``IGNORED_NEGATIVE``. Server errors, undocumented statuses and responses
that do not match their schema are never let pass.

Bounded by ``HOTLINE_FUZZ_EXAMPLES`` (default 10) examples per operation, role and mode;
hypothesis runs derandomized, so CI sees the same cases on every run. ``HOTLINE_FUZZ_ONLY``
(labels' beginnings, comma-separated, e.g. ``GET /recordings,POST /monitor``) fuzzes only
those operations, for working on a few routes.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans
from sqlalchemy import select

from api.app import create_app
from coaching.service import CoachingParams, CoachingService
from conference.service import ConferenceService
from dispatch.incidents import IncidentService
from queues.routing import RoutingPolicy
from recordings.service import RecordingParams, RecordingService
from store.db import Database
from store.migrate import upgrade_async
from store.models import Agent, Call, Callback, CallbackStatus, CallStatus, Place, Team, TeamPhone
from store.seed import ensure_agents
from store.users import create_user
from tests.api.support import FakeAgentControl, FakeCallbacks, FakeIvr, FakeQueueView
from tests.coaching.fakes import FakeAgents, FakeSpyPbx
from tests.conference.fakes import RecordingPbx
from tests.conference.test_service import fake_speak
from tests.conftest import run_in_thread
from tests.recordings.fakes import FakeRecordingPbx

ROLES = ("agent", "supervisor", "team", "admin")

# Schema-valid requests an operation may still refuse with 422, and why: a rule that JSON
# Schema cannot say (one value against another, or against the data). Every other
# operation must accept what its document allows.
INSTANTS = "instants from 1970 to 2199 only (JSON Schema has no range for a date-time)"
RANGE = f"{INSTANTS}; since before until; at most so many days"
MAY_REFUSE_VALID = {
    "GET /calls": INSTANTS,
    "GET /ivr/stats": INSTANTS,
    "GET /stats/queues": RANGE,
    "GET /stats/agents": RANGE,
    "GET /monitoring/incidents": f"{RANGE}; at most one of place_id, district_code, commune_code",
    "GET /monitoring/summary": "at most one of place_id, district_code, commune_code",
    "GET /monitoring/teams": f"{RANGE}; at most one of place_id, district_code, commune_code",
    "GET /monitoring/districts": f"{RANGE}; at most one of place_id, …",
    "GET /staffing": f"{RANGE}; the mix's known categories summing to 1; the time limit",
    "GET /places": "parent_level and parent_code together, or parent_id",
    "GET /teams": "code needs level",
    "POST /agents": "a home district the menu has",
    "PATCH /agents/{agent_id}": "a home district the menu has",
    "POST /agents/{agent_id}/pause": "a pause reason of HOTLINE_PAUSE_REASONS",
    "POST /teams": "exactly one of endpoint and number per phone; the place by id or code",
    "PATCH /teams/{team_id}": "exactly one of endpoint and number per phone",
    "POST /calls/{call_id}/outcome": "an incident needs a commune and an urgency",
    "POST /incidents/{incident_id}/transitions": "a reason to skip a step or cancel",
    "POST /conferences": "places and teams that exist, with at least one team to call; "
    "a center's own places; one of endpoint, team_id, number per leader",
    "GET /recordings": "day_from not after day_to",
    "POST /holds": "exactly one of call_id and incident_id, one that exists",
    "POST /monitor": "one of the HOTLINE_SUPERVISOR_PHONE_COUNT phones (sup01 … supNN)",
}
# What a negative case changed that the test itself puts back, or that HTTP lets pass:
# the token (sent with every request here), and query parameters the operation does not
# name (ignored, as every FastAPI app does).
IGNORED_NEGATIVE = ("was Authorization", "query: violates `additionalProperties`")
AT = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", "10"))


async def _seed(url: str) -> dict[str, str]:
    """A migrated database with agents, a place and its team, calls, a callback, and a
    user of each role; returns each role's token."""
    await upgrade_async(url)
    db = Database(url)
    try:
        await ensure_agents(db, 3)
        async with db.session() as session:
            agents = dict((await session.execute(select(Agent.endpoint, Agent.id))).all())
            place = Place(level="province", depth=0, code=0, name="Tỉnh thử nghiệm", path="/")
            session.add(place)
            await session.flush()
            place.path = f"/{place.id}/"
            team = Team(
                name="Tổ thử nghiệm",
                kind="team",
                place_id=place.id,
                phones=[TeamPhone(position=0, endpoint="team-test")],
            )
            session.add(team)
            for n, endpoint in enumerate(("agent01", "agent02")):
                session.add(
                    Call(
                        uniqueid=f"17000000{n}.1",
                        linkedid=f"17000000{n}.1",
                        caller_number="0912345678",
                        caller_name="Nguyễn Văn An",
                        status=CallStatus.ANSWERED,
                        agent_id=agents[endpoint],
                        arrived_at=AT,
                    )
                )
            session.add(
                Callback(
                    call_uniqueid="170000000.1",
                    caller_number="0912345678",
                    category="food",
                    queue="food-724",
                    status=CallbackStatus.WAITING,
                    requested_at=AT,
                    queued_since=AT,
                )
            )
            await session.commit()
            team_id = team.id
        tokens = {}
        for role in ("supervisor", "admin"):
            _, tokens[role] = await create_user(db, name=f"{role} user", role=role)
        _, tokens["team"] = await create_user(db, name="team user", role="team", team_id=team_id)
        _, tokens["agent"] = await create_user(
            db, name="agent user", role="agent", agent_id=agents["agent01"]
        )
        return tokens
    finally:
        await db.dispose()


@dataclass
class Target:
    app: FastAPI
    tokens: dict[str, str]


@pytest.fixture
def target(database_url: str, tmp_path: Path) -> Iterator[Target]:
    tokens = run_in_thread(lambda: _seed(url=database_url))
    db = Database(database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # schemathesis serves every app from one event loop of its own: the engine's
        # connections are made, and closed, there.
        yield
        await db.dispose()

    app = create_app(
        db=db,
        agents=FakeAgentControl(db),
        queues=FakeQueueView(),
        ami_status=lambda: {"connected": True},
        ivr=FakeIvr(),
        routing=RoutingPolicy(districts=(718, 724)),
        district_names={718: "Thủ Dầu Một", 724: "Dĩ An"},
        callbacks=FakeCallbacks(db),
        incidents=IncidentService(db),
        conferences=ConferenceService(db, RecordingPbx(), speak=fake_speak),
        # Recordings and coaching over fake PBXs (no recording exists; nobody is on a call).
        recordings=RecordingService(db, FakeRecordingPbx(tmp_path), RecordingParams(root=tmp_path)),
        coaching=CoachingService(
            db, spy := FakeSpyPbx(), FakeAgents(), spy, CoachingParams(poll_s=3600)
        ),
        lifespan=lifespan,
        # No live feed: GET /events answers its documented 503 here, after the token and
        # the parameters are checked. A stream never ends and schemathesis reads whole
        # bodies, so the stream itself is tested over a real server (tests/api/test_events.py).
    )
    try:
        yield Target(app, tokens)
    finally:
        shutdown_lifespans()


@dataclass(frozen=True)
class Found:
    check: str
    operation: str
    role: str
    request: str
    status: int
    message: str


def _fuzz(operation: Any, role: str, token: str, mode: GenerationMode) -> list[Found]:
    found: list[Found] = []
    headers = {"Authorization": f"Bearer {token}"}

    @settings(
        max_examples=EXAMPLES,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the app raised: a 500 to a real client
            found.append(
                Found(
                    check="ServerError",
                    operation=operation.label,
                    role=role,
                    request=f"{case.path_parameters} {case.query} {str(case.body)[:200]}",
                    status=500,
                    message=f"{type(exc).__name__}: {exc}"[:500],
                )
            )
            return
        try:
            case.validate_response(response, headers=headers)
        except (Failure, FailureGroup) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for failure in failures:
                name = type(failure).__name__
                if (
                    name == "RejectedPositiveData"
                    and response.status_code == 422
                    and operation.label in MAY_REFUSE_VALID
                ):
                    continue
                if name == "AcceptedNegativeData" and any(
                    words in str(failure) for words in IGNORED_NEGATIVE
                ):
                    continue
                found.append(
                    Found(
                        check=name,
                        operation=operation.label,
                        role=role,
                        request=f"{case.path_parameters} {case.query} {str(case.body)[:200]}",
                        status=response.status_code,
                        message=str(failure)[:500],
                    )
                )

    try:
        run()
    except Unsatisfiable:
        # Negative mode on an operation that takes nothing: no invalid request exists.
        assert mode == GenerationMode.NEGATIVE
    return found


def test_every_operation_as_every_role_passes_every_check(target: Target) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", target.app)
    found: list[Found] = []
    operations = 0
    only = tuple(p for p in os.environ.get("HOTLINE_FUZZ_ONLY", "").split(",") if p)
    for result in schema.get_all_operations():
        operation = result.ok()
        if only and not operation.label.startswith(only):
            continue
        operations += 1
        for role in ROLES:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                found += _fuzz(operation, role, target.tokens[role], mode)
    assert operations > (0 if only else 30)
    by_check = Counter(f.check for f in found)
    report = "\n".join(
        f"- {f.check} {f.operation} as {f.role} → {f.status}: {f.request}\n  {f.message}"
        for f in {(f.check, f.operation, f.status): f for f in found}.values()
    )
    assert not found, f"{len(found)} failures {dict(by_check)}:\n{report}"
