"""The first 1022 menu: press 1, 2 or 3; invalid or no input is retried, then a default.

The outcome goes back to the dialplan as channel variables; ``HOTLINE_QUEUE`` is set last,
so a session that fails part-way leaves it empty and the dialplan's fallback (the operator
queue) takes the caller: never silence.

Key handling: 1–3 choose a category; any other key (including ``*``), or ``#`` alone, is
invalid; no key within the timeout is no input. After ``attempts`` tries the caller goes to
the default category (an operator).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ivr.ports import IvrChannel
from queues.categories import DEFAULT_CATEGORY, Category, by_digit

__all__ = ["FirstMenu", "IvrOutcome", "MenuConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MenuConfig:
    prompts_dir: str
    timeout_ms: int = 4000
    attempts: int = 3


@dataclass(frozen=True)
class IvrOutcome:
    category: Category
    route: str  # "ivr": chosen in the menu; "default": no valid choice after every attempt
    choice: str | None


class FirstMenu:
    def __init__(self, config: MenuConfig) -> None:
        self.config = config

    def _prompt(self, name: str) -> str:
        return f"{self.config.prompts_dir}/{name}"

    async def run(self, channel: IvrChannel) -> IvrOutcome:
        for attempt in range(1, self.config.attempts + 1):
            digits, timed_out = await channel.get_data(
                self._prompt("menu"), self.config.timeout_ms, 1
            )
            category = by_digit(digits) if digits else None
            if category is not None:
                await channel.stream_file(self._prompt(f"chosen_{category.key}"))
                return IvrOutcome(category, "ivr", digits)
            no_input = timed_out and not digits
            log.info(
                "call %s: %s on attempt %d",
                channel.uniqueid,
                "no input" if no_input else f"invalid key {digits or '#'!r}",
                attempt,
            )
            await channel.stream_file(self._prompt("no_input" if no_input else "invalid"))
        await channel.stream_file(self._prompt("default"))
        return IvrOutcome(DEFAULT_CATEGORY, "default", None)

    async def handle(self, channel: IvrChannel) -> None:
        """FastAGI entry point: run the menu and hand the outcome to the dialplan."""
        outcome = await self.run(channel)
        cat = outcome.category
        await channel.set_variable("HOTLINE_CATEGORY", cat.key)
        await channel.set_variable("HOTLINE_PRIO", str(cat.priority))
        await channel.set_variable("HOTLINE_CHOICE", outcome.choice or "")
        await channel.set_variable("HOTLINE_ROUTE", outcome.route)
        await channel.set_variable("HOTLINE_QUEUE", cat.queue)
