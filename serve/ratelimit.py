"""Per-connection limits (docs/protocol.md#deadlines-idling-and-limits): the token bucket of role sockets
and REST, and the in-flight
cap of the OpenEnv ``/ws``, each with its abuse cut-off.

``TokenBucket.admit()`` returns None when a frame may proceed, else the milliseconds until it could;
``InFlightLimit.admit()`` refuses a frame while too many earlier ones await their replies. Refusals are
counted over a sliding 10 s window so a flooding client can be disconnected.
"""

from __future__ import annotations

import time
from collections import deque


class TokenBucket:
    """Sustained ``rate_per_s`` with bursts of ``burst`` (role sockets, REST per client address)."""

    def __init__(self, rate_per_s: float, burst: int, close_after: int, window_s: float = 10.0,
                 clock=time.monotonic) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.tokens = float(burst)
        self.close_after = close_after
        self.window_s = window_s
        self.clock = clock
        self.updated = clock()
        self.rejections: deque[float] = deque()

    def admit(self) -> int | None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        self.rejections.append(now)
        while self.rejections and now - self.rejections[0] > self.window_s:
            self.rejections.popleft()
        return max(1, int((1.0 - self.tokens) / self.rate * 1000))

    def abusive(self) -> bool:
        """More than ``close_after`` rejected frames within the window."""
        return len(self.rejections) > self.close_after


class InFlightLimit:
    """Per-connection cap on frames received but not yet answered (the OpenEnv ``/ws`` limit).

    A client that waits for each reply never has more than one frame in flight, so it is never refused,
    however fast it goes. ``admit()`` is False once ``max_pending`` frames wait for their replies; refusals
    are counted over a sliding window so a flooding client can be disconnected (``abusive()``).
    """

    def __init__(self, max_pending: int, close_after: int, window_s: float = 10.0, clock=time.monotonic) -> None:
        self.max_pending = max_pending
        self.pending = 0
        self.close_after = close_after
        self.window_s = window_s
        self.clock = clock
        self.rejections: deque[float] = deque()

    def admit(self) -> bool:
        """Count a new frame in flight, or record a refusal (False) when ``max_pending`` are in flight."""
        if self.pending < self.max_pending:
            self.pending += 1
            return True
        now = self.clock()
        self.rejections.append(now)
        while self.rejections and now - self.rejections[0] > self.window_s:
            self.rejections.popleft()
        return False

    def done(self) -> None:
        """An admitted frame has been answered."""
        self.pending = max(0, self.pending - 1)

    def abusive(self) -> bool:
        """More than ``close_after`` refused frames within the window."""
        return len(self.rejections) > self.close_after
