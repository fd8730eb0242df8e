"""Last line of defence before the arm: every command passes here, whatever produced it.

The kortex driver applies no timeout and only its own coarse limits, so the workspace box,
speed caps and non-finite rejection live here, in one ROS-free place that is unit-tested and
used by the control node for both twist and joint-trajectory output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SafetyConfig:
    max_linear_speed: float = 0.25  # m/s  (driver limit: 0.5)
    max_angular_speed: float = 1.0  # rad/s (driver limit: 1.74)
    workspace_min: list[float] = field(default_factory=lambda: [0.15, -0.55, 0.02])  # m, base_link
    workspace_max: list[float] = field(default_factory=lambda: [0.85, 0.55, 0.80])
    lookahead_s: float = 0.1  # stop motion that would leave the box within this time
    max_gripper: float = 1.0

    def __post_init__(self) -> None:
        if not (self.max_linear_speed > 0 and self.max_angular_speed > 0):
            raise ValueError("speed limits must be positive")
        lo, hi = np.asarray(self.workspace_min, float), np.asarray(self.workspace_max, float)
        if lo.shape != (3,) or hi.shape != (3,) or np.any(lo >= hi):
            raise ValueError(f"workspace box must be 3-D with min < max (got {lo} .. {hi})")


@dataclass
class SafeCommand:
    linear: np.ndarray  # (3,) m/s
    angular: np.ndarray  # (3,) rad/s
    gripper: float  # 0..1
    notes: list[str]  # why the command was changed (empty if it passed untouched)

    @property
    def modified(self) -> bool:
        return bool(self.notes)


class SafetyFilter:
    def __init__(self, cfg: SafetyConfig) -> None:
        self.cfg = cfg
        self.lo = np.asarray(cfg.workspace_min, float)
        self.hi = np.asarray(cfg.workspace_max, float)

    def filter(
        self, linear: np.ndarray, angular: np.ndarray, gripper: float, ee_position: np.ndarray | None
    ) -> SafeCommand:
        """Make a base-frame velocity command safe; non-finite input becomes a full stop."""
        lin = np.asarray(linear, dtype=np.float64).reshape(3)
        ang = np.asarray(angular, dtype=np.float64).reshape(3)
        notes: list[str] = []
        if not (np.all(np.isfinite(lin)) and np.all(np.isfinite(ang))):
            return SafeCommand(np.zeros(3), np.zeros(3), 0.0, ["non-finite velocity: stopped"])
        if not np.isfinite(gripper):
            notes.append("non-finite gripper target: kept open")
            gripper = 0.0
        gripper = float(np.clip(gripper, 0.0, self.cfg.max_gripper))
        for name, vec, limit in (
            ("linear", lin, self.cfg.max_linear_speed),
            ("angular", ang, self.cfg.max_angular_speed),
        ):
            n = float(np.linalg.norm(vec))
            if n > limit:
                vec *= limit / n
                notes.append(f"{name} speed {n:.3f} clipped to {limit:.3f}")
        if ee_position is not None:
            p = np.asarray(ee_position, dtype=np.float64).reshape(3)
            if not np.all(np.isfinite(p)):
                return SafeCommand(np.zeros(3), np.zeros(3), gripper, ["non-finite end-effector pose: stopped"])
            ahead = p + lin * self.cfg.lookahead_s
            for axis in range(3):
                if (ahead[axis] < self.lo[axis] and lin[axis] < 0) or (ahead[axis] > self.hi[axis] and lin[axis] > 0):
                    notes.append(f"workspace: motion along {'xyz'[axis]} stopped at the box edge")
                    lin[axis] = 0.0
        return SafeCommand(lin, ang, gripper, notes)

    def within_limits(self, linear: np.ndarray, angular: np.ndarray) -> bool:
        """For tests and monitors: is a published command inside the configured caps?"""
        eps = 1e-6
        return bool(
            np.all(np.isfinite(linear))
            and np.all(np.isfinite(angular))
            and np.linalg.norm(linear) <= self.cfg.max_linear_speed + eps
            and np.linalg.norm(angular) <= self.cfg.max_angular_speed + eps
        )
