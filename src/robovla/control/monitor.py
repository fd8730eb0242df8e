"""When the arm must be stopped from outside the control process.

picknik_twist_controller re-sends the last Twist forever and the driver has no command timeout,
so a control process that dies or hangs mid-motion leaves the arm moving (measured in the sim
before this existed: 0.29 m in 4 s after a SIGKILL, never stopping). The safety monitor, a small
process of its own (no torch, no model), watches what kinova_control reports sending
(robovla/sent_command, 50 Hz while moving, a zero when it stops) and the joint velocities, and
trips when the commands go silent while the arm was told to move or is moving.

Two stages, so that a short stall of a loaded PC costs a pause, not the session: after
`command_timeout_s` (0.1 s, MoveIt Servo's incoming_command_timeout) a zero twist, which a
control process that wakes up overrides with its next fresh command; only when the silence
lasts `deactivate_after_s` is twist_controller deactivated (the graph must be restarted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MonitorConfig:
    # kinova_control sends at 50 Hz: 5 missed commands = a zero twist (0.5 cm at the first-run
    # 0.05 m/s); a silence this long too = twist_controller deactivated
    command_timeout_s: float = 0.1
    deactivate_after_s: float = 0.5
    # during an episode, joints still moving this long after kinova_control's last zero = the zero
    # did not take (settling after a zero takes ~0.15 s). Between episodes other things may move
    # the arm (a homing trajectory, teleop, a sim reset): not our twist, not a trip.
    settle_s: float = 0.5
    moving_joint_speed: float = 0.02  # rad/s: any joint faster than this = the arm moves
    rate_hz: float = 100.0  # how often the monitor checks

    def __post_init__(self) -> None:
        if not (self.command_timeout_s > 0 and self.moving_joint_speed > 0 and self.rate_hz > 0):
            raise ValueError("command_timeout_s, moving_joint_speed and rate_hz must be positive")
        if not self.deactivate_after_s >= self.command_timeout_s:
            raise ValueError("deactivate_after_s must be >= command_timeout_s")
        if not self.settle_s >= self.command_timeout_s:
            raise ValueError("settle_s must be >= command_timeout_s")


class CommandMonitor:
    """Feed it what the graph says (times in seconds of one clock); check() says when to trip."""

    def __init__(self, cfg: MonitorConfig) -> None:
        self.cfg = cfg
        self.last_command_t: float | None = None
        self.last_command_moving = False
        self.joint_speed = 0.0
        self.tripped = False
        self.deactivated = False
        self.episode_active = False  # robovla/instruction

    def on_command(self, t: float, linear: np.ndarray, angular: np.ndarray) -> None:
        self.last_command_t = t
        self.last_command_moving = bool(np.any(np.asarray(linear) != 0) or np.any(np.asarray(angular) != 0))
        if self.last_command_moving:
            self.tripped = self.deactivated = False  # commands flow again: re-armed

    def on_joint_velocities(self, velocities: np.ndarray) -> None:
        v = np.asarray(velocities, float)
        self.joint_speed = float(np.max(np.abs(v))) if v.size and np.all(np.isfinite(v)) else 0.0

    def check(self, t: float) -> str | None:
        """The reason to send a zero twist now, once per silence; None while all is well.

        Silence after a motion command trips after command_timeout_s; silence after a zero trips
        only during an episode, if the joints still move settle_s after it (settling is not a
        fault)."""
        if self.tripped or self.last_command_t is None:
            return None
        silent = t - self.last_command_t
        if self.last_command_moving:
            if silent <= self.cfg.command_timeout_s:
                return None
            why = "the last command was a motion"
        else:
            if not self.episode_active or silent <= self.cfg.settle_s or \
                    self.joint_speed <= self.cfg.moving_joint_speed:
                return None
            why = f"joints still moving at {self.joint_speed:.2f} rad/s {silent:.2f} s after a zero"
        self.tripped = True
        return f"no command from kinova_control for {silent:.2f} s and {why}"

    def should_deactivate(self, t: float) -> bool:
        """After a trip: has the silence lasted long enough to deactivate the controller? (once)"""
        if not self.tripped or self.deactivated or self.last_command_t is None:
            return False
        if t - self.last_command_t < self.cfg.deactivate_after_s:
            return False
        self.deactivated = True
        return True
