"""Privileged simulator state: what task checkers and the scripted expert see (never the policy)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class BlockState:
    pos: np.ndarray  # (3,) m, base_link
    quat: np.ndarray  # (4,) w, x, y, z (MuJoCo order)

    @property
    def yaw(self) -> float:
        w, x, y, z = self.quat
        return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))

    @property
    def upright(self) -> bool:
        """A face is on top (cube z axis or another axis roughly vertical)."""
        w, x, y, z = self.quat
        rot_z = np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])
        return bool(np.max(np.abs(rot_z)) > 0.9)


@dataclass(frozen=True)
class PrivilegedState:
    time: float
    q: np.ndarray  # (7,) rad
    qdot: np.ndarray  # (7,) rad/s
    gripper: float  # measured closure 0 = open .. 1 = closed
    gripper_command: float  # commanded closure 0..1
    ee_transform: np.ndarray  # (4, 4) base_link -> end_effector_link (measured)
    tcp_pos: np.ndarray  # (3,) tool centre point between the finger pads
    blocks: dict[str, BlockState]
    bowl_pos: np.ndarray  # (3,)
    drawer_opening: float  # m, 0 = closed
    button_depth: float  # m
    light_on: bool
    grasped: dict[str, bool] = field(default_factory=dict)  # block touched by both fingers

    @property
    def tool_yaw(self) -> float:
        x_axis = self.ee_transform[:3, 0]
        return float(np.arctan2(x_axis[1], x_axis[0]))
