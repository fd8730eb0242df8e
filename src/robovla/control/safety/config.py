"""SafetyConfig: the limits, and the rules that enforce them (kinova_control.safety in config/robovla.yaml).

Flat fields, because node parameters are declared from them (nodes/common/params.py); each rule
in rules.py reads only the fields its docstring names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from robovla.control.safety.rules import RULES

# The Gen3 driver's own range (ros2_kortex twist_limits.yaml, which no code reads): above this a
# command is not something the arm could do, whatever the caps below are set to.
DRIVER_MAX_LINEAR_SPEED = 0.5  # m/s
DRIVER_MAX_ANGULAR_SPEED = 1.74  # rad/s


@dataclass
class SafetyConfig:
    # rules in force, in the order they apply (rules.RULES names them); non_finite must come first
    rules: list[str] = field(default_factory=lambda: list(RULES))
    max_linear_speed: float = 0.25  # m/s  (linear_speed, fingertip_speed)
    max_angular_speed: float = 1.0  # rad/s (angular_speed)
    workspace_min: list[float] = field(default_factory=lambda: [0.15, -0.55, 0.02])  # m, base_link
    workspace_max: list[float] = field(default_factory=lambda: [0.85, 0.55, 0.80])
    lookahead_s: float = 0.1  # flange_box, fingertip_box: no edge may be crossed within this time
    max_gripper: float = 1.0  # gripper_range
    # fingertip point in end_effector_link (m): the Robotiq 2F-85's pad ends as the sim models them
    # (robovla.sim.scene), the gripper kortex_bringup mounts by default. Measure your own tool:
    # this number was not read from robotiq_description. [0, 0, 0] guards the flange only.
    tool_offset: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.145])
    table_z: float = 0.0  # m, base_link: the table top the fingertips must stay above (fingertip_box)
    table_margin: float = 0.005  # m kept between fingertips and table

    def __post_init__(self) -> None:
        if not (self.max_linear_speed > 0 and self.max_angular_speed > 0):
            raise ValueError("speed limits must be positive")
        lo, hi = np.asarray(self.workspace_min, float), np.asarray(self.workspace_max, float)
        if lo.shape != (3,) or hi.shape != (3,) or np.any(lo >= hi):
            raise ValueError(f"workspace box must be 3-D with min < max (got {lo} .. {hi})")
        if np.asarray(self.tool_offset, float).shape != (3,):
            raise ValueError(f"tool_offset must be 3 numbers (m, end_effector_link), got {self.tool_offset}")
        unknown = [r for r in self.rules if r not in RULES]
        if unknown:
            raise ValueError(f"unknown safety rule(s) {unknown}; known rules: {list(RULES)}")
        if len(set(self.rules)) != len(self.rules):
            raise ValueError(f"a safety rule is listed twice: {self.rules}")
        if not self.rules or self.rules[0] != "non_finite":
            # NaN compares false with every limit, so any other rule would pass it to the arm
            raise ValueError(f"safety rules must start with 'non_finite', got {self.rules}")
