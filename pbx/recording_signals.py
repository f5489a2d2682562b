"""The recordings' and coaching's words shared by ``pbx/`` and the domain (issue 15).

``pbx.recording.AmiRecordingPbx`` turns Asterisk's events into ``RecordingSignal``s, so
nothing above ``pbx/`` reads AMI for recordings. Every recorded leg is started in the dialplan
(``asterisk-conf/extensions.conf.j2``) by MixMonitor, which announces it with
``UserEvent(HotlineRecording)``; the PBX reports ``STARTED`` then, and ``CLOSED`` once
Asterisk has closed the file (its bytes are final: only then is a digest taken).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = ["RecordingKind", "RecordingSignal", "SignalKind", "SpyMode", "SpySession"]


class RecordingKind(enum.StrEnum):
    """What a recorded leg belongs to (``ref`` says which one)."""

    CALL = "call"  # a citizen's call to 1022, from the answer: ref = the call's uniqueid
    CALLBACK = "callback"  # a callback's citizen leg: ref = the callback's id
    DISPATCH = "dispatch"  # an order read to a team phone: ref = the dispatch order's id
    CONFERENCE = "conference"  # a command conference's root bridge: ref = the conference id


class SignalKind(enum.StrEnum):
    STARTED = "started"
    CLOSED = "closed"


@dataclass(frozen=True)
class RecordingSignal:
    """A recorded leg started or its file closed.

    ``path`` is the file on this machine (outside any chroot), ``name`` its path relative to
    the recordings directory (what is stored). ``uniqueid``/``channel`` are the recorded
    channel's; ``at`` the time Asterisk gave (UTC) or, if none, when the signal was made.
    ``instance`` is the Asterisk instance (node) it came from. ``incident_id``: the incident
    a dispatch order's leg reads (``DISPATCH_INCIDENT``; its ``ref``, the order's token, is
    not stored), so a legal hold on the incident keeps it; None when not known.
    """

    kind: SignalKind
    recording: RecordingKind
    ref: str
    uniqueid: str
    channel: str
    path: str
    name: str
    at: datetime
    instance: str = "main"
    incident_id: int | None = None


class SpyMode(enum.StrEnum):
    """How a supervisor joins an agent's call (ChanSpy): hear both sides; also speak to the
    agent alone; or speak to both."""

    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


@dataclass(frozen=True)
class SpySession:
    """A supervisor's phone spying on an agent's channel, as Asterisk shows it now."""

    spy_channel: str  # the supervisor phone's channel (e.g. PJSIP/sup01-00000012)
    target_channel: str  # the agent's channel being spied on
    mode: SpyMode
