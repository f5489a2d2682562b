"""Settings from the environment (``HOTLINE_*``) and the generated secrets file.

The AMI secret and the agents' SIP passwords are generated when Asterisk is provisioned and
kept in ``<state_dir>/secrets.json`` (outside git). An explicit ``HOTLINE_AMI_SECRET`` wins.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dispatch.lifecycle import DEFAULT_ACK_DEADLINES_S
from queues.routing import RoutingPolicy
from stats.history import check_thresholds

__all__ = ["Settings", "get_settings"]


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

    api_host: str = "127.0.0.1"
    api_port: int = 8022
    # The largest request body the API reads (413 beyond), and how long one GET /staffing
    # may compute (in a worker thread) before it answers 422.
    api_max_body_bytes: int = 1_048_576
    staffing_time_limit_s: float = 10.0

    asterisk_instance: str = "main"
    menu_file: Path = Path(__file__).resolve().parent.parent / "ivr" / "menus" / "default.yaml"
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
    # Pause reasons an agent may give: code -> what the supervisor reads.
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

    def routing(self, districts: tuple[int, ...]) -> RoutingPolicy:
        """The routing policy for a menu with these district codes."""
        return RoutingPolicy(
            districts=districts,
            district_wait_s=self.district_wait_s,
            skill_wait_s=self.skill_wait_s,
            urgent_anyone_wait_s=self.urgent_anyone_wait_s,
        )

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
    def effective_ami_secret(self) -> str:
        return self.ami_secret or str(self.secrets.get("ami_secret", ""))

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.state_dir / 'hotline1022.db').resolve()}"


def get_settings() -> Settings:
    return Settings()
