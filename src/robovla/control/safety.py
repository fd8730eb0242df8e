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
    # fingertip point in end_effector_link (m). Measure your tool and set it: the Robotiq 2F-85
    # pads reach 0.145 m as the sim models them (robovla.sim.scene). The default is still the
    # flange (zeros): with 0.145 the scripted expert's stack_blocks through ROS at 10x real time
    # fell from 12/12 to 8/12 and 11/12, which is not understood yet (docs/robot.md).
    tool_offset: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
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
        self.tool = np.asarray(cfg.tool_offset, float)
        self.tip_lo = self.lo.copy()
        self.tip_lo[2] = cfg.table_z + cfg.table_margin

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
        if not (np.isfinite(lin).all() and np.isfinite(ang).all()):
            return SafeCommand(np.zeros(3), np.zeros(3), 0.0, ["non-finite velocity: stopped"])
        if not np.isfinite(gripper):
            notes.append("non-finite gripper target: kept open")
            gripper = 0.0
        gripper = float(np.clip(gripper, 0.0, self.cfg.max_gripper))
        for name, vec, limit in (
            ("linear", lin, self.cfg.max_linear_speed),
            ("angular", ang, self.cfg.max_angular_speed),
        ):
            n = float(np.sqrt(vec @ vec))
            if n > limit:
                vec *= limit / n
                notes.append(f"{name} speed {n:.3f} clipped to {limit:.3f}")
        if ee is None:
            return SafeCommand(lin, ang, gripper, notes)
        pose = np.asarray(ee, dtype=np.float64)
        if not np.isfinite(pose).all():
            return SafeCommand(np.zeros(3), np.zeros(3), gripper, ["non-finite end-effector pose: stopped"])
        # the box holds for the flange; for the fingertip too, with the table plane as its floor
        flange = pose.reshape(3) if pose.shape in ((3,), (3, 1)) else pose[:3, 3]
        points, boxes = [flange], [(self.lo, self.hi)]
        if pose.shape == (4, 4) and np.any(self.tool):
            points.append(flange + pose[:3, :3] @ self.tool)
            boxes.append((self.tip_lo, self.hi))
        for p in points[1:]:  # fingertip speed, rotation included
            v_tip = lin + _cross(ang, p - flange)
            n = float(np.sqrt(v_tip @ v_tip))
            if n > self.cfg.max_linear_speed:
                scale = self.cfg.max_linear_speed / n
                lin, ang = lin * scale, ang * scale
                notes.append(f"fingertip speed {n:.3f} clipped to {self.cfg.max_linear_speed:.3f}")
        t = self.cfg.lookahead_s
        if len(points) > 1 and ang.any() and self._leaving(np.zeros(3), ang, points, boxes):
            ang = np.zeros(3)  # the rotation alone would swing a point out: none near the edge
            notes.append("workspace: rotation stopped near the box/table edge")
        before = lin.copy()
        for p, (lo, hi) in zip(points, boxes):
            # slow the approach so the point cannot cross an edge within the lookahead: it comes
            # to the edge and no further; motion back inside is never changed
            swing = _cross(ang, p - flange)
            floor = np.minimum((lo - p) / t - swing, 0.0)
            ceil = np.maximum((hi - p) / t - swing, 0.0)
            lin = np.clip(lin, floor, ceil)
        if (lin != before).any():
            axes = "".join("xyz"[a] for a in range(3) if lin[a] != before[a])
            notes.append(f"workspace: motion along {axes} slowed at the box/table edge")
        return SafeCommand(lin, ang, gripper, notes)

    def _leaving(self, lin: np.ndarray, ang: np.ndarray, points: list[np.ndarray],
                 boxes: list[tuple[np.ndarray, np.ndarray]]) -> bool:
        flange = points[0]
        for p, (lo, hi) in zip(points, boxes):
            v = lin + _cross(ang, p - flange)
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


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b for 3-vectors: np.cross costs ~20 us a call, and this runs for every command."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])

