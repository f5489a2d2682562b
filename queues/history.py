"""What the hotline remembers of a caller: their last district (``ivr.ports.CallerHistory``).

The answer is wanted while the caller is already in the menu, before the first menu is read
(whether the district menu is read ahead with it depends on it), so it must not wait for the
database on a busy machine: recent callers' districts are kept in memory, number -> (when
the call arrived, district), filled at start from the database's recent calls and kept up to
date by the call tracker each time a call's district is recorded (``remember``). The map is
bounded (``max_numbers``); it says how far back it is complete (``covered_after``: every
district recorded for a call that arrived after it is in the map), so a number it does not
hold has no district in the window when the window starts after that time; otherwise (an
older window, the map evicted since, or never loaded) the database answers, as before.

Calls recorded by another Asterisk instance's service sharing the database are not told to
this map; ``refresh`` (run every ``refresh_s`` by ``run``) reads the recent ones, so such a
caller's district may be missed for that long.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from store.db import Database
from store.models import Call

__all__ = ["CallHistory"]

log = logging.getLogger(__name__)

# The longest a call stays in the menu before its district is recorded: how far back a
# refresh looks for other instances' calls.
_IN_MENU = timedelta(hours=1)


class CallHistory:
    """``wait_s`` (``HOTLINE_IVR_HISTORY_WAIT_MS``): the longest a caller in the menu waits
    for the database, when memory cannot say; then the menu goes on without the history.
    ``max_numbers``: the most callers kept in memory. ``instance``: this service's Asterisk
    instance (``refresh`` reads the others')."""

    def __init__(
        self,
        db: Database,
        *,
        wait_s: float = 0.3,
        max_numbers: int = 100_000,
        instance: str = "main",
        refresh_s: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.wait_s = wait_s
        self.max_numbers = max_numbers
        self.instance = instance
        self.refresh_s = refresh_s
        self._clock = clock
        # number -> (arrived_at, district) of its newest call with a district; the least
        # recently recorded first (evicted first).
        self._recent: OrderedDict[str, tuple[datetime, int]] = OrderedDict()
        # Every district recorded for a call that arrived after this is in the map; None
        # until ``load``.
        self.covered_after: datetime | None = None
        self._refreshed_to: datetime | None = None

    # -- memory ------------------------------------------------------------------------

    def remember(self, caller_number: str, district: int, arrived_at: datetime) -> None:
        """A call's district was recorded (``CallTracker``'s ``on_district``)."""
        if not caller_number:
            return
        known = self._recent.get(caller_number)
        if known is not None and known[0] > arrived_at:
            return  # an older call's district, recorded late: the newer one stands
        self._recent[caller_number] = (arrived_at, district)
        self._recent.move_to_end(caller_number)
        while len(self._recent) > self.max_numbers:
            _, (evicted_at, _) = self._recent.popitem(last=False)
            # That number's newest district is no longer here: a number not in the map
            # says nothing about calls up to then.
            if self.covered_after is not None and evicted_at > self.covered_after:
                self.covered_after = evicted_at

    def recall(self, caller_number: str, within_days: int) -> tuple[bool, int | None]:
        """From memory only: (True, the last district or None) when the map can say,
        (False, None) when only the database can."""
        since = self._clock() - timedelta(days=within_days)
        known = self._recent.get(caller_number)
        if known is not None:
            arrived_at, district = known
            return True, district if arrived_at >= since else None
        if self.covered_after is not None and since > self.covered_after:
            return True, None
        return False, None

    def __len__(self) -> int:
        return len(self._recent)

    async def load(self, within_days: int) -> int:
        """Fill the map from the calls of the last ``within_days`` days (at most
        ``max_numbers`` of the newest calls with a district); return how many numbers.
        A database error leaves the map as it was (the look-ups fall back on it)."""
        since = self._clock() - timedelta(days=within_days)
        try:
            async with self.db.session() as session:
                rows = (
                    await session.execute(
                        select(Call.caller_number, Call.arrived_at, Call.district_code)
                        .where(Call.arrived_at >= since, Call.district_code.is_not(None))
                        .order_by(Call.arrived_at.desc())
                        .limit(self.max_numbers + 1)
                    )
                ).all()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("recent callers' districts not loaded (%s); asked of the database", exc)
            return 0
        cut = len(rows) > self.max_numbers
        rows = rows[: self.max_numbers]
        for number, arrived_at, district in reversed(rows):
            if district is not None:  # the query's condition
                self.remember(number, district, arrived_at)
        # Cut: the newest calls only, so complete after the oldest of them (ties cut).
        covered = rows[-1][1] if cut else since - timedelta(microseconds=1)
        if self.covered_after is None or covered > self.covered_after:
            self.covered_after = covered
        self._refreshed_to = self._clock()
        log.info("%d recent caller(s)' districts in memory", len(self._recent))
        return len(self._recent)

    async def refresh(self) -> int:
        """Districts that other instances' services recorded since the last refresh (their
        calls are not told to this map); return how many calls were read."""
        start = self._refreshed_to or self._clock()
        now = self._clock()
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(Call.caller_number, Call.arrived_at, Call.district_code)
                    .where(
                        Call.arrived_at >= start - _IN_MENU,
                        Call.district_code.is_not(None),
                        Call.asterisk_instance != self.instance,
                    )
                    .order_by(Call.arrived_at)
                )
            ).all()
        for number, arrived_at, district in rows:
            if district is not None:  # the query's condition
                self.remember(number, district, arrived_at)
        self._refreshed_to = now
        return len(rows)

    async def run(self) -> None:
        """``refresh`` every ``refresh_s``, for good."""
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("other instances' caller districts not refreshed (%s)", exc)

    # -- the look-up -------------------------------------------------------------------

    async def last_district(self, caller_number: str, within_days: int) -> int | None:
        """None when there is none — or when the database cannot say within ``wait_s``:
        then the caller is simply asked for the district, rather than kept waiting or
        dropped."""
        known, district = self.recall(caller_number, within_days)
        if known:
            return district
        try:
            async with asyncio.timeout(self.wait_s):
                return await self._last_district(caller_number, within_days)
        except TimeoutError:
            log.warning(
                "caller history took over %.0f ms; asking for the district", self.wait_s * 1000
            )
            return None
        except (SQLAlchemyError, OSError) as exc:
            log.warning("caller history unavailable (%s); asking for the district", exc)
            return None

    async def _last_district(self, caller_number: str, within_days: int) -> int | None:
        since = self._clock() - timedelta(days=within_days)
        async with self.db.session() as session:
            code: int | None = await session.scalar(
                select(Call.district_code)
                .where(
                    Call.caller_number == caller_number,
                    Call.arrived_at >= since,
                    Call.district_code.is_not(None),
                )
                .order_by(Call.arrived_at.desc())
                .limit(1)
            )
        return code
