"""Settings from the environment (``HOTLINE_*``) and the generated secrets file.

The AMI secret, the FastAGI and dispatch secrets and the agents' SIP passwords are generated
when Asterisk is provisioned and kept in ``<state_dir>/secrets.json`` (outside git). An
explicit ``HOTLINE_AMI_SECRET`` (``HOTLINE_AGI_SECRET``, ``HOTLINE_DISPATCH_SECRET``) wins.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from dispatch.lifecycle import DEFAULT_ACK_DEADLINES_S
from pbx.conference import conference_nodes_from
from queues.callback_limits import VIETNAM_NUMBER_PATTERN, NumberPlan
from queues.routing import RoutingPolicy
from recordings.retention import DEFAULT_RETENTION_DAYS, check_days
from stats.history import check_thresholds
from stats.wallboard import Thresholds
from store.users import DEFAULT_TOKEN_TTL_S, ROLES

__all__ = ["Settings", "get_settings", "mask_url"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    state_dir: Path = Path("var")
    database_url: str = ""

    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "hotline"
    ami_secret: str = ""
    ami_action_timeout_s: float = 5.0
    ami_heartbeat_interval_s: float = 5.0

    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    # FastAGI serves only the dialplan it was provisioned with (pbx/agi_auth.py): each session
    # carries a proof keyed with this secret, at most this many seconds old, used once.
    agi_secret: str = ""
    agi_proof_window_s: float = 30.0
    # Sessions in handlers at once (beyond: refused, the dialplan falls back), connections
    # still sending their environment (a new one evicts the oldest) and how long they may take.
    agi_max_sessions: int = 2000
    agi_max_handshakes: int = 256
    agi_handshake_timeout_s: float = 5.0
    # Listening beyond loopback must be asked for, and then names the Asterisk hosts allowed.
    agi_allow_remote: bool = False
    agi_allowed_peers: list[str] = ["127.0.0.0/8", "::1/128"]
    # Signs the orders the service sends to teams' phones (dispatch/phone.py): only a call the
    # service originated can acknowledge one.
    dispatch_secret: str = ""

    api_host: str = "127.0.0.1"
    api_port: int = 8022
    # The largest request body the API reads (413 beyond), and how long one GET /staffing
    # may compute (in a worker thread) before it answers 422.
    api_max_body_bytes: int = 1_048_576
    staffing_time_limit_s: float = 10.0

    asterisk_instance: str = "main"
    menu_file: Path = Path(__file__).resolve().parent.parent / "ivr" / "menus" / "default.yaml"
    # Longest espeak-ng or sox may take to make one prompt file (a hung one is stopped).
    speak_timeout_s: float = 30.0
    sip_port: int = 5060
    rtp_start: int = 20000
    rtp_end: int = 20999
    agent_count: int = 20

    # Routing (queues/routing.py): seconds a caller waits before the window widens to
    # anyone with the skill, then to any logged-in agent; emergency: to anyone.
    district_wait_s: int = 30
    skill_wait_s: int = 90
    urgent_anyone_wait_s: int = 10
    # Seconds after each call before app_queue offers the agent the next one.
    wrapup_s: int = 10
    # Pause reasons an agent may give: code -> what the supervisor reads. They fill the
    # pause_reasons table at the first start; afterwards supervisors manage them (/admin,
    # /pause-reasons) and this setting no longer changes them.
    pause_reasons: dict[str, str] = {
        "break": "Nghỉ giải lao",
        "meal": "Nghỉ ăn",
        "training": "Đào tạo",
        "acw": "Xử lý sau cuộc gọi",
    }
    # Service-level thresholds in seconds, per category (``*`` for the others): the default
    # service levels of GET /stats/queues. Only those the rollups keep (store.models.SL_EDGES).
    sl_thresholds: dict[str, list[int]] = {"medical": [15, 20], "*": [20]}
    # Callbacks (queues/callbacks.py): offered when a queue's estimated wait passes this
    # (a negative value: never offered); the citizen's phone is tried this many times, this
    # long apart, ringing ``callback_ring_s`` each time.
    callback_threshold_s: int = 120
    callback_attempts: int = 3
    callback_retry_s: int = 120
    callback_ring_s: int = 30
    # How the hotline reaches a citizen's number: PJSIP/<number>@<endpoint>, an endpoint whose
    # only contact is the telephone network's gateway at callback_host.
    callback_endpoint: str = "pstn-out"
    callback_host: str = "127.0.0.1:5090"
    # Toll fraud (queues/callback_limits.py): only numbers matching this pattern in full
    # are called back (Vietnam's numbering plan: mobiles and landlines, national or +84);
    # at most callback_max_per_number callbacks per number per callback_number_window_s,
    # and callback_max_per_hour in all.
    callback_number_pattern: str = VIETNAM_NUMBER_PATTERN
    callback_max_per_number: int = 3
    callback_number_window_s: int = 24 * 3600
    callback_max_per_hour: int = 300
    # Mean handling time (talk + wrap-up) assumed for a queue before any call was handled:
    # the estimated wait that decides the offer starts from it.
    default_aht_s: int = 180

    # Dispatch (dispatch/): the province whose places and teams are loaded at first start
    # (a vietnam-provinces code; 74 = Bình Dương).
    province_code: int = 74
    # Seconds a team has to acknowledge an incident before it goes up a level, per category
    # and urgency ("*": the categories not named).
    ack_deadlines_s: dict[str, dict[str, int]] = DEFAULT_ACK_DEADLINES_S
    # Calling a team's phone: rings this long, tried this many times per team, this long
    # apart; then the incident goes up a level even before its deadline.
    dispatch_ring_s: int = 30
    dispatch_call_attempts: int = 3
    dispatch_retry_s: int = 60

    # Faults (store/db.py, store/journal.py, store/lock.py, queues/reconcile.py): opening a
    # database connection and one statement give up after these; call records the database
    # refuses go to an fsync'd journal in <state_dir>/journal/<instance> of at most this
    # size; at most this many calls are kept in memory while the database is down (then
    # complete ones live only in the journal, see queues/calls.py); a caller in the menu
    # waits at most this long for their history (then is asked for the district).
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    db_statement_timeout_s: float = Field(default=10.0, gt=0)
    journal_max_mb: float = Field(default=64.0, gt=0)
    memory_max_calls: int = Field(default=10_000, ge=10)
    ivr_history_wait_ms: int = Field(default=300, ge=1)
    # The rebuild after each (re)connect: each step tried this many times.
    rebuild_attempts: int = Field(default=3, ge=1)

    # API tokens: lifetime in seconds per role (roles not named keep their default); a
    # client address that failed authentication auth_failure_limit times within
    # auth_failure_window_s is answered 429 until the oldest failure leaves the window.
    token_ttl_s: dict[str, int] = DEFAULT_TOKEN_TTL_S
    auth_failure_limit: int = 10
    auth_failure_window_s: int = 300
    # Callers' numbers in the logs show only their last 3 digits.
    log_mask_numbers: bool = True

    # The live event stream (GET /events, live/): changes kept for reconnects; messages a
    # viewer may have queued before it is dropped to a resync; seconds between heartbeats;
    # how long queue and call changes are gathered before they go out (bursts coalesce).
    # On PostgreSQL, changes also travel between processes by LISTEN/NOTIFY on this channel.
    events_buffer: int = Field(default=2000, ge=1)
    events_viewer_queue: int = Field(default=500, ge=1)
    events_heartbeat_s: float = Field(default=15.0, gt=0)
    events_coalesce_ms: int = Field(default=100, ge=0, le=1000)
    events_channel: str = Field(default="hotline1022_events", pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    # The command conference's dialling (conference/service.py; the nodes are set below,
    # with the bridges): calls started a second (all nodes together), the most ringing at
    # once, attempts per point (busy, no answer, failed: the team's next phone), seconds a
    # phone rings; the most points one node holds (conference.plan).
    conference_dial_rate_per_s: float = Field(default=20.0, gt=0, le=1000)
    conference_max_in_flight: int = Field(default=200, ge=1)
    conference_max_attempts: int = Field(default=3, ge=1, le=20)
    conference_ring_s: int = Field(default=30, ge=5, le=300)
    # 200: where bench/conference_capacity.py still answered mute-all within 500 ms (p95) on a
    # 2-core node; at 300 it took 1.0-1.5 s (bench/results/conference.md).
    conference_points_per_node: int = Field(default=200, ge=1)

    # Recordings (issue 15; recordings/, pbx/recording.py). Every answered call is recorded
    # (MixMonitor, 8 kHz WAV) unless recording_enabled is false (bench/recording_cost.py's
    # "off" arm). Files live under recordings_dir (empty: the Asterisk instance's
    # spool/recordings). Retention: days a recording is kept, per class (recordings.retention
    # names the classes and their defaults; a setting that names some classes keeps the
    # defaults of the others; a class with no days, e.g. food, keeps
    # recording_retention_default_days); a legal hold keeps a call's or an incident's
    # recordings whatever their class. The purge runs
    # every recording_purge_interval_s. Agents may play their own calls' recordings when
    # recording_agent_may_listen.
    recording_enabled: bool = True
    recordings_dir: str = ""
    recording_retention_days: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_RETENTION_DAYS)
    )
    recording_retention_default_days: int = Field(default=365, ge=1)
    recording_purge_interval_s: float = Field(default=3600.0, gt=0)
    recording_agent_may_listen: bool = False

    # Listening in (issue 15; coaching/): supervisors' SIP phones sup01..supNN; how long the
    # supervisor's phone rings; whether the agent is told on the console that a supervisor is
    # on the call: "never", "coaching" (whisper and barge, where the agent hears them) or
    # "always" (listen too).
    supervisor_phone_count: int = Field(default=4, ge=0, le=99)
    spy_ring_s: int = Field(default=30, ge=5, le=120)
    spy_notify_agent: Literal["never", "coaching", "always"] = "coaching"

    # The wallboard (/wallboard, GET /wallboard): where its colours change. Waits in
    # seconds (the longest wait of a queue, ASA): amber from *_warn_s, red from *_bad_s.
    # Today's service level (answered within the category's first HOTLINE_SL_THRESHOLDS
    # value) is green from wallboard_sl_target, amber down to wallboard_sl_warn, then red;
    # the abandon rate amber from wallboard_abandon_warn, red from wallboard_abandon_bad.
    # The figures of the day are computed once for every wallboard, at most every
    # wallboard_figures_s after a call ends (and every wallboard_idle_s meanwhile).
    wallboard_wait_warn_s: float = Field(default=30.0, ge=0)
    wallboard_wait_bad_s: float = Field(default=60.0, ge=0)
    wallboard_sl_target: float = Field(default=0.80, ge=0, le=1)
    wallboard_sl_warn: float = Field(default=0.70, ge=0, le=1)
    wallboard_asa_warn_s: float = Field(default=20.0, ge=0)
    wallboard_asa_bad_s: float = Field(default=40.0, ge=0)
    wallboard_abandon_warn: float = Field(default=0.05, ge=0, le=1)
    wallboard_abandon_bad: float = Field(default=0.10, ge=0, le=1)
    wallboard_figures_s: float = Field(default=5.0, gt=0)
    wallboard_idle_s: float = Field(default=60.0, gt=0)

    # The command conference (conference/, pbx/conference.py, asterisk-conf/confbridge.conf.j2):
    # the bridges mix every mixing_interval_ms and drop the points' silence before mixing
    # (cheaper with many muted listeners); an answered point has this long, twice, to press 1.
    # A conference spans this Asterisk (the root, named conference_root_name) and the nodes
    # in conference_nodes (JSON, the fields of pbx.conference.ConferenceNode: name, ami_host,
    # ami_port, ami_username, ami_secret, sip_host, sip_port, instance).
    conference_mixing_interval_ms: int = 40
    conference_drop_silence: bool = True
    conference_key_timeout_s: int = 6
    conference_root_name: str = Field(default="root", pattern=r"^[A-Za-z0-9_-]+$")
    conference_nodes: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("conference_nodes")
    @classmethod
    def _conference_nodes(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # A typo in HOTLINE_CONFERENCE_NODES is said at start, naming the node and field.
        conference_nodes_from(value)
        return value

    @field_validator("recording_retention_days")
    @classmethod
    def _retention_classes(cls, value: dict[str, int]) -> dict[str, int]:
        # A typo'd class or a day count below 1 would purge evidence early: refused at start.
        return check_days(value)

    @field_validator("conference_mixing_interval_ms")
    @classmethod
    def _a_mixing_interval(cls, value: int) -> int:
        if value not in (10, 20, 40, 80):
            raise ValueError("ConfBridge mixes every 10, 20, 40 or 80 ms")
        return value

    @field_validator("token_ttl_s")
    @classmethod
    def _lifetimes_of_known_roles(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(sorted(unknown))}: {', '.join(ROLES)}")
        if any(s <= 0 for s in value.values()):
            raise ValueError("token lifetimes must be positive seconds")
        return {**DEFAULT_TOKEN_TTL_S, **value}

    @field_validator("auth_failure_limit", "auth_failure_window_s")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("callback_max_per_number", "callback_number_window_s", "callback_max_per_hour")
    @classmethod
    def _positive_cap(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("callback_number_pattern")
    @classmethod
    def _a_pattern(cls, value: str) -> str:
        NumberPlan(value)  # a ValueError that says what is wrong with it
        return value

    @field_validator("sl_thresholds")
    @classmethod
    def _thresholds_the_statistics_keep(cls, value: dict[str, list[int]]) -> dict[str, list[int]]:
        if "*" not in value:
            raise ValueError('needs "*": the thresholds of the categories not named')
        for thresholds in value.values():
            check_thresholds(thresholds)  # a ValueError that names the ones not kept
        return value

    @field_validator("ack_deadlines_s")
    @classmethod
    def _every_urgency_has_a_deadline(
        cls, value: dict[str, dict[str, int]]
    ) -> dict[str, dict[str, int]]:
        if "*" not in value:
            raise ValueError('needs "*": the deadlines of the categories not named')
        for category, deadlines in value.items():
            missing = {"critical", "urgent", "normal"} - set(deadlines)
            if missing:
                raise ValueError(f"{category!r} has no deadline for {', '.join(sorted(missing))}")
            if any(s <= 0 for s in deadlines.values()):
                raise ValueError(f"{category!r}: deadlines must be positive seconds")
        return value

    @property
    def wallboard_thresholds(self) -> Thresholds:
        return Thresholds(
            wait_warn_s=self.wallboard_wait_warn_s,
            wait_bad_s=self.wallboard_wait_bad_s,
            sl_target=self.wallboard_sl_target,
            sl_warn=self.wallboard_sl_warn,
            asa_warn_s=self.wallboard_asa_warn_s,
            asa_bad_s=self.wallboard_asa_bad_s,
            abandon_warn=self.wallboard_abandon_warn,
            abandon_bad=self.wallboard_abandon_bad,
        )

    def routing(self, districts: tuple[int, ...]) -> RoutingPolicy:
        """The routing policy for a menu with these district codes."""
        return RoutingPolicy(
            districts=districts,
            district_wait_s=self.district_wait_s,
            skill_wait_s=self.skill_wait_s,
            urgent_anyone_wait_s=self.urgent_anyone_wait_s,
        )

    @property
    def database_url_for_people(self) -> str:
        """The database URL with its password hidden: what may be printed or logged."""
        return mask_url(self.effective_database_url)

    @property
    def secrets_path(self) -> Path:
        return self.state_dir / "secrets.json"

    @cached_property
    def secrets(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.secrets_path.read_text())
        except FileNotFoundError:
            return {}
        return data

    @property
    def journal_dir(self) -> Path:
        return self.state_dir / "journal" / self.asterisk_instance

    @property
    def effective_ami_secret(self) -> str:
        return self.ami_secret or str(self.secrets.get("ami_secret", ""))

    @property
    def effective_agi_secret(self) -> str:
        return self.agi_secret or str(self.secrets.get("agi_secret", ""))

    @property
    def effective_dispatch_secret(self) -> str:
        return self.dispatch_secret or str(self.secrets.get("dispatch_secret", ""))

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.state_dir / 'hotline1022.db').resolve()}"


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (a URL SQLAlchemy cannot parse is
    hidden whole: it might hold one)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def get_settings() -> Settings:
    return Settings()
