"""Asterisk's own record of calls (cdr_csv ``Master.csv``), for calls the service never saw.

While the service is down (or its AMI link is), Asterisk goes on taking calls. Its CDR
holds one row per call leg; this module reads the recent tail of the file and folds the
rows of each citizen channel (``dcontext`` = citizens, ``dst`` = 1022) into one
``CdrCall``. The call tracker then records those it lacks.

cdr_csv columns (``loguniqueid`` and ``loguserfield`` on, ``usegmtime`` on): accountcode,
src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer, end,
duration, billsec, disposition, amaflags, uniqueid, userfield.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["CdrCall", "read_recent_calls"]

TAIL_BYTES = 32 * 1024 * 1024  # about 100,000 rows: days of calls at 15,000 a day


@dataclass
class CdrCall:
    uniqueid: str
    caller_number: str
    caller_name: str
    start: datetime
    end: datetime | None
    # The agent whose channel the citizen was bridged to (``agent01``), if any.
    agent_endpoint: str | None
    # The last application the citizen's channel ran: "Queue" if it ended waiting there.
    last_app: str


def _time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _name(clid: str) -> str:
    # '"Nguyễn Văn An" <0901000001>' -> 'Nguyễn Văn An'
    if clid.startswith('"') and '"' in clid[1:]:
        return clid[1 : clid.index('"', 1)]
    return ""


def _agent(dstchannel: str, agent_prefix: str) -> str | None:
    # 'PJSIP/agent01-0000002a' -> 'agent01'
    if not dstchannel.startswith("PJSIP/"):
        return None
    endpoint = dstchannel[len("PJSIP/") :].rsplit("-", 1)[0]
    return endpoint if endpoint.startswith(agent_prefix) else None


def read_recent_calls(
    path: Path,
    *,
    since: datetime,
    context: str = "citizens",
    exten: str = "1022",
    agent_prefix: str = "agent",
    tail_bytes: int = TAIL_BYTES,
) -> list[CdrCall]:
    """Citizen calls that started at or after ``since``, from the file's last
    ``tail_bytes`` (a missing file gives none)."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - tail_bytes))
            data = f.read()
    except FileNotFoundError:
        return []
    if size > tail_bytes:
        data = data[data.find(b"\n") + 1 :]  # drop the partial first line
    calls: dict[str, CdrCall] = {}
    for row in csv.reader(io.StringIO(data.decode("utf-8", errors="replace"))):
        if len(row) < 17 or row[2] != exten or row[3] != context:
            continue
        start = _time(row[9])
        if start is None or start < since:
            continue
        uid = row[16]
        call = calls.get(uid)
        agent = _agent(row[6], agent_prefix)
        end = _time(row[11])
        if call is None:
            calls[uid] = CdrCall(uid, row[1], _name(row[4]), start, end, agent, row[7])
            continue
        call.start = min(call.start, start)
        if end is not None and (call.end is None or end > call.end):
            call.end, call.last_app = end, row[7]
        call.agent_endpoint = call.agent_endpoint or agent
    return sorted(calls.values(), key=lambda c: c.start)
