"""Last line of defence before the arm: every command passes here, whatever produced it.

The kortex driver applies no timeout and no twist limits of its own (twist_limits.yaml is read
by no code), so the workspace box, the table plane, speed caps and non-finite rejection live
here, in one ROS-free place that is unit-tested and used by the control node for both twist and
joint-trajectory output. They are named rules (rules.py) listed in SafetyConfig.rules
(config.py, YAML kinova_control.safety.rules), folded over by SafetyFilter (filter.py), which
reports which rule clipped or stopped a command. The box, the table and the speed cap hold at
the fingertips, not at the flange: a rotation moves the tips at |omega x r| with no linear
command at all.
"""

from robovla.control.safety.config import DRIVER_MAX_ANGULAR_SPEED, DRIVER_MAX_LINEAR_SPEED, SafetyConfig
from robovla.control.safety.filter import Applied, SafeCommand, SafetyFilter
from robovla.control.safety.limits import clip_norm, clip_steps, clip_twist, step_speeds
from robovla.control.safety.rules import RULES, Action, Command, Context, SafetyRule, Verdict

__all__ = [
    "DRIVER_MAX_ANGULAR_SPEED", "DRIVER_MAX_LINEAR_SPEED", "RULES", "Action", "Applied", "Command", "Context",
    "SafeCommand", "SafetyConfig", "SafetyFilter", "SafetyRule", "Verdict", "clip_norm", "clip_steps",
    "clip_twist", "step_speeds",
]
