"""Waiting helpers: bounded polling, so a broken behaviour fails the test instead of hanging it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Recorder", "wait_until"]


async def wait_until(predicate: Callable[[], bool], what: str, limit: float = 5.0) -> None:
    """Wait until ``predicate()`` holds; fail the test (not hang) if it never does."""
    try:
        async with asyncio.timeout(limit):
            while not predicate():  # noqa: ASYNC110 -- predicates over foreign state
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"gave up waiting for: {what}") from None


class Recorder:
    """A listener/callback that remembers what it was given."""

    def __init__(self) -> None:
        self.items: list[object] = []

    def __call__(self, item: object) -> None:
        self.items.append(item)

    def names(self) -> list[str]:
        return [getattr(item, "name", "") for item in self.items]
