"""Provision, configure, start and stop the Asterisk the hotline runs on.

Asterisk ≥ 20 comes from the system if ``asterisk`` is installed, else from a Debian sid root
built once with ``mmdebstrap`` and cached outside the work tree (``HOTLINE_ASTERISK_ROOT``,
default ``/var/cache/hotline1022/asterisk-root``), run with ``chroot``.

Each *instance* (``main`` for ``make run``, one per test session) has its own directory inside
that root, ``/var/lib/hotline1022/<name>``, with its rendered config, control socket, logs,
CDR and astdb, so a test run never disturbs a running hotline.

Usage::

    ast = Asterisk.locate("main")
    ast.render(AsteriskConfig(...))
    ast.start()
    ...
    ast.stop()
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from queues.categories import CATEGORIES, DEFAULT_CATEGORY
from queues.routing import RoutingPolicy
from store.seed import agent_endpoint

__all__ = [
    "Asterisk",
    "AsteriskConfig",
    "AsteriskError",
    "ensure_secrets",
    "team_phone_password",
]

log = logging.getLogger(__name__)

CONF_SRC = Path(__file__).resolve().parent.parent / "asterisk-conf"
DEFAULT_ROOT = Path("/var/cache/hotline1022/asterisk-root")
ROOT_PACKAGES = ("asterisk", "asterisk-modules")
MIN_MAJOR = 20
PHONE_COUNT = 5


class AsteriskError(RuntimeError):
    """Asterisk could not be provisioned, configured, started or stopped."""


@dataclass
class AsteriskConfig:
    """What the templates in ``asterisk-conf/`` are rendered with."""

    ami_port: int
    ami_username: str
    ami_secret: str
    sip_port: int
    agi_host: str
    agi_port: int
    agents: list[dict[str, str]]
    phones: list[dict[str, str]]
    # The default teams' phones (dispatch/teams.py): endpoint, password, name.
    team_phones: list[dict[str, str]] = field(default_factory=list)
    prompts_src: Path | None = None
    rtp_start: int = 20000
    rtp_end: int = 20999
    ring_timeout_s: int = 15
    wrapup_s: int = 10
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)
    max_calls: int = 2000
    # Calling citizens back (queues/callbacks.py): Dial(PJSIP/<number>@<endpoint>) reaches
    # the telephone network's gateway at ``callback_host``; the citizen's phone rings
    # ``callback_ring_s`` seconds.
    callback_endpoint: str = "pstn-out"
    callback_host: str = "127.0.0.1:5090"
    callback_ring_s: int = 30
    extra: dict[str, Any] = field(default_factory=dict)
    # Generated files written as they are into the instance's etc directory, beside the
    # rendered templates (e.g. "extensions_menu.conf": the menu compiled to dialplan).
    extra_files: dict[str, str] = field(default_factory=dict)


def ensure_secrets(
    state_dir: Path, agent_count: int, team_endpoints: Iterable[str] = ()
) -> dict[str, Any]:
    """Load ``secrets.json`` from the state dir, generating what is missing (mode 0600).

    Passwords are generated once and kept: a registered softphone keeps working across
    provisionings. The team phones' are under ``teams`` (endpoint -> password).
    """
    path = state_dir / "secrets.json"
    data: dict[str, Any] = {}
    if path.exists():
        data = json.loads(path.read_text())
    changed = False
    if not data.get("ami_secret"):
        data["ami_secret"] = secrets.token_urlsafe(24)
        changed = True
    agents: dict[str, str] = data.setdefault("agents", {})
    for i in range(1, agent_count + 1):
        ep = agent_endpoint(i)
        if ep not in agents:
            agents[ep] = secrets.token_urlsafe(12)
            changed = True
    phones: dict[str, str] = data.setdefault("phones", {})
    for i in range(1, PHONE_COUNT + 1):
        ep = f"phone{i:02d}"
        if ep not in phones:
            phones[ep] = secrets.token_urlsafe(12)
            changed = True
    teams: dict[str, str] = data.setdefault("teams", {})
    for ep in team_endpoints:
        if ep not in teams:
            teams[ep] = secrets.token_urlsafe(12)
            changed = True
    if changed:
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.chmod(0o600)
        tmp.replace(path)
    return data


def team_phone_password(secrets_data: Mapping[str, Any], endpoint: str) -> str:
    """The SIP password of a team phone's endpoint (``team-c25741``) from ``secrets.json``'s
    data (``Settings().secrets``), for registering a softphone or a SIPp phone as it."""
    try:
        return str(secrets_data["teams"][endpoint])
    except KeyError:
        raise KeyError(
            f"no team phone {endpoint!r} in the secrets: provision Asterisk for the province "
            "(hotline1022 asterisk provision) or check the name (hotline1022 teams list)"
        ) from None


def _host_mirror() -> str:
    """The Debian mirror this machine's apt uses, so the root comes from the same place."""
    for src in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        m = re.search(r"^URIs:\s*(\S+)", src.read_text(), re.M)
        if m and "security" not in m.group(1):
            return m.group(1)
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        m = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", legacy.read_text(), re.M)
        if m:
            return m.group(1)
    raise AsteriskError("no Debian mirror found in /etc/apt sources to build the Asterisk root")


class Asterisk:
    """One Asterisk instance: a system binary or a chroot, plus its own directories."""

    def __init__(self, name: str, root: Path | None) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise AsteriskError(f"bad instance name {name!r}")
        self.name = name
        self.root = root  # None: the system's Asterisk
        self.inst = f"/var/lib/hotline1022/{name}"

    # -- locating / provisioning -------------------------------------------------------

    @classmethod
    def find(cls, name: str = "main") -> Asterisk:
        """Where an instance lives, without checking or building anything."""
        if shutil.which("asterisk") and not os.environ.get("HOTLINE_ASTERISK_ROOT"):
            return cls(name, None)
        return cls(name, Path(os.environ.get("HOTLINE_ASTERISK_ROOT", str(DEFAULT_ROOT))))

    @classmethod
    def locate(cls, name: str = "main", *, build: bool = True) -> Asterisk:
        ast = cls.find(name)
        if ast.root is not None and not (ast.root / "usr/sbin/asterisk").exists():
            if not build:
                raise AsteriskError(f"no Asterisk root at {ast.root}; run 'make asterisk'")
            build_root(ast.root)
        ast.check_version()
        return ast

    def version(self) -> str:
        out = self._run(["asterisk", "-V"], capture=True)
        return out.strip()

    def check_version(self) -> None:
        v = self.version()
        m = re.search(r"Asterisk (\d+)\.", v)
        if not m or int(m.group(1)) < MIN_MAJOR:
            raise AsteriskError(f"need Asterisk >= {MIN_MAJOR}, found {v!r}")

    # -- paths -------------------------------------------------------------------------

    def host_path(self, inner: str) -> Path:
        """Where a path as Asterisk sees it lies on this machine."""
        if self.root is None:
            return Path(inner)
        return self.root / inner.lstrip("/")

    @property
    def conf_path(self) -> str:
        return f"{self.inst}/etc/asterisk.conf"

    @property
    def prompts_dir(self) -> str:
        return f"{self.inst}/prompts"

    @property
    def cdr_csv(self) -> Path:
        return self.host_path(f"{self.inst}/log/cdr-csv/Master.csv")

    @property
    def queue_log(self) -> Path:
        return self.host_path(f"{self.inst}/log/queue_log")

    # -- config ------------------------------------------------------------------------

    def render(self, cfg: AsteriskConfig) -> None:
        """Render every template of asterisk-conf/ into this instance's etc directory."""
        etc = self.host_path(f"{self.inst}/etc")
        for sub in ("etc", "run", "log", "log/cdr-csv", "spool", "db", "cache", "prompts"):
            self.host_path(f"{self.inst}/{sub}").mkdir(parents=True, exist_ok=True)
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(CONF_SRC)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        ctx: dict[str, Any] = {
            "name": self.name,
            "inst": self.inst,
            "moddir": self._moddir(),
            "cfg": cfg,
            "ami_port": cfg.ami_port,
            "ami_username": cfg.ami_username,
            "ami_secret": cfg.ami_secret,
            "sip_port": cfg.sip_port,
            "agi_host": cfg.agi_host,
            "agi_port": cfg.agi_port,
            "agents": cfg.agents,
            "phones": cfg.phones,
            "team_phones": cfg.team_phones,
            "categories": CATEGORIES,
            "routing": cfg.routing,
            "fallback": DEFAULT_CATEGORY,
            "prompts_dir": self.prompts_dir,
            "callback": {
                "endpoint": cfg.callback_endpoint,
                "host": cfg.callback_host,
                "ring_s": cfg.callback_ring_s,
            },
            **cfg.extra,
        }
        rendered: set[str] = set()
        for tmpl in sorted(CONF_SRC.glob("*.conf.j2")):
            out = etc / tmpl.name.removesuffix(".j2")
            text = env.get_template(tmpl.name).render(**ctx)
            out.write_text(text)
            rendered.add(out.name)
        for fname, text in cfg.extra_files.items():
            if not re.fullmatch(r"[A-Za-z0-9_.-]+\.conf", fname) or fname in rendered:
                raise AsteriskError(f"extra file {fname!r}: a new name.conf in etc, no path")
            (etc / fname).write_text(text)
        (etc / "manager.conf").chmod(0o640)
        (etc / "pjsip.conf").chmod(0o640)
        if cfg.prompts_src is not None and cfg.prompts_src.is_dir():
            dest = self.host_path(self.prompts_dir)
            for f in cfg.prompts_src.glob("*.wav"):
                shutil.copy2(f, dest / f.name)
        self._chown_instance()

    def _moddir(self) -> str:
        for cand in (
            "/usr/lib/x86_64-linux-gnu/asterisk/modules",
            "/usr/lib/asterisk/modules",
            "/usr/lib64/asterisk/modules",
        ):
            if self.host_path(cand).is_dir():
                return cand
        raise AsteriskError("cannot find Asterisk's module directory")

    def _chown_instance(self) -> None:
        if os.geteuid() != 0 or not self._has_asterisk_user():
            return
        self._run(["chown", "-R", "asterisk:asterisk", self.inst])

    def _has_asterisk_user(self) -> bool:
        passwd = self.host_path("/etc/passwd")
        return passwd.exists() and re.search(r"^asterisk:", passwd.read_text(), re.M) is not None

    # -- process -----------------------------------------------------------------------

    def _cmd(self, argv: list[str]) -> list[str]:
        if self.root is None:
            return argv
        return ["chroot", str(self.root), *argv]

    def _run(
        self, argv: list[str], *, capture: bool = False, check: bool = True, timeout: float = 60
    ) -> str:
        proc = subprocess.run(
            self._cmd(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            detail = proc.stderr.strip() or proc.stdout.strip()
            raise AsteriskError(f"{' '.join(argv)} failed ({proc.returncode}): {detail}")
        return proc.stdout if capture else ""

    def cli(self, command: str, *, timeout: float = 10) -> str:
        """Run one Asterisk CLI command on this instance and return its output."""
        return self._run(
            ["asterisk", "-C", self.conf_path, "-rx", command], capture=True, timeout=timeout
        )

    def running(self) -> bool:
        try:
            self._run(["asterisk", "-C", self.conf_path, "-rx", "core show uptime"], timeout=5)
        except (AsteriskError, subprocess.TimeoutExpired):
            return False
        return True

    def start(self, timeout: float = 30) -> None:
        """Start the instance (restarting it if it already runs) and wait until fully booted."""
        if self.running():
            self.stop()
        argv = ["asterisk", "-C", self.conf_path]
        if os.geteuid() == 0 and self._has_asterisk_user():
            # As root with -U root, Asterisk drops capabilities and cannot read its own files.
            argv += ["-U", "asterisk", "-G", "asterisk"]
        self._run(argv)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                out = self._run(
                    ["asterisk", "-C", self.conf_path, "-rx", "core waitfullybooted"],
                    capture=True,
                    timeout=10,
                )
                if "fully booted" in out.lower():
                    log.info("Asterisk %s is up (%s)", self.name, self.version())
                    return
            except (AsteriskError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.2)
        raise AsteriskError(
            f"Asterisk instance {self.name} did not boot in {timeout:.0f} s; "
            f"see {self.host_path(self.inst + '/log/messages')}"
        )

    def stop(self, timeout: float = 15) -> None:
        """Stop the instance now (calls in progress are cut, as with any PBX stop)."""
        if not self.running():
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._run(
                ["asterisk", "-C", self.conf_path, "-rx", "core stop now"],
                check=False,
                timeout=timeout,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._pid_alive():
                return
            time.sleep(0.1)
        pid = self._pid()
        if pid:
            os.kill(pid, 9)

    @property
    def pid(self) -> int | None:
        """The running instance's process id (the same in and out of the chroot)."""
        return self._pid() if self._pid_alive() else None

    def _pid(self) -> int | None:
        try:
            return int(self.host_path(f"{self.inst}/run/asterisk.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _pid_alive(self) -> bool:
        pid = self._pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return (
            Path(f"/proc/{pid}/cmdline").exists()
            and b"asterisk" in Path(f"/proc/{pid}/cmdline").read_bytes()
        )

    def remove(self) -> None:
        """Delete this instance's directory (only for throwaway test instances)."""
        self.stop()
        shutil.rmtree(self.host_path(self.inst), ignore_errors=True)


def build_root(root: Path) -> None:
    """Build the Debian sid root with Asterisk via mmdebstrap (about half a minute)."""
    if shutil.which("mmdebstrap") is None:
        raise AsteriskError("mmdebstrap is not installed: apt-get install mmdebstrap")
    tmp = root.with_name(root.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        "mmdebstrap",
        "--variant=apt",
        # sid's Release file on a mirror can be older than its Valid-Until.
        '--aptopt=Acquire::Check-Valid-Until "false"',
        "--include=" + ",".join(ROOT_PACKAGES),
        "sid",
        str(tmp),
        _host_mirror(),
    ]
    log.info("building the Asterisk root: %s", " ".join(argv))
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise AsteriskError(f"mmdebstrap failed:\n{proc.stderr[-4000:]}")
    tmp.replace(root)
