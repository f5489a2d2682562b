"""The state rebuild after each (re)connect to Asterisk, step by step.

Each step (queue members, callbacks, calls, the CDR recovery, ...) runs on its own: it is
retried with a growing delay, and if it still fails the next steps run anyway (those that
need what it would have given are skipped and named). ``status()`` says what the last
rebuild did, for ``GET /health``::

    {"state": "done" | "running" | "failed" | "never", "started_at": ..., "duration_s": ...,
     "failed_steps": [...], "skipped_steps": [...], "count": n}

Pure orchestration: the steps are the service's coroutines, ``sleep`` and ``clock`` are
injected for the tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Rebuild", "Step"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """``run``: the step; ``needs``: names of steps that must have succeeded first."""

    name: str
    run: Callable[[], Awaitable[object]]
    needs: tuple[str, ...] = ()


@dataclass
class Rebuild:
    attempts: int = 3
    first_delay_s: float = 0.5
    max_delay_s: float = 10.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    state: str = "never"
    started_at: datetime | None = None
    duration_s: float | None = None
    failed_steps: list[str] = field(default_factory=list)
    skipped_steps: list[str] = field(default_factory=list)
    count: int = 0
    _t0: float = 0.0
    _one_at_a_time: asyncio.Lock = field(default_factory=asyncio.Lock)
    _generation: int = 0

    async def run(self, steps: Sequence[Step]) -> bool:
        """Run every step; True if all succeeded. Runs one at a time: two snapshots' fences
        must never interleave (CI saw one reconciliation close the other's fence under it).
        A newer run (the link came back while a rebuild was going) supersedes the one in
        progress: that one stops before its next step or attempt, without retrying what the
        newer run redoes anyway, and the newer one starts from a fresh snapshot. Runs
        that were superseded before they began never start; they return False."""
        self._generation += 1
        mine = self._generation
        async with self._one_at_a_time:
            if mine != self._generation:
                return False
            return await self._run(steps, mine)

    def _superseded(self, mine: int) -> bool:
        return mine != self._generation

    async def _run(self, steps: Sequence[Step], mine: int) -> bool:
        self.state = "running"
        self.started_at = datetime.now(UTC)
        self.duration_s = None
        self.failed_steps = []
        self.skipped_steps = []
        self.count += 1
        self._t0 = self.clock()
        done: set[str] = set()
        superseded = False
        try:
            for step in steps:
                if self._superseded(mine):
                    superseded = True
                    log.info("rebuild: superseded by a newer one before %s", step.name)
                    return False
                missing = [n for n in step.needs if n not in done]
                if missing:
                    log.error("rebuild: %s skipped (needs %s)", step.name, ", ".join(missing))
                    self.skipped_steps.append(step.name)
                    continue
                if await self._attempt(step, mine):
                    done.add(step.name)
                else:
                    self.failed_steps.append(step.name)
        finally:
            self.duration_s = round(self.clock() - self._t0, 3)
            ok = not self.failed_steps and not self.skipped_steps and len(done) == len(steps)
            # A superseded run says nothing of the state: the newer one, next, does.
            if not superseded:
                self.state = "done" if ok else "failed"
        log.info(
            "state rebuilt in %.2f s%s",
            self.duration_s,
            "" if ok else f" (failed: {self.failed_steps}, skipped: {self.skipped_steps})",
        )
        return ok

    async def _attempt(self, step: Step, mine: int) -> bool:
        delay = self.first_delay_s
        for attempt in range(1, self.attempts + 1):
            if attempt > 1 and self._superseded(mine):
                return False  # the newer run redoes it from its own snapshot
            try:
                await step.run()
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt == self.attempts:
                    log.exception("rebuild: %s failed %d times; going on", step.name, attempt)
                    return False
                log.warning(
                    "rebuild: %s failed (%s: %s); retry in %.1f s",
                    step.name,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await self.sleep(delay)
                delay = min(delay * 2, self.max_delay_s)
        return False

    def status(self) -> dict[str, Any]:
        duration = self.duration_s
        if self.state == "running":
            duration = round(self.clock() - self._t0, 3)
        return {
            "state": self.state,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "duration_s": duration,
            "failed_steps": list(self.failed_steps),
            "skipped_steps": list(self.skipped_steps),
            "count": self.count,
        }
