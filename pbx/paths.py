"""Where an Asterisk instance keeps what the service reads and writes: prompts, the CDR.

The service and Asterisk share files: the service writes sound files (the menu's prompts,
the teams' orders) that Asterisk plays, and reads Asterisk's CDR after a restart. Asterisk
is either the system's binary or one inside a chroot (``HOTLINE_ASTERISK_ROOT``, default
``/var/cache/hotline1022/asterisk-root``, built by ``provision/``); each *instance* (``main``
for ``make run``, one per test session) has its own directory ``/var/lib/hotline1022/<name>``
as Asterisk sees it. This module only names the places; ``provision/`` builds the root and
renders the config.

    paths = AsteriskPaths.find("main")
    paths.prompts_dir              # "/var/lib/hotline1022/main/prompts", as Asterisk sees it
    paths.host_path(paths.prompts_dir)   # the same directory as this process sees it
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Self

__all__ = ["DEFAULT_ROOT", "AsteriskPaths", "BadInstanceName", "BadRecordingsDir"]

DEFAULT_ROOT = Path("/var/cache/hotline1022/asterisk-root")


class BadInstanceName(ValueError):
    """An instance name that cannot be a directory name."""


class BadRecordingsDir(ValueError):
    """A recordings directory the dialplan cannot be given (not absolute, odd characters)."""


# The recordings directory goes into MixMonitor's post-process command (a shell line,
# asterisk-conf/extensions.conf.j2): only plain path characters.
_RECORDINGS_DIR = re.compile(r"(/[A-Za-z0-9_.-]+)+")


class AsteriskPaths:
    """The directories and files of one Asterisk instance, in and out of its root."""

    def __init__(self, name: str, root: Path | None, *, recordings_dir: str = "") -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise BadInstanceName(f"bad instance name {name!r}")
        self.name = name
        self.root = root  # None: the system's Asterisk
        self.inst = f"/var/lib/hotline1022/{name}"
        self._recordings_dir = ""
        self.recordings_dir = recordings_dir

    @classmethod
    def find(cls, name: str = "main", *, recordings_dir: str = "") -> Self:
        """Where an instance lives (the system's Asterisk unless ``HOTLINE_ASTERISK_ROOT`` is
        set or none is installed), without checking or building anything."""
        if shutil.which("asterisk") and not os.environ.get("HOTLINE_ASTERISK_ROOT"):
            paths = cls(name, None)
        else:
            paths = cls(name, Path(os.environ.get("HOTLINE_ASTERISK_ROOT", str(DEFAULT_ROOT))))
        paths.recordings_dir = recordings_dir
        return paths

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
        """The prompts directory as Asterisk sees it (what ``Playback`` is given)."""
        return f"{self.inst}/prompts"

    @property
    def recordings_dir(self) -> str:
        """Where calls are recorded, as Asterisk sees it (settings ``recordings_dir``, a path
        inside the Asterisk root when there is one; empty: the instance's
        ``spool/recordings``). MixMonitor writes ``calls/2026/12/06/<uniqueid>.wav`` there."""
        return self._recordings_dir or f"{self.inst}/spool/recordings"

    @recordings_dir.setter
    def recordings_dir(self, value: str) -> None:
        stripped = value.rstrip("/")
        if value and (not _RECORDINGS_DIR.fullmatch(stripped) or "/.." in stripped):
            raise BadRecordingsDir(
                f"recordings_dir {value!r}: an absolute path (as Asterisk sees it) of letters, "
                "digits, '_', '-', '.' and '/', not the root"
            )
        self._recordings_dir = stripped

    @property
    def cdr_csv(self) -> Path:
        return self.host_path(f"{self.inst}/log/cdr-csv/Master.csv")

    @property
    def queue_log(self) -> Path:
        return self.host_path(f"{self.inst}/log/queue_log")
