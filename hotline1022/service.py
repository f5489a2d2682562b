"""The one asyncio process: AMI link, FastAGI server, call tracker, callbacks and the REST API.

``build_app(settings)`` returns the FastAPI application whose lifespan starts and stops
everything else, so ``uvicorn`` (``hotline1022 serve``) runs the whole hotline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import make_url
from starlette.types import Lifespan

from api.app import create_app
from api.deps import AuthPolicy
from api.limits import ApiLimits
from api.live_feed import LiveFeed
from api.ratelimit import FailureLimiter
from api.wallboard import WallboardFigures
from coaching.service import CoachingParams, CoachingService
from conference.service import ConferenceParams, ConferenceService
from dispatch.incidents import IncidentService
from dispatch.phone import AGI_SCRIPT, TeamPhoneCaller
from dispatch.reading import OrderAudio
from dispatch.rollups import DispatchRollupRefresher
from dispatch.teams import ensure_places_and_teams
from hotline1022 import __version__
from hotline1022.heap import freeze_startup_heap, thaw_heap
from hotline1022.logmask import install_number_masking
from hotline1022.settings import Settings
from ivr.engine import MenuEngine
from ivr.menu_file import MenuError, load_menu
from ivr.prompts import RECORDED_PROMPTS, speak
from ivr.service import IvrService
from live.bus import Bus, InProcessBus, PostgresBus
from live.hub import EventHub
from pbx.agi import FastAgiServer
from pbx.agi_auth import AgiAuth, PeerFilter
from pbx.ami import AmiLink
from pbx.cdr import read_recent_calls
from pbx.client import AmiPbx, once_loaded
from pbx.conference import AmiConferencePbx, conference_nodes_from
from pbx.paths import AsteriskPaths
from pbx.recording import AmiRecordingPbx, AmiSpyPbx
from queues.agent_phone import AGI_SCRIPT as AGENT_AGI_SCRIPT
from queues.agent_phone import AgentPhone
from queues.agent_state import AgentStateTracker
from queues.agents import AgentService
from queues.callback_limits import CallbackCaps, NumberPlan
from queues.callbacks import CallbackService
from queues.calls import CallState, CallTracker
from queues.history import CallHistory
from queues.live import LiveQueues
from queues.reconcile import Rebuild, Step
from recordings.service import RecordingParams, RecordingService
from stats.refresher import StatsRefresher
from store.categories import CATEGORIES
from store.db import Database
from store.journal import Journal
from store.lock import InstanceLock
from store.migrate import upgrade_async
from store.seed import ensure_agents
from store.users import token_lifetimes
from web import create_pages

__all__ = ["Hotline", "build_app", "end_streams_on_exit", "event_bus"]

# How far before the newest recorded call the CDR is searched for calls the service missed.
CDR_LOOKBACK = timedelta(hours=1)

log = logging.getLogger(__name__)


class Hotline:
    """Everything the service runs, wired once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(
            settings.effective_database_url,
            connect_timeout_s=settings.db_connect_timeout_s,
            statement_timeout_s=settings.db_statement_timeout_s,
        )
        # One process per database and Asterisk instance (taken first thing in start()).
        self.lock = InstanceLock(
            settings.effective_database_url,
            settings.asterisk_instance,
            connect_timeout_s=settings.db_connect_timeout_s,
        )
        self.rebuild = Rebuild(attempts=settings.rebuild_attempts)
        self.link = AmiLink(
            host=settings.ami_host,
            port=settings.ami_port,
            username=settings.ami_username,
            secret=settings.effective_ami_secret,
            action_timeout=settings.ami_action_timeout_s,
            heartbeat_interval=settings.ami_heartbeat_interval_s,
        )
        self.pbx = AmiPbx(self.link)
        self.stats = StatsRefresher(self.db)
        self.dispatch_rollups = DispatchRollupRefresher(self.db)
        self.district_names = _menu_district_names(settings.menu_file)
        self.routing = settings.routing(tuple(sorted(self.district_names)))
        # The live event stream: the domain's changes reach it through these callbacks.
        self.bus = event_bus(settings)
        self.feed: LiveFeed  # made below, once what it reads exists
        self.agent_states = AgentStateTracker(
            self.db,
            wrapup_s=settings.wrapup_s,
            on_change=lambda agent: self.feed.agent_changed(agent),
        )
        self.live = LiveQueues(
            self.routing.queues(),
            wrapup_s=settings.wrapup_s,
            default_aht_s=settings.default_aht_s,
            on_change=lambda queue: self.feed.queue_changed(queue),
        )
        self.callbacks = CallbackService(
            self.db,
            self.pbx,
            self.live,
            threshold_s=settings.callback_threshold_s,
            attempts=settings.callback_attempts,
            retry_s=settings.callback_retry_s,
            never_in=[q.name for q in self.routing.queues() if q.urgent],
            number_plan=NumberPlan(settings.callback_number_pattern),
            caps=CallbackCaps(
                per_number=settings.callback_max_per_number,
                number_window=timedelta(seconds=settings.callback_number_window_s),
                per_hour=settings.callback_max_per_hour,
            ),
        )
        # Returning callers' districts, in memory, kept up to date by the tracker: the menu
        # does not wait for the database (issue 16).
        self.history = CallHistory(
            self.db,
            wait_s=settings.ivr_history_wait_ms / 1000,
            instance=settings.asterisk_instance,
        )
        self.tracker = CallTracker(
            self.db,
            on_district=self.history.remember,
            on_complete=self._call_complete,
            pending_callback=self.callbacks.pending_call,
            instance=settings.asterisk_instance,
            journal=Journal(
                settings.journal_dir / "calls.jsonl",
                max_bytes=int(settings.journal_max_mb * 1024 * 1024),
            ),
            max_calls=settings.memory_max_calls,
            on_change=lambda call: self.feed.call_changed(call),
        )
        self.agents = AgentService(self.db, self.pbx, self.routing, settings.pause_reasons)
        # recordings_dir: where MixMonitor and the conference recorder write (issue 15).
        asterisk = AsteriskPaths.find(
            settings.asterisk_instance, recordings_dir=settings.recordings_dir
        )
        self.ivr = IvrService(
            db=self.db,
            menu_path=settings.menu_file,
            prompt_cache=settings.state_dir / "prompts",
            asterisk_prompts=asterisk.host_path(asterisk.prompts_dir),
            recorded_dir=RECORDED_PROMPTS,
            queues=[c.queue for c in CATEGORIES],
            categories=[c.key for c in CATEGORIES],
            speak_timeout_s=settings.speak_timeout_s,
        )
        self.engine = MenuEngine(
            self.ivr.current,
            asterisk.prompts_dir,
            self.tracker,
            self.history,
            route=self.routing.queue_for,
            callbacks=self.callbacks,
            prompt_seconds=self.ivr.prompt_seconds,
        )
        self.incidents = IncidentService(
            self.db,
            deadlines=settings.ack_deadlines_s,
            call_attempts=settings.dispatch_call_attempts,
            retry_s=settings.dispatch_retry_s,
            gateway_endpoint=settings.callback_endpoint,
        )
        self.team_phones = TeamPhoneCaller(
            self.pbx,
            self.incidents,
            OrderAudio(
                asterisk.host_path(asterisk.prompts_dir) / "dispatch",
                f"{asterisk.prompts_dir}/dispatch",
            ),
            secret=settings.effective_dispatch_secret,
            ring_s=settings.dispatch_ring_s,
        )
        self.incidents.attach_caller(self.team_phones)
        # Feature codes from agents' phones (*11, *12, *2N, *3): the FastAGI script "agent".
        self.agent_phone = AgentPhone.speaking_into(
            self.db,
            self.agents,
            asterisk.host_path(asterisk.prompts_dir) / "agent",
            f"{asterisk.prompts_dir}/agent",
            speak_timeout_s=settings.speak_timeout_s,
        )
        self.incidents.on_change = lambda incident_id: self.feed.incident_changed(incident_id)
        self.feed = LiveFeed(
            self.bus,
            self.db,
            agent_states=self.agent_states,
            queues=self.live,
            calls=lambda: self.tracker.calls,
            district_names=self.district_names,
            coalesce_s=settings.events_coalesce_ms / 1000,
            heartbeat_s=settings.events_heartbeat_s,
            flush_calls=self.tracker.flush,
        )
        self.wallboard = WallboardFigures(
            self.db,
            self.feed.hub,
            thresholds=settings.wallboard_thresholds,
            sl_thresholds=settings.sl_thresholds,
            interval_s=settings.wallboard_figures_s,
            idle_s=settings.wallboard_idle_s,
        )
        self.stats.listeners.append(self.wallboard.rollups_refreshed)
        self.agi = FastAgiServer(
            settings.agi_host,
            settings.agi_port,
            auth=AgiAuth(settings.effective_agi_secret, window_s=settings.agi_proof_window_s),
            env_timeout=settings.agi_handshake_timeout_s,
            max_sessions=settings.agi_max_sessions,
            max_handshakes=settings.agi_max_handshakes,
            peers=PeerFilter(settings.agi_allowed_peers),
            allow_remote=settings.agi_allow_remote,
        )
        # The command conference (issue 14): this Asterisk is its root; other nodes have links.
        self.conference_pbx, self.conference_links = _conference_pbx(settings, self.link, asterisk)
        self.conferences = ConferenceService(
            self.db,
            self.conference_pbx,
            ConferenceParams(
                dial_rate_per_s=settings.conference_dial_rate_per_s,
                max_in_flight=settings.conference_max_in_flight,
                max_attempts=settings.conference_max_attempts,
                ring_s=settings.conference_ring_s,
                per_node=settings.conference_points_per_node,
            ),
            publish=self.bus.publish,
            speak=functools.partial(speak, timeout_s=settings.speak_timeout_s),
        )
        # Recordings and coaching (issue 15): the files MixMonitor writes, listened to, and
        # supervisors' phones spying on agents' calls.
        self.recording_pbx = AmiRecordingPbx(self.link, asterisk)
        self.recordings = RecordingService(
            self.db,
            self.recording_pbx,
            RecordingParams.from_settings(settings),  # as the CLI's: the same directory
            publish=self.bus.publish,
        )
        self.coaching = CoachingService(
            self.db,
            AmiSpyPbx(self.link),
            self.agent_states,
            self.pbx,  # its channel list finds the agent's channel to spy on
            CoachingParams(
                ring_s=settings.spy_ring_s,
                notify_agent=settings.spy_notify_agent,
                phone_count=settings.supervisor_phone_count,
            ),
            publish=self.bus.publish,
        )
        # A console reloaded mid-call learns whether it is coached, and its recording paused.
        self.feed.coaching_view = self.coaching.agent_view
        self.feed.paused_view = self.recordings.paused_since
        self.cdr_csv = asterisk.cdr_csv
        self._tasks: list[asyncio.Task[None]] = []
        self._incident_timers: asyncio.Task[None] | None = None

    def _call_complete(self, call: CallState) -> None:
        self.stats.mark(call.queue_entered_at, call.answered_at)
        self.wallboard.call_ended()

    async def start(self) -> None:
        # Here, not in main(): uvicorn's loggers are configured by now, and every way of
        # running the service (serve, the test stack, simulate) passes through here.
        install_number_masking(self.settings.log_mask_numbers)
        # Before anything else: a second process would close this one's live calls.
        await self.lock.acquire()
        try:
            await self._start()
        except BaseException:
            await self.lock.release()
            raise

    async def _start(self) -> None:
        await upgrade_async(self.settings.effective_database_url)
        # Records a crash left in the journal while the database was down.
        await self.tracker.replay_journal()
        await ensure_agents(self.db, self.settings.agent_count)
        # Pause reasons are data (the configured ones fill an empty table): read them before
        # the agent phone's prompts name them.
        await self.agents.load_pause_reasons()
        # The province's places and default teams, the first time (one query afterwards).
        await ensure_places_and_teams(self.db, self.settings.province_code)
        await self.ivr.start()  # an invalid menu file stops the service here, saying why
        districts = self.ivr.current().districts
        if districts is not None:
            await self.history.load(districts.remember_days)
        await self.feed.start()
        await self.callbacks.start()
        self.link.add_listener(self.tracker.on_event, events=CallTracker.EVENTS)
        self.link.add_listener(self.live.on_event, events=LiveQueues.EVENTS)
        self.link.add_listener(self.agent_states.on_event, events=AgentStateTracker.EVENTS)
        await self.agent_states.load_last_states()
        self.link.add_listener(self.callbacks.on_event, events=CallbackService.EVENTS)
        # After the trackers: a pop reads the call they have just updated.
        self.link.add_listener(self.feed.on_ami_event, events=LiveFeed.EVENTS)
        self.link.add_connect_callback(self._on_ami_connect)
        self.agi.route("ivr", self.engine.handle)
        await self.team_phones.start()  # the fixed prompts of the orders, made once
        self.link.add_listener(self.team_phones.on_event, events=TeamPhoneCaller.EVENTS)
        self.agi.route(AGI_SCRIPT, self.team_phones.handle)
        # Its prompts, for the reasons read above, made once (one that fails is logged), and
        # again whenever a supervisor changes the reasons.
        await self.agent_phone.reasons_changed()
        self.agents.on_pause_reasons_changed(self.agent_phone.reasons_changed)
        self.agi.route(AGENT_AGI_SCRIPT, self.agent_phone.handle)
        await self.agi.start()
        self._tasks.append(asyncio.create_task(self.tracker.flusher.run(), name="flusher"))
        self._tasks.append(asyncio.create_task(self.history.run(), name="caller-history"))
        self._tasks.append(
            asyncio.create_task(self.agent_states.flusher.run(), name="agent-state-flusher")
        )
        self._tasks.append(asyncio.create_task(self.stats.run(), name="statistics"))
        self._tasks.append(
            asyncio.create_task(self.dispatch_rollups.run(), name="dispatch-rollups")
        )
        self._tasks.append(asyncio.create_task(self.wallboard.run(), name="wallboard-figures"))
        self._tasks.append(asyncio.create_task(self.lock.keep(), name="instance-lock"))
        self._tasks.append(asyncio.create_task(self.callbacks.run(), name="callbacks"))
        # Timers kept in the database: overdue ones fire at once. Stopped, not cancelled.
        self._incident_timers = asyncio.create_task(self.incidents.run(), name="incident-timers")
        # Before the link: no recording's signal is missed. (Its reconciliation with what
        # Asterisk records now runs on each (re)connect: the "recordings" rebuild step.)
        await self.recordings.start()
        # Asterisk may still be starting: keep trying in the background; a wrong secret
        # raises here and stops the service with a clear message.
        await self.link.start(wait=False)
        await self.coaching.start()  # adopts the spying Asterisk shows, once it answers
        for node_link in self.conference_links:
            await node_link.start(wait=False)
        # Resumes the conferences that were running (their dialling waits for Asterisk).
        await self.conferences.start()
        log.info(
            "hotline1022 up: FastAGI on %s:%d, AMI %s:%d",
            self.settings.agi_host,
            self.agi.port,
            self.settings.ami_host,
            self.settings.ami_port,
        )
        # Last: what start-up made stays out of the full garbage collections' walk
        # (hotline1022/heap.py says why; bench/stats_queries.py measures it).
        freeze_startup_heap()

    async def _on_ami_connect(self) -> None:
        """Rebuild the state from Asterisk, step by step (``queues.reconcile``): a step that
        keeps failing does not stop the others; ``GET /health`` shows how it went."""
        snapshot: dict[str, Any] = {}

        async def queues() -> None:
            status = await once_loaded(self.pbx.queue_status)  # Asterisk may still be booting
            self.live.rebuild(status.entries, status.members)

        async def take_snapshot() -> None:
            # After the restore: members Asterisk lost in a restart are back, paused as
            # before. The fence opens before the snapshot: a call any event names from here
            # on is never closed by this reconciliation.
            self.tracker.begin_snapshot()
            status = await self.pbx.queue_status()
            channels = await self.pbx.channels()
            self.live.rebuild(status.entries, status.members)
            self.agent_states.rebuild(status.members)
            snapshot["entries"], snapshot["channels"] = status.entries, channels

        async def calls() -> None:
            # Calls that began, waited or ended while the service (or the link) was away.
            await self.tracker.reconcile(
                snapshot["entries"],
                snapshot["channels"],
                {q.name: q.category for q in self.routing.queues()},
            )

        async def cdr() -> None:
            # Calls that came and went unseen: Asterisk's CDR has them.
            newest = await self.tracker.newest_arrival()
            since = (newest or datetime.now(UTC)) - CDR_LOOKBACK
            cdr_calls = await asyncio.to_thread(read_recent_calls, self.cdr_csv, since=since)
            channels = snapshot["channels"]
            await self.tracker.recover(cdr_calls, alive=(c.get("Uniqueid", "") for c in channels))

        await self.rebuild.run(
            [
                Step("queues", queues),
                # Callbacks first: a placeholder lost with a restarted Asterisk gets its place
                # back before agents are offered the callers who dialled again meanwhile.
                Step("callbacks", self.callbacks.reconcile),
                Step("agents", self.agents.restore),
                Step("snapshot", take_snapshot),
                Step("calls", calls, needs=("snapshot",)),
                Step("cdr", cdr, needs=("snapshot",)),
                # Legs that ended while the link was away are sealed from their files.
                Step("recordings", self.recordings.reconcile),
            ]
        )

    async def stop(self) -> None:
        await self.feed.close()  # open streams end (uvicorn: see end_streams_on_exit)
        if self._incident_timers is not None:
            await self.incidents.close()
            try:
                await asyncio.wait_for(self._incident_timers, 10)
            except (TimeoutError, Exception):
                log.exception("incident timers did not stop cleanly")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.tracker.flush()
        except Exception:
            log.error("%d call record(s) not written at shutdown", self.tracker.pending)
        try:
            await self.agent_states.flush()
        except Exception:
            log.error("%d agent state change(s) not written", self.agent_states.pending)
        if left := await self.callbacks.flush():
            # The next start reconciles with Asterisk: places are kept, outcomes may be lost.
            log.error("%d callback change(s) not written at shutdown", left)
        await self.agi.close()
        await self.coaching.close()
        await self.recordings.close()  # writes the signals received
        await self.recording_pbx.close()
        await self.conferences.close()  # stops dialling, writes the last changes
        await self.conference_pbx.close()  # its DialEnd timers
        for node_link in self.conference_links:
            await node_link.close()
        await self.link.close()
        # After the link: the link's last events may still hand a team's call its result.
        await self.team_phones.close()
        await self.db.dispose()
        await self.lock.release()
        thaw_heap()  # a process that starts another service (tests) collects this one

    def app(self, lifespan: Lifespan[FastAPI] | None = None) -> FastAPI:
        """The REST API and the pages over this hotline's parts (tests pass no lifespan:
        they start and stop the hotline themselves)."""
        app = create_app(
            db=self.db,
            agents=self.agents,
            queues=self.live,
            ami_status=self.ami_status,
            ivr=self.ivr,
            agent_states=self.agent_states,
            routing=self.routing,
            district_names=self.district_names,
            callbacks=self.callbacks,
            incidents=self.incidents,
            lifespan=lifespan,
            sl_thresholds=self.settings.sl_thresholds,
            wallboard=self.wallboard,
            version=__version__,
            limits=ApiLimits(
                max_body_bytes=self.settings.api_max_body_bytes,
                staffing_time_limit_s=self.settings.staffing_time_limit_s,
            ),
            feed=self.feed,
            auth=AuthPolicy(
                lifetimes=token_lifetimes(self.settings.token_ttl_s),
                failures=FailureLimiter(
                    limit=self.settings.auth_failure_limit,
                    window_s=self.settings.auth_failure_window_s,
                ),
            ),
            api_docs=False,  # web serves /docs from vendored files: no CDN
            conferences=self.conferences,
            recordings=self.recordings,
            recording_agent_may_listen=self.settings.recording_agent_may_listen,
            coaching=self.coaching,
        )
        create_pages(app)
        return app

    def ami_status(self) -> dict[str, object]:
        status = dict(self.link.status())
        status["records_pending"] = self.tracker.pending
        status["rebuild"] = self.rebuild.status()
        status["instance"] = {"name": self.settings.asterisk_instance, "lock_lost": self.lock.lost}
        journal = self.tracker.journal
        status["journal"] = {
            "bytes": journal.size if journal else 0,
            "records_only_in_journal": self.tracker.journal_only,
            "records_dropped": self.tracker.dropped,
        }
        return status


def _conference_pbx(
    settings: Settings, link: AmiLink, asterisk: AsteriskPaths
) -> tuple[AmiConferencePbx, list[AmiLink]]:
    """The conferences' PBX over the root's link and one more link per other node
    (settings ``conference_nodes``), and those links (started and closed by the Hotline).
    The other nodes dial the root at ``ami_host``:``sip_port`` (the root's Asterisk runs
    where its AMI is)."""
    legs = []
    for node in conference_nodes_from(settings.conference_nodes):
        node_link = AmiLink(
            host=node.ami_host,
            port=node.ami_port,
            username=node.ami_username,
            secret=node.ami_secret,
            action_timeout=settings.ami_action_timeout_s,
            heartbeat_interval=settings.ami_heartbeat_interval_s,
        )
        legs.append((node, node_link, AsteriskPaths.find(node.instance)))
    pbx = AmiConferencePbx(
        link,
        settings.conference_root_name,
        asterisk,
        (settings.ami_host, settings.sip_port),
        legs,
        gateway_endpoint=settings.callback_endpoint,
    )
    return pbx, [node_link for _, node_link, _ in legs]


def _menu_district_names(path: Path) -> dict[int, str]:
    """The menu's districts (code -> name), which the queue layout is made from. An invalid
    file gives none here; the IVR service refuses it at start, saying why."""
    try:
        districts = load_menu(path).districts
    except MenuError:
        return {}
    return {} if districts is None else {u.code: u.name for u in districts.units.values()}


def event_bus(settings: Settings) -> Bus:
    """PostgreSQL LISTEN/NOTIFY where the database is PostgreSQL (changes published by other
    processes reach this one's viewers), else in-process."""
    hub = EventHub(buffer=settings.events_buffer, queue=settings.events_viewer_queue)
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "postgresql":
        return InProcessBus(hub)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return PostgresBus(hub, dsn, channel=settings.events_channel)


def end_streams_on_exit(server: Any, hub: EventHub) -> None:
    """End the open event streams as soon as uvicorn is told to stop: it waits for open
    connections before it runs the lifespan's shutdown, so a stream ended only there would
    hold the shutdown until each browser left."""
    handle_exit = server.handle_exit

    def handle(sig: int, frame: Any) -> None:
        # A signal handler runs in the loop's thread: wake the loop safely.
        try:
            asyncio.get_running_loop().call_soon_threadsafe(hub.close)
        except RuntimeError:  # no loop running (any more)
            hub.close()
        handle_exit(sig, frame)

    server.handle_exit = handle


def build_app(settings: Settings) -> tuple[FastAPI, Hotline]:
    hotline = Hotline(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await hotline.start()
        try:
            yield
        finally:
            await hotline.stop()

    return hotline.app(lifespan), hotline
