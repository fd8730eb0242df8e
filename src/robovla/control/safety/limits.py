"""Speed capping shared by the filter's speed rules, the smoother and vla_inference's chunk bound:
one function, so every stage caps speed the same way (scaled in norm, direction kept)."""

from __future__ import annotations

import math

import numpy as np


def clip_norm(vec: np.ndarray, limit: float) -> tuple[np.ndarray, float]:
    """`vec` scaled down to length `limit` if longer (direction kept), and its length before.

    Scaling, not per-axis clipping: the direction the policy asked for is kept. The input is
    returned unchanged (same object) when within the limit."""
    n = math.sqrt(float(vec @ vec))
    return (vec * (limit / n), n) if n > limit else (vec, n)


def clip_twist(twist: np.ndarray, max_linear: float, max_angular: float) -> np.ndarray:
    """A copy of [vx vy vz wx wy wz] with the linear and the angular part each capped in norm."""
    out = np.array(twist, dtype=np.float64)
    out[:3] = clip_norm(out[:3], max_linear)[0]
    out[3:6] = clip_norm(out[3:6], max_angular)[0]
    return out


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b for 3-vectors: np.cross costs ~20 us a call, and the filter runs for every command."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def step_speeds(actions: np.ndarray, dt: float) -> tuple[float, float]:
    """Fastest linear (m/s) and angular (rad/s) speed in a chunk of per-step deltas
    [dx dy dz droll dpitch dyaw ...]: delta / dt, the velocity the smoother makes of each row."""
    a = np.asarray(actions, dtype=np.float64)
    lin, ang = np.sqrt((a[:, :3] ** 2).sum(1)).max(), np.sqrt((a[:, 3:6] ** 2).sum(1)).max()
    return float(lin) / dt, float(ang) / dt


def clip_steps(actions: np.ndarray, dt: float, max_linear: float, max_angular: float) -> np.ndarray:
    """A copy of a chunk of per-step deltas with each step's velocity (delta / dt) capped by
    clip_twist, as the smoother and the filter cap it; other columns (the gripper) are kept."""
    out = np.array(actions, dtype=np.float64)
    for row in out:
        row[:6] = clip_twist(row[:6] / dt, max_linear, max_angular) * dt
    return out
