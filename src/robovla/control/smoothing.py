"""Fuse overlapping action chunks and turn them into velocity commands at the control rate.

Policies answer at 5-15 Hz with chunks of k future per-step deltas; the arm wants a smooth
velocity at >= 50 Hz. Chunks are indexed in absolute time (row i of a chunk stamped t0 covers
[t0 + i*dt, t0 + (i+1)*dt)), fused where they overlap, converted to velocities (delta / dt),
linearly interpolated between step centres, then rate-limited.

Fusion modes:
  temporal_ensemble  ACT (Zhao et al. 2023): a_t = sum_i w_i A_{t-i}[i] / sum_i w_i, w_i = exp(-m*i),
                     w_0 for the oldest chunk still covering t
  weighted_average   LeRobot async inference: on overlap a = alpha*old + (1-alpha)*new
  average            weighted_average with alpha = 0.5
  latest_only        the newest chunk replaces everything
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from robovla.control.safety.limits import clip_twist
from robovla.policy.types import GRIPPER_INDEX, ActionChunk

FUSION_MODES = ("temporal_ensemble", "weighted_average", "average", "latest_only")


@dataclass
class SmootherConfig:
    mode: str = "temporal_ensemble"
    ensemble_m: float = 0.01  # ACT's m
    alpha: float = 0.3  # LeRobot weighted_average: weight of the OLD prediction
    max_chunks: int = 20  # chunks kept for temporal ensembling
    max_linear_speed: float = 0.25  # m/s (the arm's own limit is higher; this is the policy's)
    max_angular_speed: float = 1.0  # rad/s
    max_linear_accel: float = 1.0  # m/s^2
    max_angular_accel: float = 4.0  # rad/s^2
    interpolate: bool = True

    def __post_init__(self) -> None:
        if self.mode not in FUSION_MODES:
            raise ValueError(f"unknown fusion mode {self.mode!r}; choose one of {FUSION_MODES}")
        for name in ("max_linear_speed", "max_angular_speed", "max_linear_accel", "max_angular_accel"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")


class ChunkFuser:
    """Holds the chunks of one episode and answers 'what action at time t'."""

    def __init__(self, cfg: SmootherConfig) -> None:
        self.cfg = cfg
        self._chunks: deque[ActionChunk] = deque(maxlen=cfg.max_chunks)
        # weighted_average / latest_only keep one aggregated plan on a fixed time grid
        self._plan_t0 = 0.0
        self._plan_dt = 0.0
        self._plan: np.ndarray | None = None

    def reset(self) -> None:
        self._chunks.clear()
        self._plan = None

    @property
    def empty(self) -> bool:
        return self._plan is None and not self._chunks

    def add(self, chunk: ActionChunk) -> None:
        actions = np.asarray(chunk.actions, dtype=np.float64)
        if not np.all(np.isfinite(actions)):
            raise ValueError("action chunk contains NaN or inf")
        if self.cfg.mode == "temporal_ensemble":
            if self._chunks and chunk.stamp <= self._chunks[-1].stamp:
                raise ValueError(
                    f"action chunk stamp {chunk.stamp:.6f} is not newer than the previous {self._chunks[-1].stamp:.6f}"
                )
            self._chunks.append(chunk)
            return
        if self._plan is not None and chunk.stamp <= self._plan_t0 - 1e-9 and self.cfg.mode != "latest_only":
            raise ValueError(f"action chunk stamp {chunk.stamp:.6f} is older than the current plan")
        alpha = 0.5 if self.cfg.mode == "average" else self.cfg.alpha
        if self._plan is None or self.cfg.mode == "latest_only":
            self._plan, self._plan_t0, self._plan_dt = actions.copy(), chunk.stamp, chunk.dt
            return
        # Re-sample the old plan on the new chunk's grid, blend where both exist.
        new = actions.copy()
        for i in range(len(new)):
            old = self._plan_row(chunk.stamp + (i + 0.5) * chunk.dt)
            if old is not None:
                new[i] = alpha * old + (1 - alpha) * new[i]
        self._plan, self._plan_t0, self._plan_dt = new, chunk.stamp, chunk.dt

    def _plan_row(self, t: float) -> np.ndarray | None:
        if self._plan is None:
            return None
        i = int(np.floor((t - self._plan_t0) / self._plan_dt))
        return self._plan[i] if 0 <= i < len(self._plan) else None

    def action_at(self, t: float) -> np.ndarray | None:
        """Fused per-step action (delta over one policy step) covering time t, or None."""
        if self.cfg.mode != "temporal_ensemble":
            return self._plan_row(t)
        rows, weights = [], []
        for chunk in self._chunks:  # oldest first
            i = int(np.floor((t - chunk.stamp) / chunk.dt))
            if 0 <= i < chunk.horizon:
                rows.append(np.asarray(chunk.actions[i], dtype=np.float64))
        if not rows:
            return None
        weights = np.exp(-self.cfg.ensemble_m * np.arange(len(rows)))
        return (weights[:, None] * np.stack(rows)).sum(0) / weights.sum()

    def step_dt(self) -> float:
        if self.cfg.mode == "temporal_ensemble":
            return self._chunks[-1].dt if self._chunks else 0.0
        return self._plan_dt

    def grid_origin(self) -> float:
        """Start time of the newest chunk: the step grid the interpolation follows."""
        if self.cfg.mode == "temporal_ensemble":
            return self._chunks[-1].stamp if self._chunks else 0.0
        return self._plan_t0


class VelocitySmoother:
    """Chunks in, rate-limited end-effector velocity (6,) + gripper out, at any query time."""

    def __init__(self, cfg: SmootherConfig) -> None:
        self.cfg = cfg
        self.fuser = ChunkFuser(cfg)
        self._last_cmd = np.zeros(6)
        self._last_t: float | None = None
        # the command before the one at _last_t: a second command for the same instant (a chunk
        # that arrived after that instant's tick) replaces the first, rate-limited from here, so
        # the result does not depend on whether the chunk came before or after the tick
        self._prev: tuple[np.ndarray, float | None] = (np.zeros(6), None)

    def reset(self) -> None:
        self.fuser.reset()
        self._last_cmd = np.zeros(6)
        self._last_t = None
        self._prev = (np.zeros(6), None)

    def _base(self, t: float) -> tuple[np.ndarray, float | None]:
        """The command (and its time) that the one at `t` is rate-limited from."""
        if self._last_t is not None and t == self._last_t:
            return self._prev
        return self._last_cmd, self._last_t

    def add_chunk(self, chunk: ActionChunk) -> None:
        self.fuser.add(chunk)

    def _velocity_at(self, t: float) -> tuple[np.ndarray, float] | None:
        dt = self.fuser.step_dt()
        a = self.fuser.action_at(t)
        if a is None or dt <= 0:
            return None
        vel = a[:6] / dt
        if self.cfg.interpolate:
            # Linear interpolation between the velocities of neighbouring step centres; at the
            # ends of the fused plan the nearest step's value is held.
            u = (t - self.fuser.grid_origin()) / dt
            offset = u - np.floor(u) - 0.5  # -0.5..0.5, position relative to this step's centre
            neighbour = self.fuser.action_at(t + np.sign(offset) * dt) if offset != 0 else None
            if neighbour is not None:
                w = abs(offset)
                vel = (1 - w) * vel + w * neighbour[:6] / dt
        return vel, float(a[GRIPPER_INDEX])

    def command(self, t: float) -> tuple[np.ndarray, float] | None:
        """Velocity [vx vy vz wx wy wz] and gripper target at time t; None if no chunk covers t."""
        out = self._velocity_at(t)
        if out is None:
            return None
        vel, gripper = out
        # the same norm cap as the safety filter's speed rules (one function): scaled, direction kept
        vel = clip_twist(vel, self.cfg.max_linear_speed, self.cfg.max_angular_speed)
        base_cmd, base_t = self._base(t)
        if base_t is not None and t > base_t:
            h = t - base_t
            delta = vel - base_cmd
            delta = clip_twist(delta, self.cfg.max_linear_accel * h, self.cfg.max_angular_accel * h)
            vel = base_cmd + delta
        self._prev = (base_cmd, base_t)
        self._last_cmd, self._last_t = vel, t
        return vel, gripper

    def stop(self, t: float) -> None:
        """Forget the commanded velocity (the arm was stopped from outside)."""
        self._prev = self._base(t)
        self._last_cmd = np.zeros(6)
        self._last_t = t

