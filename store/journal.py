"""An append-only local journal: records that could not reach the database survive a crash.

One file of JSON lines, each line one record, ``fsync``'d before ``append`` returns. The
directory is made ``0700`` and the file ``0600`` (caller numbers are inside). The journal is
bounded: ``append`` refuses (returns False, nothing written) a batch that would pass
``max_bytes``. A torn last line (the process died mid-write) is skipped on reading.
Replaying is the owner's business; ``rewrite`` atomically replaces the file with the records
still to keep (empty: the journal is done).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["Journal"]

log = logging.getLogger(__name__)


class Journal:
    def __init__(self, path: Path, *, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.refused = 0  # records refused because the journal was full, since the start
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent, 0o700)

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, records: Iterable[Mapping[str, Any]]) -> bool:
        """Append the records durably; False (nothing written) if they would not fit."""
        data = "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in records)
        if not data:
            return True
        raw = data.encode()
        if self.size + len(raw) > self.max_bytes:
            self.refused += data.count("\n")
            return False
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, raw)
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def read(self) -> list[dict[str, Any]]:
        """Every whole record, oldest first."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        out: list[dict[str, Any]] = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("journal %s: line %d is torn; skipped", self.path, n)
        return out

    def rewrite(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Replace the journal with these records (atomic rename, fsync'd)."""
        records = list(records)
        if not records:
            self.path.unlink(missing_ok=True)
            _fsync_dir(self.path.parent)
            return
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for r in records:
                os.write(fd, (json.dumps(r, separators=(",", ":"), default=str) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
