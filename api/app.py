"""The application factory: the FastAPI app over the given database and PBX ports.

app = create_app(db=db, agents=agent_control, queues=queue_view, ami_status=link.status,
                 lifespan=lifespan)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from importlib import metadata
from typing import Any

from fastapi import FastAPI
from starlette.types import Lifespan

from api.deps import AuthPolicy
from api.errors import ERROR_RESPONSES, install_error_handlers
from api.limits import ApiLimits
from api.live_feed import LiveFeed
from api.middleware import BodyLimit
from api.routers import agents as agents_router
from api.routers import auth as auth_router
from api.routers import callbacks as callbacks_router
from api.routers import calls as calls_router
from api.routers import conferences as conferences_router
from api.routers import events as events_router
from api.routers import health as health_router
from api.routers import incidents as incidents_router
from api.routers import ivr as ivr_router
from api.routers import monitor as monitor_router
from api.routers import monitoring as monitoring_router
from api.routers import pause_reasons as pause_reasons_router
from api.routers import places as places_router
from api.routers import queues as queues_router
from api.routers import recordings as recordings_router
from api.routers import reports as reports_router
from api.routers import staffing as staffing_router
from api.routers import stats as stats_router
from api.routers import users as users_router
from api.routers import wallboard as wallboard_router
from api.services import Services
from api.wallboard import WallboardFigures
from coaching.service import CoachingService
from conference.service import ConferenceService
from dispatch.incidents import IncidentService
from dispatch.outcomes import OutcomeService
from ivr.ports import IvrAdmin
from queues.ports import AgentControl, AgentStateView, CallbackAdmin, LiveQueueView
from queues.routing import RoutingPolicy
from recordings.service import RecordingService
from stats.history import DEFAULT_SL_THRESHOLDS
from store.db import Database
from store.token_cache import token_cache

__all__ = ["create_app"]

DESCRIPTION = """\
REST API of the 1022 citizen hotline: call records, live queue state, agent login and
historical statistics.

Every route except `/health` needs `Authorization: Bearer <token>`; tokens are issued with
`hotline1022 users create` / `hotline1022 users token`. Pages sign in with `POST /auth/login`
instead: a session cookie, and header `X-CSRF-Token` on every request that changes something.
Roles: `agent` (their own calls and login, the outcomes of their calls), `supervisor` and
`admin` (everything), `team` (rapid-response teams and operations centers: the incidents
they hold or that lie under their place). Every role reads places and teams. Times are ISO
8601 and returned in UTC.

**Tóm tắt (tiếng Việt):** API của tổng đài 1022 tiếp nhận phản ánh, kiến nghị của người dân:
tra cứu lịch sử cuộc gọi, xem tình trạng hàng đợi theo thời gian thực và đăng nhập / đăng xuất
tổng đài viên. Mọi đường dẫn (trừ `/health`) cần mã truy cập dạng
`Authorization: Bearer <token>`, cấp bằng lệnh `hotline1022 users create`.
"""

TAGS = [
    {"name": "health", "description": "Liveness of the AMI link and the database."},
    {"name": "calls", "description": "Call records (Lịch sử cuộc gọi)."},
    {"name": "queues", "description": "Live queue state (Hàng đợi)."},
    {"name": "agents", "description": "Agents and their login (Tổng đài viên)."},
    {
        "name": "places",
        "description": "Places and the operations centers and rapid-response teams at them "
        "(Địa bàn, trung tâm điều hành, tổ phản ứng nhanh).",
    },
    {
        "name": "ivr",
        "description": "The menu: statistics, announcements, reload (Tổng đài tự động).",
    },
    {
        "name": "staffing",
        "description": "Agents needed per category and hour: Erlang C / A (Định biên).",
    },
    {
        "name": "stats",
        "description": "Historical statistics per queue and agent (Thống kê lịch sử).",
    },
    {
        "name": "callbacks",
        "description": "Callers to be called back, keeping their place (Gọi lại).",
    },
    {
        "name": "incidents",
        "description": "Call outcomes and incidents dispatched to rapid-response teams "
        "(Kết quả cuộc gọi, sự vụ và điều động).",
    },
    {
        "name": "monitoring",
        "description": "Open incidents, overdue first; teams' and districts' figures (Giám sát).",
    },
    {
        "name": "users",
        "description": "API users and their tokens: administrators manage all, supervisors "
        "agent and team users (Người dùng).",
    },
    {
        "name": "auth",
        "description": "Signing in to the pages: a session cookie (Đăng nhập).",
    },
    {
        "name": "events",
        "description": "The live event stream, Server-Sent Events (Luồng sự kiện trực tiếp).",
    },
    {
        "name": "wallboard",
        "description": "The supervisor's wallboard in one answer (Bảng giám sát).",
    },
    {
        "name": "conferences",
        "description": "The command conference: call every chosen team at once, take the "
        "roll, lead the meeting (Hội nghị chỉ huy).",
    },
    {
        "name": "recordings",
        "description": "Call recordings as evidence: search, listen (audited), verify the "
        "digest chain, pause a call's recording, legal holds (Ghi âm cuộc gọi).",
    },
    {
        "name": "monitor",
        "description": "A supervisor listens to, whispers to or barges into an agent's call "
        "(Giám sát, nhắc, chen cuộc gọi).",
    },
]


def create_app(
    *,
    db: Database,
    agents: AgentControl,
    queues: LiveQueueView,
    ami_status: Callable[[], dict[str, object]],
    ivr: IvrAdmin | None = None,
    agent_states: AgentStateView | None = None,
    routing: RoutingPolicy | None = None,
    district_names: dict[int, str] | None = None,
    callbacks: CallbackAdmin | None = None,
    incidents: IncidentService | None = None,
    lifespan: Lifespan[FastAPI] | None = None,
    sl_thresholds: Mapping[str, Sequence[int]] = DEFAULT_SL_THRESHOLDS,
    version: str | None = None,
    limits: ApiLimits | None = None,
    auth: AuthPolicy | None = None,
    feed: LiveFeed | None = None,
    wallboard: WallboardFigures | None = None,
    api_docs: bool = True,
    conferences: ConferenceService | None = None,
    recordings: RecordingService | None = None,
    recording_agent_may_listen: bool = False,
    coaching: CoachingService | None = None,
) -> FastAPI:
    """The API over ``db`` and the PBX ports; ``lifespan`` starts/stops what they need.

    ``ami_status()`` should return a dict with ``"connected": bool``; health is "ok" only
    when it is True. ``sl_thresholds`` (the settings') are the statistics' default service
    levels. ``version`` is what the OpenAPI document says; by default the installed
    package's. ``feed``: the live event stream's source (``GET /events`` answers 503 without
    one). ``limits`` bound request bodies and the staffing computation. ``auth``: the
    tokens' lifetimes and the failed-authentication limit (the defaults' when None).
    ``api_docs`` False: no ``/docs`` nor ``/redoc`` of FastAPI's (they load Swagger UI from a
    CDN); ``web.create_pages`` serves ``/docs`` from local files instead. ``recordings`` and
    ``coaching`` (issue 15): their routes answer 503 without them;
    ``recording_agent_may_listen`` lets agents read their own calls' recordings.
    """
    limits = limits or ApiLimits()
    app = FastAPI(
        title="hotline1022 — Tổng đài 1022",
        description=DESCRIPTION,
        version=version or _installed_version(),
        openapi_tags=TAGS,
        lifespan=_watching_revocations(db, lifespan),
        responses=ERROR_RESPONSES,
        docs_url="/docs" if api_docs else None,
        redoc_url="/redoc" if api_docs else None,
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.state.auth = auth or AuthPolicy()
    app.state.services = Services(
        db=db,
        agents=agents,
        queues=queues,
        ami_status=ami_status,
        ivr=ivr,
        agent_states=agent_states,
        routing=routing or RoutingPolicy(),
        district_names=district_names or {},
        sl_thresholds=sl_thresholds,
        callbacks=callbacks,
        incidents=incidents,
        outcomes=OutcomeService(db, incidents) if incidents is not None else None,
        limits=limits,
        feed=feed,
        wallboard=wallboard,
        conferences=conferences,
        recordings=recordings,
        recording_agent_may_listen=recording_agent_may_listen,
        coaching=coaching,
    )
    for router in (
        health_router,
        calls_router,
        queues_router,
        agents_router,
        pause_reasons_router,
        places_router,
        ivr_router,
        staffing_router,
        stats_router,
        reports_router,
        callbacks_router,
        incidents_router,
        monitoring_router,
        users_router,
        auth_router,
        events_router,
        wallboard_router,
        conferences_router,
        recordings_router,
        monitor_router,
    ):
        app.include_router(router.router)
    app.include_router(agents_router.routing_router)
    app.include_router(places_router.teams_router)
    app.include_router(recordings_router.calls_router)
    app.include_router(recordings_router.holds_router)
    return app


def _watching_revocations(db: Database, lifespan: Lifespan[FastAPI] | None) -> Any:
    """``lifespan`` inside the token cache's watch: on PostgreSQL this process listens for
    the other processes' revocations while it serves, and trusts its cache only then
    (``store/token_cache.py``)."""

    @asynccontextmanager
    async def both(app: FastAPI) -> AsyncIterator[Any]:
        async with token_cache(db.url).watching():
            if lifespan is None:
                yield None
            else:
                async with lifespan(app) as state:
                    yield state

    return both


def _installed_version() -> str:
    try:
        return metadata.version("hotline1022")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"
