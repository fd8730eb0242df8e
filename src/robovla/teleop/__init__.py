"""Teleoperation, ROS-free: operator inputs (terminal keys, sensor_msgs/Joy gamepads) become
base-frame end-effector velocities and episode events; robovla.nodes.teleop sends them through
the same command path and safety as the policy."""

from robovla.teleop.controls import Event, EpisodeControls, Intent, Phase, TeleopConfig
from robovla.teleop.joy import JoyMapping, JoyTeleop
from robovla.teleop.keyboard import KeyboardTeleop, KeyMap, split_keys

__all__ = ["Event", "EpisodeControls", "Intent", "Phase", "TeleopConfig", "JoyMapping", "JoyTeleop",
           "KeyboardTeleop", "KeyMap", "split_keys"]
