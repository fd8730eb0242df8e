"""How old may the observation behind a motion command be? Derived from what the graph measures.

A fixed limit either caps inference latency silently (a slower policy is refused for good) or lets
the arm run blind for long after perception dies. In steady state the observation behind the
command being sent is between L (inference latency, observation stamp to chunk arrival) and
L + P (P: the interval between chunks) old. The limit is p95(L) + p95(P) + margin over the
recent chunks, inside [min_s, max_s], so a dead perception process stops the arm about P + margin
after its last chunk. Only chunk arrivals are measured, never refused commands: after a
perception fault no new samples come, so the limit cannot creep up behind the growing age.
Until enough chunks are seen the limit is max_s.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass
class ObservationAgeConfig:
    fixed_s: float = 0.0  # > 0: use this limit, measure nothing
    min_s: float = 0.1
    max_s: float = 0.5  # until measured, and never above
    margin_s: float = 0.04  # above p95(latency) + p95(chunk interval)
    window: int = 50  # recent chunks (5 s at 10 Hz)
    min_samples: int = 5  # chunks before the limit is derived (0.5 s at 10 Hz)

    def __post_init__(self) -> None:
        if not (0 < self.min_s <= self.max_s):
            raise ValueError(f"observation age limits need 0 < min_s <= max_s, got {self.min_s}, {self.max_s}")
        if self.fixed_s < 0 or self.margin_s < 0 or self.window < 2 or self.min_samples < 2:
            raise ValueError("fixed_s and margin_s must be >= 0, window and min_samples >= 2")


class ObservationAgeLimit:
    def __init__(self, cfg: ObservationAgeConfig) -> None:
        self.cfg = cfg
        self.latencies: deque[float] = deque(maxlen=cfg.window)
        self.intervals: deque[float] = deque(maxlen=cfg.window)
        self._last_arrival: float | None = None
        self._limit = cfg.fixed_s if cfg.fixed_s > 0 else cfg.max_s

    @property
    def limit_s(self) -> float:
        return self._limit

    def reset_interval(self) -> None:
        """A new episode: the gap since the last one's chunks is not a chunk interval."""
        self._last_arrival = None

    def on_chunk(self, arrival_s: float, observation_s: float) -> bool:
        """A command answering a new observation arrived; True when the limit moved by > 10 ms."""
        if self.cfg.fixed_s > 0:
            return False
        latency = arrival_s - observation_s
        if np.isfinite(latency) and latency >= 0:
            self.latencies.append(latency)
        if self._last_arrival is not None and 0 < arrival_s - self._last_arrival <= self.cfg.max_s:
            self.intervals.append(arrival_s - self._last_arrival)
        self._last_arrival = arrival_s
        if min(len(self.latencies), len(self.intervals)) < self.cfg.min_samples:
            return False
        new = self._p95(self.latencies) + self._p95(self.intervals) + self.cfg.margin_s
        new = min(self.cfg.max_s, max(self.cfg.min_s, new))
        changed = abs(new - self._limit) > 0.01
        self._limit = new
        return changed

    @staticmethod
    def _p95(values: deque[float]) -> float:
        return float(np.quantile(np.fromiter(values, float), 0.95))

    def summary(self) -> str:
        if self.cfg.fixed_s > 0:
            return f"{self._limit:.3f} s (fixed)"
        if min(len(self.latencies), len(self.intervals)) < self.cfg.min_samples:
            return f"{self._limit:.3f} s (not measured yet)"
        return (f"{self._limit:.3f} s = inference latency p95 {self._p95(self.latencies):.3f} s + chunk interval "
                f"p95 {self._p95(self.intervals):.3f} s + margin {self.cfg.margin_s:.3f} s "
                f"(last {len(self.latencies)} chunks)")
