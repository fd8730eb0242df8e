"""Decoded camera frames of the running episode, by stamp.

A window of N frames at 2 x 224 x 224 RGB is 2.4 MB; shipping all of it every policy step cost
~26 ms per hop on 2 cores (measured: camera stamp -> window at the policy node). So the history
buffer sends images only for the window's newest frame and the policy node keeps the frames it
has already seen here, completing each window from this cache. A frame the cache never saw (a
lost message, a node started mid-episode) is filled with its nearest neighbour and marked
invalid, the same way the start of an episode is padded, and counted.

Whole decoded observations are kept, not only their images, so the policy node converts only each
window's newest frame from its message (`convert.msg_to_window(msg, known=cache.get)`): turning
the 7 older frames back into arrays cost 0.15-0.25 ms a window on the camera -> command path.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

import numpy as np

from robovla.policy.types import Observation, ObservationWindow


class FrameCache:
    def __init__(self, capacity: int = 64) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.episode_id = ""
        self._frames: OrderedDict[float, dict[str, np.ndarray]] = OrderedDict()
        self.missing = 0  # frames filled in because the cache never saw them

    def reset(self, episode_id: str = "") -> None:
        self.episode_id = episode_id
        self._frames.clear()

    def put(self, obs: Observation) -> None:
        """Keep a decoded observation that carries its images."""
        self._frames[obs.stamp] = obs
        self._frames.move_to_end(obs.stamp)
        while len(self._frames) > self.capacity:
            self._frames.popitem(last=False)

    def get(self, stamp: float, episode_id: str | None = None) -> Observation | None:
        """The cached observation at `stamp` (of `episode_id`, when given), with its images."""
        if episode_id is not None and episode_id != self.episode_id:
            return None
        return self._frames.get(stamp)

    def complete(self, window: ObservationWindow) -> ObservationWindow:
        """Fill in the images a window left out; frames with images are cached on the way."""
        if window.episode_id != self.episode_id:
            self.reset(window.episode_id)
        for obs in window.observations:
            if obs.images:
                self.put(obs)
        if all(obs.images for obs in window.observations):
            return window
        cached = [self.get(obs.stamp) for obs in window.observations]
        found = [obs.images or (c.images if c is not None else None) for obs, c in zip(window.observations, cached)]
        if all(f is not None for f in found):
            observations = tuple(replace(o, images=f) for o, f in zip(window.observations, found))
            return replace(window, observations=observations)
        known = [i for i, f in enumerate(found) if f is not None]
        if not known:
            raise ValueError(f"no images for any frame of the window ending at {window.latest.stamp:.3f}")
        valid = np.array(window.valid, dtype=bool)
        filled = []
        for i, (obs, f) in enumerate(zip(window.observations, found)):
            if f is None:
                self.missing += 1
                nearest = min(known, key=lambda k: (abs(k - i), -k))
                f, valid[i] = found[nearest], False
            filled.append(replace(obs, images=f))
        return replace(window, observations=tuple(filled), valid=valid)
