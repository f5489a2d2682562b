"""A private PostgreSQL server for one chaos run, so ``stop-db`` stops a real server.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback port (trust
authentication, loopback only, the socket in that directory), ``pg_ctl stop -m fast`` for
the fault, and the directory removed at the end. Run as the ``postgres`` user when we are
root (PostgreSQL refuses to run as root). Never touches the machine's own server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from simulation.stack import free_port

__all__ = ["PostgresError", "PrivatePostgres"]


class PostgresError(RuntimeError):
    """No PostgreSQL binaries, or the server did not start or stop."""


def _bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise PostgresError("no PostgreSQL server binaries (apt-get install postgresql)")
    return Path(pg_ctl).parent


class PrivatePostgres:
    def __init__(self) -> None:
        self.bindir = _bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-chaos-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres"
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 120) -> None:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self._user is not None:
            cmd = ["runuser", "-u", self._user, "--", *cmd]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if proc.returncode != 0:
            raise PostgresError(f"{argv[0]} failed: {(proc.stderr or proc.stdout)[-800:]}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start"
        )
        self.running = True

    def stop(self) -> None:
        """``pg_ctl stop -m fast``: sessions are ended, the server is down until ``start``."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.running = False

    def remove(self) -> None:
        if self.running:
            try:
                self.stop()
            except PostgresError:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
