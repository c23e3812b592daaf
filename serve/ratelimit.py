"""Per-connection token bucket (PROTOCOL.md §5): sustained rate, burst, and the abuse cut-off.

``admit()`` returns None when a frame may proceed, else the milliseconds until it could; rejected
frames are counted over a sliding 10 s window so a flooding client can be disconnected.
"""

from __future__ import annotations

import time
from collections import deque


class TokenBucket:
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
