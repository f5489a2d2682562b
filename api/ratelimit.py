"""Failed authentications per client address: past a limit in a window, the address is
answered 429 (with ``Retry-After``) until its oldest failure leaves the window.

    limiter = FailureLimiter(limit=10, window_s=300)
    if (wait := limiter.retry_after(address, now)) is not None: ...  # 429
    limiter.failed(address, now)                                     # after a 401

Tokens are 256-bit random, so the limit is not what keeps them from being guessed; it keeps
a scanner or a misconfigured client with an old token from costing a database lookup per
request, and makes either visible in the logs. Memory is bounded: at most ``limit``
failures per address, at most ``max_addresses`` addresses (the least recently failing are
dropped first). An address is the TCP peer's (behind a reverse proxy, uvicorn's
``--forwarded-allow-ips`` decides whose ``X-Forwarded-For`` is believed).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque

__all__ = ["FailureLimiter"]


class FailureLimiter:
    """Sliding-window count of failures per address; times are passed in (monotonic s)."""

    def __init__(self, *, limit: int, window_s: float, max_addresses: int = 10_000) -> None:
        if limit < 1 or window_s <= 0 or max_addresses < 1:
            raise ValueError("limit, window and max_addresses must be positive")
        self.limit = limit
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str, now: float) -> int | None:
        """Whole seconds until ``address`` may try again, or None if it may now."""
        failures = self._failures.get(address)
        if failures is None:
            return None
        self._expire(address, failures, now)
        if len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window_s - now))

    def failed(self, address: str, now: float) -> None:
        """Count one failure of ``address``."""
        failures = self._failures.get(address)
        if failures is None:
            failures = self._failures[address] = deque(maxlen=self.limit)
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(address)
        failures.append(now)

    def __len__(self) -> int:
        return len(self._failures)

    def _expire(self, address: str, failures: deque[float], now: float) -> None:
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[address]
