"""Approximate-time matching of N timestamped streams (cameras, joint states).

Same contract as message_filters.ApproximateTimeSynchronizer (queue_size per input, `slop`
seconds between the earliest and latest stamp of a set), written here because message_filters
has no PyPI wheel; nodes use the real one when the ROS distro provides it. Matching is
pivot-based: when a message arrives, the nearest-stamped message of every other input is taken;
if the whole set fits in `slop` it is emitted and everything up to it is discarded, so output
stamps are strictly increasing.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class SyncStats:
    emitted: int = 0
    dropped_overflow: int = 0  # evicted because a queue was full
    dropped_stale: int = 0  # older than the last emitted set, or discarded by a match
    rejected_out_of_order: int = 0  # stamp not newer than the previous one on the same input
    #: overflow + stale per input: a fast input (joint states) skips most of its messages by design,
    #: a camera that skips many is out of sync
    dropped_per_input: list[int] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        return self.dropped_overflow + self.dropped_stale + self.rejected_out_of_order


@dataclass
class ApproximateTimeSync(Generic[T]):
    n_inputs: int
    queue_size: int = 10
    slop: float = 0.02
    queue_sizes: list[int] | None = None  # per input, overrides queue_size (fast joint states)
    stats: SyncStats = field(default_factory=SyncStats)

    def __post_init__(self) -> None:
        if self.n_inputs < 1:
            raise ValueError("ApproximateTimeSync needs at least one input")
        if self.queue_size < 1 or self.slop < 0:
            raise ValueError(f"queue_size must be >= 1 and slop >= 0 (got {self.queue_size}, {self.slop})")
        self._limits = list(self.queue_sizes) if self.queue_sizes else [self.queue_size] * self.n_inputs
        if len(self._limits) != self.n_inputs or min(self._limits) < 1:
            raise ValueError(f"queue_sizes must give {self.n_inputs} sizes >= 1 (got {self.queue_sizes})")
        self._stamps: list[list[float]] = [[] for _ in range(self.n_inputs)]
        self._msgs: list[deque[Any]] = [deque() for _ in range(self.n_inputs)]
        self._last_emitted = float("-inf")
        self.stats.dropped_per_input = [0] * self.n_inputs

    def add(self, index: int, stamp: float, msg: T) -> tuple[float, list[T]] | None:
        """Queue `msg`; return (stamp of the set, messages by input) when a set completes.

        The set's stamp is the earliest stamp in it.
        """
        stamps, msgs = self._stamps[index], self._msgs[index]
        if stamp <= self._last_emitted or (stamps and stamp <= stamps[-1]):
            self.stats.rejected_out_of_order += 1
            return None
        stamps.append(stamp)
        msgs.append(msg)
        if len(stamps) > self._limits[index]:
            stamps.pop(0)
            msgs.popleft()
            self.stats.dropped_overflow += 1
            self.stats.dropped_per_input[index] += 1
        return self._try_match(index, stamp)

    def _try_match(self, pivot: int, t: float) -> tuple[float, list[T]] | None:
        picks: list[int] = []
        for i, stamps in enumerate(self._stamps):
            if i == pivot:
                picks.append(len(stamps) - 1)
                continue
            if not stamps:
                return None
            j = bisect.bisect_left(stamps, t)
            candidates = [k for k in (j - 1, j) if 0 <= k < len(stamps)]
            picks.append(min(candidates, key=lambda k: abs(stamps[k] - t)))
        chosen = [self._stamps[i][k] for i, k in enumerate(picks)]
        if max(chosen) - min(chosen) > self.slop:
            return None
        out = [self._msgs[i][k] for i, k in enumerate(picks)]
        for i, k in enumerate(picks):
            self.stats.dropped_stale += k  # older messages skipped by this match
            self.stats.dropped_per_input[i] += k
            del self._stamps[i][: k + 1]
            for _ in range(k + 1):
                self._msgs[i].popleft()
        self._last_emitted = max(chosen)
        self.stats.emitted += 1
        return min(chosen), out

    def reset(self) -> None:
        for s, m in zip(self._stamps, self._msgs):
            s.clear()
            m.clear()
        self._last_emitted = float("-inf")
