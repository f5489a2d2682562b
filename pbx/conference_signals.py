"""The conference's words shared by ``pbx/`` and the domain: bridge and account-code names,
what the PBX saw of a point's call (``PointSignal``), and a bridge's member.

``pbx.conference.AmiConferencePbx`` turns Asterisk's events into ``PointSignal``s, so nothing
above ``pbx/`` reads AMI for conferences. Names shared with the dialplan
(``asterisk-conf/extensions.conf.j2``, ``asterisk-conf/confbridge.conf.j2``):

- the bridge of conference ``7`` on every node is ``hotline-conf-7`` (``bridge_name``);
- a point's call carries the account code ``conf-7-42-3`` (conference 7, point 42, attempt
  3: ``account_code``), so every event of that channel names its point and attempt.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "ALL_MEMBERS",
    "PARTICIPANTS",
    "ConferenceMember",
    "PointSignal",
    "SignalKind",
    "account_code",
    "bridge_name",
    "parse_account_code",
]

# ``mute``/``kick`` targets besides one channel: every non-admin member (points; not the
# leaders nor the link legs, which join as admins), or everyone.
PARTICIPANTS = "participants"
ALL_MEMBERS = "all"


def bridge_name(conference_id: int) -> str:
    return f"hotline-conf-{conference_id}"


def account_code(conference_id: int, point_id: int, attempt: int) -> str:
    return f"conf-{conference_id}-{point_id}-{attempt}"


def parse_account_code(code: str) -> tuple[int, int, int] | None:
    """``(conference_id, point_id, attempt)`` of ``conf-7-42-3``; None for anything else."""
    parts = code.split("-")
    if len(parts) != 4 or parts[0] != "conf":
        return None
    try:
        cid, pid, attempt = (int(p) for p in parts[1:])
    except ValueError:
        return None
    if min(cid, pid, attempt) < 0:
        return None
    return cid, pid, attempt


class SignalKind(enum.StrEnum):
    """What happened to a point's call (or a node's link leg)."""

    RINGING = "ringing"  # the phone rings (Newstate Ringing / DialState RINGING)
    ANSWERED = "answered"  # picked up: the roll call starts (UserEvent HotlineConfPoint)
    PRESENT = "present"  # pressed 1 (UserEvent HotlineConfPoint State: present)
    ABSENT = "absent"  # no 1 after the question twice (UserEvent ... State: absent)
    JOINED = "joined"  # ConfbridgeJoin
    LEFT = "left"  # ConfbridgeLeave
    HUNG_UP = "hung_up"  # the channel ended (Hangup) — after any of the above
    BUSY = "busy"  # the call failed: busy (OriginateResponse / DialEnd)
    NO_ANSWER = "no_answer"  # rang out
    FAILED = "failed"  # could not be placed (reason says why)
    MUTED = "muted"  # ConfbridgeMute
    UNMUTED = "unmuted"  # ConfbridgeUnmute
    HAND = "hand"  # the point pressed the raise-hand key (UserEvent HotlineConfHand)
    TALKING = "talking"  # ConfbridgeTalking on
    SILENT = "silent"  # ConfbridgeTalking off
    LINK_UP = "link_up"  # a node's link leg joined the root bridge (point_id None)
    LINK_DOWN = "link_down"  # ... left it
    RECORDING = "recording"  # ConfbridgeRecord (root node)
    RECORDING_STOPPED = "recording_stopped"  # ConfbridgeStopRecord
    ENDED = "ended"  # ConfbridgeEnd on that node


@dataclass(frozen=True)
class PointSignal:
    """One thing the PBX saw, already tied to its conference (and point, when it is one)."""

    node: str
    conference_id: int
    kind: SignalKind
    point_id: int | None = None
    attempt: int = 0
    channel: str = ""
    reason: str = ""  # e.g. the DialStatus or the Originate's failure text
    at: float = 0.0  # time.time() when the event arrived


@dataclass(frozen=True)
class ConferenceMember:
    """One member of a bridge, as ``ConfbridgeList`` shows it."""

    node: str
    channel: str
    point_id: int | None  # from the channel's account code; None for a link leg
    admin: bool
    marked: bool
    muted: bool
    waiting: bool  # waits for a marked user (hears music)
    talking: bool
