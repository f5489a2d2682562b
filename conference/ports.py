"""What the conference service needs from the PBX (``ConferencePbx``).

``pbx.conference.AmiConferencePbx`` satisfies it over one AMI link per Asterisk node; tests
use a fake. The words both sides share (``PointSignal``, ``bridge_name``…) are in
``pbx.conference_signals``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pbx.conference_signals import ConferenceMember, PointSignal

__all__ = ["ConferencePbx"]


class ConferencePbx(Protocol):
    """The AMI side of conferences, across the nodes (``nodes``, the root first).

    Every method raises ``pbx.errors.PbxUnavailable`` when that node's Asterisk cannot be
    reached; ``ValueError`` for a node it does not know. Controls on a bridge that does not
    exist (yet, or any more) on a node are no-ops, not errors.
    """

    @property
    def nodes(self) -> list[str]: ...

    @property
    def root(self) -> str: ...

    def listen(self, callback: Callable[[PointSignal], None]) -> None:
        """Call ``callback`` for every signal of every node, in arrival order per node."""

    async def dial_point(
        self,
        node: str,
        *,
        conference_id: int,
        point_id: int,
        attempt: int,
        dial: str,
        title_prompt: str,
        ring_s: int,
        leader: bool = False,
    ) -> None:
        """Ring ``dial`` from ``node`` (``PJSIP/team-c25741`` or ``PJSIP/0912…@pstn-out``;
        see ``dial_string``). A point, answered, hears ``title_prompt`` (a prompt name in the
        node's prompts directory, without extension) and "press 1"; a leader joins the bridge
        at once as admin and marked. Returns once Asterisk queued the call; how it went comes
        as signals."""

    def dial_string(self, *, endpoint: str | None, number: str | None) -> str:
        """What ``dial_point`` dials for a team phone's endpoint or a number (gateway)."""

    async def put_prompt(self, name: str, wav: bytes) -> None:
        """Install a prompt (8 kHz mono 16-bit WAV) under ``name`` on every node."""

    async def link_node(self, node: str, conference_id: int) -> None:
        """Join ``node``'s bridge to the root's with one call (a no-op for the root)."""

    async def mute(self, node: str, conference_id: int, target: str) -> None:
        """Mute a channel, or ``PARTICIPANTS`` / ``ALL_MEMBERS``."""

    async def unmute(self, node: str, conference_id: int, target: str) -> None: ...

    async def kick(self, node: str, conference_id: int, target: str) -> None:
        """Remove a channel from the bridge (hangs it up), or ``ALL_MEMBERS``."""

    async def lock(self, node: str, conference_id: int) -> None: ...

    async def unlock(self, node: str, conference_id: int) -> None: ...

    async def start_record(self, conference_id: int, file_name: str) -> str:
        """Record the root's bridge into ``file_name`` (a bare name, ``.wav``) in the
        recordings directory; returns the file's path on this machine."""

    async def stop_record(self, conference_id: int) -> None: ...

    async def members(self, node: str, conference_id: int) -> list[ConferenceMember]:
        """``ConfbridgeList`` of that node's bridge (empty when there is none)."""

    async def hangup(self, node: str, channel: str) -> None:
        """Hang up a channel (no such channel counts as done)."""
