"""Message rates and stage latencies over a sliding window, on the receiver's steady clock."""

from __future__ import annotations

import math
import threading
from collections import deque


class RateMeter:
    """Arrivals per second over the last `window_s`, and the time since the last one. Thread-safe:
    callbacks of several executor threads tick it while the diagnostics timer reads it."""

    def __init__(self, window_s: float = 2.0) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._lock = threading.Lock()
        self.count = 0
        self.last = -math.inf

    def tick(self, t: float) -> None:
        with self._lock:
            self._times.append(t)
            self.count += 1
            self.last = t
            self._trim(t)

    def _trim(self, t: float) -> None:
        while self._times and self._times[0] < t - self.window_s:
            self._times.popleft()

    def rate(self, t: float) -> float:
        """Arrivals per second: over the window, or since the first arrival if that is more recent."""
        with self._lock:
            self._trim(t)
            n = len(self._times)
            if n < 2:
                return 0.0
            span = max(t - self._times[0], 1e-9)
            return (n - 1) / span if span < self.window_s else n / self.window_s

    def age(self, t: float) -> float:
        """Seconds since the last arrival (inf: none yet)."""
        return t - self.last


class LatencyMeter:
    """Recent durations of a stage (e.g. a policy step): median and p95 over the last n."""

    def __init__(self, n: int = 50) -> None:
        self._values: deque[float] = deque(maxlen=n)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._values.append(float(seconds))

    def quantile(self, q: float) -> float | None:
        with self._lock:
            values = sorted(self._values)
        if not values:
            return None
        return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]
