"""A fake of the callbacks' port to Asterisk (``queues.ports.CallbackPbx``), shared by the
placeholder and callback service tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class FakePbx:
    originated: list[dict[str, object]] = field(default_factory=list)
    hung_up: list[str] = field(default_factory=list)
    entries: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    live_channels: list[dict[str, str]] = field(default_factory=list)
    down: bool = False

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30000,
    ) -> Mapping[str, str]:
        if self.down:
            raise ConnectionError("AMI link is down")
        self.originated.append(
            {
                "channel": channel,
                "context": context,
                "exten": exten,
                "caller_id": caller_id,
                "ring_timeout_ms": ring_timeout_ms,
                **(variables or {}),
            }
        )
        return {"Response": "Success"}

    async def hangup(self, channel: str) -> None:
        self.hung_up.append(channel)

    async def queue_entries(self, queue: str) -> Sequence[Mapping[str, str]]:
        return self.entries.get(queue, [])

    async def channels(self) -> Sequence[Mapping[str, str]]:
        return self.live_channels
