"""Configure, start and stop an Asterisk instance the hotline runs on.

Asterisk ≥ 20 comes from the system if ``asterisk`` is installed, else from a Debian sid root
built once with ``mmdebstrap`` (``provision.root``) and cached outside the work tree
(``HOTLINE_ASTERISK_ROOT``, default ``/var/cache/hotline1022/asterisk-root``), run with
``chroot``.

Each *instance* (``main`` for ``make run``, one per test session) has its own directory inside
that root, ``/var/lib/hotline1022/<name>``, with its rendered config, control socket, logs,
CDR and astdb, so a test run never disturbs a running hotline. Where those lie is
``pbx.paths.AsteriskPaths``, which the running service reads too; this module adds what only
provisioning does: rendering ``asterisk-conf/`` and running the process.

Usage::

    ast = Asterisk.locate("main")
    ast.render(AsteriskConfig(...))
    ast.start()
    ...
    ast.stop()
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from pbx.agi_auth import agi_keys
from pbx.events import TYPED_EVENTS
from pbx.paths import AsteriskPaths, BadInstanceName
from provision.errors import AsteriskError
from provision.root import build_root
from queues.routing import RoutingPolicy
from store.categories import CATEGORIES, DEFAULT_CATEGORY

__all__ = ["Asterisk", "AsteriskConfig", "AsteriskError"]

log = logging.getLogger(__name__)

CONF_SRC = Path(__file__).resolve().parent.parent / "asterisk-conf"
MIN_MAJOR = 20
# Rendered files holding secrets (the AMI secret, SIP passwords, the FastAGI keys): mode 0640,
# from their creation on, readable by Asterisk's group only.
_PRIVATE = frozenset({"manager.conf", "pjsip.conf", "extensions.conf"})


def _write(path: Path, text: str, *, private: bool) -> None:
    """Write ``path``; a private one is never readable by others, not even for an instant."""
    if not private:
        path.write_text(text)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o640)  # an existing file keeps its mode otherwise
        f.write(text)


@dataclass
class AsteriskConfig:
    """What the templates in ``asterisk-conf/`` are rendered with."""

    ami_port: int
    ami_username: str
    ami_secret: str
    sip_port: int
    agi_host: str
    agi_port: int
    # The per-instance FastAGI secret: extensions.conf gets keys derived from it, with which
    # the dialplan proves each FastAGI session is its own (pbx/agi_auth.py).
    agi_secret: str
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
    # The command conference (confbridge.conf, the hotline-conf-* contexts): Settings'
    # conference_*; the link endpoint between nodes exists only with a password (secrets
    # "node_link"); music for the points waiting for a leader is copied from ``moh_src``.
    conference_mixing_interval_ms: int = 40
    conference_drop_silence: bool = True
    conference_key_timeout_s: int = 6
    node_link_password: str = ""
    moh_src: Path | None = None
    # Recording (issue 15, pbx/recording.py): MixMonitor on every answered leg when enabled,
    # into the instance's recordings_dir (AsteriskPaths). Supervisors' phones (endpoint,
    # password, name) ring to listen in (hotline-spy).
    recording_enabled: bool = True
    supervisors: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # Generated files written as they are into the instance's etc directory, beside the
    # rendered templates (e.g. "extensions_menu.conf": the menu compiled to dialplan).
    extra_files: dict[str, str] = field(default_factory=dict)


class Asterisk(AsteriskPaths):
    """One Asterisk instance: a system binary or a chroot, plus its own directories."""

    def __init__(self, name: str, root: Path | None) -> None:
        try:
            super().__init__(name, root)
        except BadInstanceName as exc:
            raise AsteriskError(str(exc)) from None

    # -- locating / provisioning -------------------------------------------------------

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

    # -- config ------------------------------------------------------------------------

    def render(self, cfg: AsteriskConfig) -> None:
        """Render every template of asterisk-conf/ into this instance's etc directory."""
        etc = self.host_path(f"{self.inst}/etc")
        subdirs = ["etc", "run", "log", "log/cdr-csv", "spool", "db", "cache", "prompts"]
        # Conference recordings (pbx/conference.py) and the music its points wait with.
        subdirs += ["spool/conferences", "moh/conference"]
        for sub in subdirs:
            self.host_path(f"{self.inst}/{sub}").mkdir(parents=True, exist_ok=True)
        # Call recordings (MixMonitor makes the dated subdirectories itself).
        recordings = self.host_path(self.recordings_dir)
        recordings.mkdir(parents=True, exist_ok=True)
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(CONF_SRC)),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        try:
            keys = agi_keys(cfg.agi_secret)
        except ValueError as exc:
            raise AsteriskError(str(exc)) from None
        ctx: dict[str, Any] = {
            "name": self.name,
            "inst": self.inst,
            "moddir": self._moddir(),
            "cfg": cfg,
            "ami_port": cfg.ami_port,
            "ami_username": cfg.ami_username,
            "ami_secret": cfg.ami_secret,
            "ami_events": TYPED_EVENTS,
            "sip_port": cfg.sip_port,
            "agi_host": cfg.agi_host,
            "agi_port": cfg.agi_port,
            "agi_keys": keys,
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
            "conference": {
                "mixing_interval_ms": cfg.conference_mixing_interval_ms,
                "drop_silence": cfg.conference_drop_silence,
                "key_timeout_s": cfg.conference_key_timeout_s,
                "node_link": cfg.node_link_password,
            },
            "recording": {"enabled": cfg.recording_enabled, "dir": self.recordings_dir},
            "supervisors": cfg.supervisors,
            **cfg.extra,
        }
        rendered: set[str] = set()
        for tmpl in sorted(CONF_SRC.glob("*.conf.j2")):
            out = etc / tmpl.name.removesuffix(".j2")
            text = env.get_template(tmpl.name).render(**ctx)
            _write(out, text, private=out.name in _PRIVATE)
            rendered.add(out.name)
        for fname, text in cfg.extra_files.items():
            if not re.fullmatch(r"[A-Za-z0-9_.-]+\.conf", fname) or fname in rendered:
                raise AsteriskError(f"extra file {fname!r}: a new name.conf in etc, no path")
            (etc / fname).write_text(text)
        if cfg.prompts_src is not None and cfg.prompts_src.is_dir():
            dest = self.host_path(self.prompts_dir)
            for f in cfg.prompts_src.glob("*.wav"):
                shutil.copy2(f, dest / f.name)
        if cfg.moh_src is not None and cfg.moh_src.is_dir():
            dest = self.host_path(f"{self.inst}/moh/conference")
            for f in cfg.moh_src.glob("*.wav"):
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
        if not self.recordings_dir.startswith(f"{self.inst}/"):
            # A recordings directory elsewhere: Asterisk writes into it (not -R: it may hold
            # years of files, all Asterisk's already).
            self._run(["chown", "asterisk:asterisk", self.recordings_dir])

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
