"""ScriptedPolicy: a placeholder that emits fixed motion patterns, with no model at all.

It exists so the ROS graph can be brought up, tested and benchmarked without a trained
checkpoint. It is not a VLA and ignores the instruction and the images.
"""

from __future__ import annotations

import time

import numpy as np

from robovla.policy.types import ACTION_DIM, ActionChunk, ObservationWindow

PATTERNS = ("hold", "forward", "circle", "open_close")


class ScriptedPolicy:
    """Deterministic open-loop motion patterns (per-step deltas in base_link).

    hold:       zero motion, gripper open
    forward:    +x at `speed` m/s, gripper open
    circle:     a horizontal circle of `radius` m
    open_close: no motion, gripper toggling every second
    """

    KWARGS = ("dt", "horizon", "speed", "radius")

    def __init__(
        self,
        pattern: str = "hold",
        dt: float = 0.1,
        horizon: int = 10,
        speed: float = 0.05,
        radius: float = 0.05,
    ) -> None:
        if pattern not in PATTERNS:
            raise ValueError(f"unknown ScriptedPolicy pattern {pattern!r}; choose one of {PATTERNS}")
        self.name = f"scripted:{pattern}"
        self.pattern, self.dt, self.horizon = pattern, float(dt), int(horizon)
        self.speed, self.radius = float(speed), float(radius)
        self._t0: float | None = None

    def reset(self) -> None:
        self._t0 = None

    def step(self, window: ObservationWindow, instruction: str) -> ActionChunk:
        start = time.perf_counter()
        stamp = window.latest.stamp
        if self._t0 is None:
            self._t0 = stamp
        t = stamp - self._t0 + self.dt * np.arange(self.horizon)
        actions = np.zeros((self.horizon, ACTION_DIM), np.float32)
        if self.pattern == "forward":
            actions[:, 0] = self.speed * self.dt
        elif self.pattern == "circle":
            omega = self.speed / self.radius
            actions[:, 0] = -self.speed * np.sin(omega * t) * self.dt
            actions[:, 1] = self.speed * np.cos(omega * t) * self.dt
        elif self.pattern == "open_close":
            actions[:, 6] = (np.floor(t) % 2 == 1).astype(np.float32)
        return ActionChunk(
            actions=actions,
            stamp=stamp,
            dt=self.dt,
            episode_id=window.episode_id,
            latency_s=time.perf_counter() - start,
        )


