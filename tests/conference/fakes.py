"""A ConferencePbx that records what it is asked and lets a test play Asterisk's signals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pbx.conference_signals import ConferenceMember, PointSignal, SignalKind
from pbx.errors import PbxUnavailable


@dataclass(frozen=True)
class Dialled:
    node: str
    conference_id: int
    point_id: int
    attempt: int
    dial: str
    leader: bool


@dataclass
class RecordingPbx:
    """Every call is appended to ``calls`` as ``(method, node, conference, target)``;
    ``down`` makes every method raise ``PbxUnavailable``."""

    node_names: list[str] = field(default_factory=lambda: ["root"])
    recordings: Path = Path("/nonexistent")
    down: bool = False
    calls: list[tuple[str, str, int, str]] = field(default_factory=list)
    dialled: list[Dialled] = field(default_factory=list)
    prompts: dict[str, bytes] = field(default_factory=dict)
    listeners: list[Callable[[PointSignal], None]] = field(default_factory=list)
    # What ``members`` answers, per node.
    bridges: dict[str, list[ConferenceMember]] = field(default_factory=dict)

    @property
    def nodes(self) -> list[str]:
        return list(self.node_names)

    @property
    def root(self) -> str:
        return self.node_names[0]

    def listen(self, callback: Callable[[PointSignal], None]) -> None:
        self.listeners.append(callback)

    def signal(
        self, cid: int, pid: int | None, kind: SignalKind, *, attempt: int = 0, **kw: str
    ) -> None:
        node = kw.pop("node", self.root)
        for listener in self.listeners:
            listener(PointSignal(node, cid, kind, point_id=pid, attempt=attempt, **kw))

    def _check(self) -> None:
        if self.down:
            raise PbxUnavailable("fake Asterisk is down")

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
        self._check()
        self.dialled.append(Dialled(node, conference_id, point_id, attempt, dial, leader))

    def dial_string(self, *, endpoint: str | None, number: str | None) -> str:
        return f"PJSIP/{endpoint}" if endpoint else f"PJSIP/{number}@pstn-out"

    async def put_prompt(self, name: str, wav: bytes) -> None:
        self._check()
        self.prompts[name] = wav

    async def _do(self, method: str, node: str, cid: int, target: str = "") -> None:
        self._check()
        if node not in self.node_names:
            raise ValueError(f"unknown node {node}")
        self.calls.append((method, node, cid, target))

    async def link_node(self, node: str, conference_id: int) -> None:
        await self._do("link_node", node, conference_id)

    async def mute(self, node: str, conference_id: int, target: str) -> None:
        await self._do("mute", node, conference_id, target)

    async def unmute(self, node: str, conference_id: int, target: str) -> None:
        await self._do("unmute", node, conference_id, target)

    async def kick(self, node: str, conference_id: int, target: str) -> None:
        await self._do("kick", node, conference_id, target)

    async def lock(self, node: str, conference_id: int) -> None:
        await self._do("lock", node, conference_id)

    async def unlock(self, node: str, conference_id: int) -> None:
        await self._do("unlock", node, conference_id)

    async def start_record(self, conference_id: int, file_name: str) -> str:
        await self._do("start_record", self.root, conference_id, file_name)
        path = self.recordings / f"{file_name}.wav"
        if self.recordings.is_dir():
            path.write_bytes(b"RIFF....WAVEfmt ")
        return str(path)

    async def stop_record(self, conference_id: int) -> None:
        await self._do("stop_record", self.root, conference_id)

    async def members(self, node: str, conference_id: int) -> list[ConferenceMember]:
        self._check()
        return list(self.bridges.get(node, []))

    async def hangup(self, node: str, channel: str) -> None:
        await self._do("hangup", node, 0, channel)
