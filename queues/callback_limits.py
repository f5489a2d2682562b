"""Which numbers the hotline calls back, and how often: a guard against toll fraud.

A callback dials whatever number the call came from. A forged caller id (any SIP peer can
send one) would otherwise make the hotline dial premium-rate, international or service
numbers on its own bill, as often as it is asked. Two rules, without I/O:

- ``NumberPlan``: only numbers of the national numbering plan are called back. Vietnam by
  default (``VIETNAM_NUMBER_PATTERN``), from the Ministry of Information and
  Communications' numbering plan (Circular 22/2014/TT-BTTTT, "Quy hoạch kho số viễn
  thông", as amended), the 2017-2018 landline area-code change (Decision
  2036/QĐ-BTTTT: area codes 02x/02xx, 11-digit national numbers) and the 2018 move of
  mobile numbers from 11 to 10 digits (Decision 798/QĐ-BTTTT: prefixes 03, 05, 07, 08,
  09):

  - mobile: ``0`` + ``3|5|7|8|9`` + 8 digits (10 digits), or ``+84``/``84`` + the 9 after
    the ``0``;
  - landline: ``02`` + 9 digits (11 digits: ``024``/``028`` + 8, ``02xx`` + 7), or
    ``+84``/``84`` + ``2`` + 9 digits.

  Refused because they match neither: premium and freephone service numbers
  (``1900…``, ``1800…``), short codes (``113``, ``1022``), international numbers (``00…``,
  ``+`` and another country code), and anything else. The pattern is a setting
  (``HOTLINE_CALLBACK_NUMBER_PATTERN``) for another country or a test network.
- ``CallbackCaps``: at most ``per_number`` callbacks to one number per ``number_window``,
  and ``per_hour`` callbacks in all per hour. Counted over requests (not outcomes), in
  memory, loaded from the database at start; memory is bounded by the caps themselves
  (nothing past the longer window is kept, and the hourly cap bounds what is).
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import Enum

__all__ = ["VIETNAM_NUMBER_PATTERN", "CallbackCaps", "CapReached", "NumberPlan"]

VIETNAM_NUMBER_PATTERN = r"^(?:0|\+?84)(?:[35789][0-9]{8}|2[0-9]{9})$"


class NumberPlan:
    """The numbers the hotline may dial back: those matching ``pattern`` in full."""

    def __init__(self, pattern: str = VIETNAM_NUMBER_PATTERN) -> None:
        try:
            self._pattern = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid callback number pattern {pattern!r}: {exc}") from exc

    def allows(self, number: str) -> bool:
        return self._pattern.fullmatch(number) is not None


class CapReached(Enum):
    """Which cap a further callback would pass."""

    NUMBER = "number"  # this number was called back often enough in the window
    HOUR = "hour"  # the hotline made its callbacks of the hour


class CallbackCaps:
    """Sliding-window counts of callback requests, per number and in all.

    ``reached(number, now)`` says which cap a further request would pass (None: neither);
    ``add(number, at)`` counts one. Times are passed in; nothing here reads a clock.
    """

    def __init__(self, *, per_number: int, number_window: timedelta, per_hour: int) -> None:
        if per_number < 1 or per_hour < 1:
            raise ValueError("callback caps must be at least 1")
        if number_window <= timedelta(0):
            raise ValueError("the per-number window must be positive")
        self.per_number = per_number
        self.number_window = number_window
        self.per_hour = per_hour
        self._keep = max(number_window, timedelta(hours=1))
        self._recent: deque[tuple[datetime, str]] = deque()  # oldest first
        self._counts: Counter[str] = Counter()

    def load(self, requests: Iterable[tuple[str, datetime]]) -> None:
        """Count past requests (number, when), e.g. the database's at start."""
        for number, at in sorted(requests, key=lambda r: r[1]):
            self.add(number, at)

    def add(self, number: str, at: datetime) -> None:
        self._recent.append((at, number))
        self._counts[number] += 1
        self._prune(at)

    def reached(self, number: str, now: datetime) -> CapReached | None:
        self._prune(now)
        in_window = now - self.number_window
        if self._counts[number] and (
            sum(1 for at, n in self._recent if n == number and at > in_window) >= self.per_number
        ):
            return CapReached.NUMBER
        hour_ago = now - timedelta(hours=1)
        last_hour = 0
        for at, _ in reversed(self._recent):
            if at <= hour_ago:
                break
            last_hour += 1
        return CapReached.HOUR if last_hour >= self.per_hour else None

    def _prune(self, now: datetime) -> None:
        horizon = now - self._keep
        while self._recent and self._recent[0][0] <= horizon:
            _, number = self._recent.popleft()
            self._counts[number] -= 1
            if self._counts[number] <= 0:
                del self._counts[number]
