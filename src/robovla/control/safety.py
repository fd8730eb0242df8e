"""Last line of defence before the arm: every command passes here, whatever produced it.

The kortex driver applies no timeout and no twist limits of its own (twist_limits.yaml is read
by no code), so the workspace box, the table plane, speed caps and non-finite rejection live
here, in one ROS-free place that is unit-tested and used by the control node for both twist and
joint-trajectory output. The box, the table and the speed cap hold at the fingertips, not at
the flange: a tool-down descent stopped at the flange leaves 2F-85 fingers ~13 cm lower, and a
rotation moves the tips at |omega x r| with no linear command at all.
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
    # fingertip point in end_effector_link (m): the tip of the Robotiq 2F-85 fingers as the sim
    # models them (robovla.sim.scene: finger bodies at 0.09 m, pads reaching 0.145 m); measure
    # your own tool and set it here
    tool_offset: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.145])
    table_z: float = 0.0  # m, base_link: the table top the fingertips must stay above
    table_margin: float = 0.005  # m kept between fingertips and table

    def __post_init__(self) -> None:
        if not (self.max_linear_speed > 0 and self.max_angular_speed > 0):
            raise ValueError("speed limits must be positive")
        lo, hi = np.asarray(self.workspace_min, float), np.asarray(self.workspace_max, float)
        if lo.shape != (3,) or hi.shape != (3,) or np.any(lo >= hi):
            raise ValueError(f"workspace box must be 3-D with min < max (got {lo} .. {hi})")
        if np.asarray(self.tool_offset, float).shape != (3,):
            raise ValueError(f"tool_offset must be 3 numbers (m, end_effector_link), got {self.tool_offset}")


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
        self, linear: np.ndarray, angular: np.ndarray, gripper: float, ee: np.ndarray | None
    ) -> SafeCommand:
        """Make a base-frame velocity command (flange twist) safe; non-finite input is a full stop.

        `ee` is the end-effector pose, a 4x4 transform in base_link (or just its position, for a
        flange-only check). With the pose, the speed cap, the box and the table apply to the
        fingertip (tool_offset) moving at v + omega x r."""
        lin = np.asarray(linear, dtype=np.float64).reshape(3).copy()
        ang = np.asarray(angular, dtype=np.float64).reshape(3).copy()
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
        if ee is None:
            return SafeCommand(lin, ang, gripper, notes)
        pose = np.asarray(ee, dtype=np.float64)
        if not np.all(np.isfinite(pose)):
            return SafeCommand(np.zeros(3), np.zeros(3), gripper, ["non-finite end-effector pose: stopped"])
        points = [pose.reshape(3)] if pose.shape in ((3,), (3, 1)) else \
            [pose[:3, 3], pose[:3, 3] + pose[:3, :3] @ np.asarray(self.cfg.tool_offset, float)]
        flange = points[0]
        for p in points[1:]:  # fingertip speed, rotation included
            v_tip = lin + np.cross(ang, p - flange)
            n = float(np.linalg.norm(v_tip))
            if n > self.cfg.max_linear_speed:
                scale = self.cfg.max_linear_speed / n
                lin, ang = lin * scale, ang * scale
                notes.append(f"fingertip speed {n:.3f} clipped to {self.cfg.max_linear_speed:.3f}")
        # the box holds for the flange; for the fingertip too, with the table plane as its floor
        boxes = [(self.lo, self.hi)]
        if len(points) > 1:
            tip_lo = self.lo.copy()
            tip_lo[2] = self.cfg.table_z + self.cfg.table_margin
            boxes.append((tip_lo, self.hi))
        t = self.cfg.lookahead_s
        if np.any(ang) and self._leaving(np.zeros(3), ang, points, boxes):
            ang = np.zeros(3)  # the rotation alone would swing a point out: none near the edge
            notes.append("workspace: rotation stopped near the box/table edge")
        before = lin.copy()
        for p, (lo, hi) in zip(points, boxes):
            swing = np.cross(ang, p - flange)
            for axis in range(3):
                # slow the approach so the point cannot cross the edge within the lookahead: it
                # comes to the edge and no further; motion back inside is never changed
                floor = (lo[axis] - p[axis]) / t - swing[axis]
                ceil = (hi[axis] - p[axis]) / t - swing[axis]
                if lin[axis] < 0:
                    lin[axis] = max(lin[axis], min(floor, 0.0))
                if lin[axis] > 0:
                    lin[axis] = min(lin[axis], max(ceil, 0.0))
        if np.any(lin != before):
            axes = "".join("xyz"[a] for a in range(3) if lin[a] != before[a])
            notes.append(f"workspace: motion along {axes} slowed at the box/table edge")
        return SafeCommand(lin, ang, gripper, notes)

    def _leaving(self, lin: np.ndarray, ang: np.ndarray, points: list[np.ndarray],
                 boxes: list[tuple[np.ndarray, np.ndarray]]) -> bool:
        flange = points[0]
        for p, (lo, hi) in zip(points, boxes):
            v = lin + np.cross(ang, p - flange)
            ahead = p + v * self.cfg.lookahead_s
            if np.any((ahead < lo) & (v < 0)) or np.any((ahead > hi) & (v > 0)):
                return True
        return False

    def within_limits(self, linear: np.ndarray, angular: np.ndarray) -> bool:
        """For tests and monitors: is a published command inside the configured caps?"""
        eps = 1e-6
        return bool(
            np.all(np.isfinite(linear))
            and np.all(np.isfinite(angular))
            and np.linalg.norm(linear) <= self.cfg.max_linear_speed + eps
            and np.linalg.norm(angular) <= self.cfg.max_angular_speed + eps
        )
