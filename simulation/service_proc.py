"""The service as a child process (``hotline1022 serve``), so a chaos run can SIGKILL it.

The child gets the stack's settings through ``HOTLINE_*`` environment variables, exactly as
an operator's ``serve`` would, and its output goes to a log file per start in the run's
state directory. ``ready()`` asks ``GET /health`` whether the service can work again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from hotline1022.settings import Settings

__all__ = ["ServiceProcess", "health_ready", "settings_env"]

# Values of /health's "ami.rebuild.state" that mean the rebuild after a (re)connect is over
# (when the service reports it; otherwise "connected" and a healthy database are the mark).
REBUILT_STATES = frozenset({"done", "ready", "ok", "complete", "completed", "idle"})


def settings_env(settings: Settings, **overrides: Any) -> dict[str, str]:
    """``HOTLINE_*`` variables that give a child process these settings."""
    env: dict[str, str] = {}
    values = {**settings.model_dump(), **overrides}
    for name, value in values.items():
        if isinstance(value, dict | list):
            text = json.dumps(value)
        elif isinstance(value, Path):
            text = str(value.resolve())
        else:
            text = str(value)
        env[f"HOTLINE_{name.upper()}"] = text
    return env


def health_ready(status_code: int, body: dict[str, Any]) -> bool:
    """Whether a /health answer says the service has rebuilt its state and can work: 200,
    AMI logged in, the database answering, and the rebuild (if reported) over."""
    if status_code != 200:
        return False
    ami = body.get("ami") or {}
    if ami.get("connected") is not True:
        return False
    database = body.get("database") or {}
    if database.get("ok") is False:
        return False
    rebuild = ami.get("rebuild")
    if isinstance(rebuild, dict) and "state" in rebuild:
        return str(rebuild["state"]) in REBUILT_STATES
    return True


class ServiceProcess:
    def __init__(self, settings: Settings, *, ami_port: int, log_dir: Path) -> None:
        self.settings = settings
        self.env = {**os.environ, **settings_env(settings, ami_port=ami_port)}
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.url = f"http://127.0.0.1:{settings.api_port}/health"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "the service is running"
        self.starts += 1
        exe = Path(sys.executable).with_name("hotline1022")
        log = (self.log_dir / f"service-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [str(exe), "serve"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL: nothing is flushed, nothing closed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    async def stop(self, within_s: float = 30) -> None:
        """SIGTERM, as at a redeploy; SIGKILL if it does not stop within ``within_s``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.to_thread(self.proc.wait, within_s)
        except subprocess.TimeoutExpired:
            self.kill()

    async def health(self) -> tuple[int, dict[str, Any]]:
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                resp = await client.get(self.url)
            return resp.status_code, resp.json()
        except (httpx.HTTPError, ValueError):
            return 0, {}

    async def wait_ready(self, within_s: float = 120) -> float:
        """Seconds until /health says the service is ready; a ``TimeoutError`` otherwise (or
        a ``RuntimeError`` if the process exits)."""
        started = time.monotonic()
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"the service exited ({self.proc.returncode}); see "
                    f"{self.log_dir / f'service-{self.starts}.log'}"
                )
            code, body = await self.health()
            if health_ready(code, body):
                return time.monotonic() - started
            if time.monotonic() - started > within_s:
                raise TimeoutError(f"service not ready after {within_s:.0f} s: {code} {body}")
            await asyncio.sleep(0.1)
