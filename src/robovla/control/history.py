"""Per-episode observation history, sampled at the policy rate.

Policies are trained on windows whose frames are one policy step apart (the dataset aligns
at that rate), so the buffer keeps a frame only when `period` has elapsed since the last kept
one, whatever the camera rate. Items are opaque (core Observations or ROS messages) so the
node can forward messages without re-encoding them.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Generic, TypeVar

import numpy as np

T = TypeVar("T")


class HistoryWindow(Generic[T]):
    def __init__(
        self, size: int, stamp_of: Callable[[T], float], period: float = 0.0, tolerance: float = 0.25
    ) -> None:
        """size: frames per window; period: policy step in s (0 keeps every frame);
        tolerance: fraction of `period` a frame may come early and still be kept."""
        if size < 1:
            raise ValueError(f"history window size must be >= 1, got {size}")
        if period < 0 or not 0 <= tolerance < 1:
            raise ValueError(f"history period must be >= 0 and tolerance in [0, 1) (got {period}, {tolerance})")
        self.size, self.period, self.tolerance = size, period, tolerance
        self._stamp_of = stamp_of
        self._items: deque[T] = deque(maxlen=size)
        self.episode_id = ""

    def reset(self, episode_id: str = "") -> None:
        self._items.clear()
        self.episode_id = episode_id

    def push(self, item: T) -> bool:
        """Offer a frame; True if it was kept (a new window is available)."""
        if self._items:
            last, stamp = self._stamp_of(self._items[-1]), self._stamp_of(item)
            if stamp <= last or stamp - last < self.period * (1.0 - self.tolerance):
                return False
        self._items.append(item)
        return True

    @property
    def latest(self) -> T | None:
        return self._items[-1] if self._items else None

    def window(self) -> tuple[list[T], np.ndarray]:
        """(items oldest first, padded to `size` by repeating the oldest; validity mask)."""
        if not self._items:
            raise LookupError("history is empty: no observation since the episode started")
        items = list(self._items)
        pad = self.size - len(items)
        return [items[0]] * pad + items, np.array([False] * pad + [True] * len(items))

    def __len__(self) -> int:
        return len(self._items)
