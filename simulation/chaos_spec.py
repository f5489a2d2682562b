"""The ``--chaos`` schedule of ``hotline1022 simulate``: which faults, when, how long.

A SPEC is a comma-separated list of faults, each ``KIND@AT`` with an optional argument::

    kill-service@20s,restart-asterisk@60s,cut-ami@90s,cut-ami@100s+half-open,
    stop-db@120s/60s,agi-flood@200s/500

``AT`` is seconds after the first call is placed (``20s``, ``20`` or ``1m30s``). The kinds:

- ``kill-service``: the service gets SIGKILL and is started again at once;
- ``restart-asterisk``: the Asterisk instance is stopped and started again;
- ``cut-ami``: the AMI connection is closed on both sides; ``+half-open`` instead stops
  forwarding without closing anything, so only the service's heartbeat can tell;
- ``stop-db/DURATION``: the database server stopped for DURATION (default 60 s), PostgreSQL
  only;
- ``agi-flood/N``: N bare TCP connections opened to the FastAGI port and held for 30 s
  (``agi-flood/N/DURATION`` to choose how long).

Pure parsing: no I/O. ``simulation.chaos`` carries the schedule out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ChaosSpecError", "Fault", "FaultKind", "parse_duration", "parse_spec"]


class ChaosSpecError(ValueError):
    """A SPEC that cannot be carried out, with the part at fault named."""


class FaultKind(StrEnum):
    KILL_SERVICE = "kill-service"
    RESTART_ASTERISK = "restart-asterisk"
    CUT_AMI = "cut-ami"
    STOP_DB = "stop-db"
    AGI_FLOOD = "agi-flood"


DEFAULT_DB_DOWN_S = 60.0
DEFAULT_FLOOD_S = 30.0
MAX_FLOOD_CONNECTIONS = 20_000


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    at_s: float
    # stop-db: how long the database is down; agi-flood: how long the connections are held.
    duration_s: float = 0.0
    # agi-flood: how many bare connections.
    connections: int = 0
    # cut-ami: leave the connection half-open instead of closing it.
    half_open: bool = False

    @property
    def label(self) -> str:
        """How the summary names this fault: ``cut-ami+half-open``, ``stop-db``..."""
        return f"{self.kind.value}+half-open" if self.half_open else self.kind.value


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?")


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``1.5m``, ``1m30s``; a ``ChaosSpecError`` otherwise."""
    m = _DURATION.fullmatch(text.strip())
    if not text.strip() or m is None or (m.group(1) is None and m.group(2) is None):
        raise ChaosSpecError(f"{text!r} is not a duration (such as 90s, 1m30s)")
    minutes = float(m.group(1) or 0)
    seconds = float(m.group(2) or 0)
    return minutes * 60 + seconds


def _parse_one(item: str) -> Fault:
    kind_text, sep, rest = item.partition("@")
    try:
        kind = FaultKind(kind_text.strip())
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise ChaosSpecError(f"{item!r}: unknown fault {kind_text!r} (known: {known})") from None
    if not sep:
        raise ChaosSpecError(f"{item!r}: say when, e.g. {kind.value}@30s")
    when, plus, option = rest.partition("+")
    when, *args = when.split("/")
    at_s = parse_duration(when)
    half_open = False
    if plus:
        if kind is not FaultKind.CUT_AMI or option != "half-open":
            raise ChaosSpecError(f"{item!r}: only cut-ami takes an option (+half-open)")
        half_open = True
    if kind is FaultKind.STOP_DB:
        if len(args) > 1:
            raise ChaosSpecError(f"{item!r}: stop-db@AT/DURATION")
        duration = parse_duration(args[0]) if args else DEFAULT_DB_DOWN_S
        if duration <= 0:
            raise ChaosSpecError(f"{item!r}: the database must be down for some time")
        return Fault(kind, at_s, duration_s=duration)
    if kind is FaultKind.AGI_FLOOD:
        if not args or len(args) > 2 or not args[0].isdigit():
            raise ChaosSpecError(f"{item!r}: agi-flood@AT/CONNECTIONS[/DURATION]")
        count = int(args[0])
        if not 0 < count <= MAX_FLOOD_CONNECTIONS:
            raise ChaosSpecError(
                f"{item!r}: between 1 and {MAX_FLOOD_CONNECTIONS} connections, got {count}"
            )
        duration = parse_duration(args[1]) if len(args) == 2 else DEFAULT_FLOOD_S
        if duration <= 0:
            raise ChaosSpecError(f"{item!r}: the connections must be held for some time")
        return Fault(kind, at_s, duration_s=duration, connections=count)
    if args:
        raise ChaosSpecError(f"{item!r}: {kind.value} takes no /argument")
    return Fault(kind, at_s, half_open=half_open)


def parse_spec(spec: str) -> list[Fault]:
    """The faults of ``spec`` in the order they happen; a ``ChaosSpecError`` naming the
    first part that is wrong."""
    items = [part.strip() for part in spec.split(",")]
    if not spec.strip() or any(not part for part in items):
        raise ChaosSpecError(f"{spec!r}: a comma-separated list of KIND@AT faults")
    faults = sorted((_parse_one(part) for part in items), key=lambda f: f.at_s)
    return faults
