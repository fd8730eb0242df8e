"""What an operator's inputs mean: speed limits and scale, and the episode's life cycle.

The episode state machine is shared by every input device: a key or a button becomes an Event,
EpisodeControls turns it into Intents (start a recorded episode, finish it with a verdict, ...)
that the ROS side carries out, and into whether motion is allowed now. Keeping it here, without
rclpy, lets the rules be tested alone (LeRobot's record loop has the same controls: re-record,
stop, keep)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np


class Event(enum.Enum):
    START = "start"  # start an episode (recorded), with the session's instruction
    KEEP_SUCCESS = "keep_success"  # stop, keep the episode, flagged successful
    KEEP_FAILURE = "keep_failure"  # stop, keep the episode, flagged unsuccessful
    DISCARD = "discard"  # stop, move the episode to _discarded/, ready to re-record
    PAUSE = "pause"  # hold the arm still (toggle); the recording goes on
    GRIPPER = "gripper"  # toggle the gripper target (open <-> closed)
    FASTER = "faster"
    SLOWER = "slower"
    HALT = "halt"  # zero velocity now (the keys held so far are forgotten)
    QUIT = "quit"  # end the session (an episode running is kept as a failure: nothing recorded is lost)


class Phase(enum.Enum):
    IDLE = "idle"  # no episode: nothing is commanded
    STARTING = "starting"  # recording and goal requested, not yet running
    RUNNING = "running"
    PAUSED = "paused"
    FINISHING = "finishing"  # verdict sent, waiting for the bag and the goal to end


@dataclass(frozen=True)
class Intent:
    """Something the ROS side must do: 'start', 'finish' (with verdict), 'quit'."""

    kind: str
    verdict: Event | None = None


@dataclass
class TeleopConfig:
    """Speeds are at the fingertips' frame origin in the base frame; kinova_control's safety rules
    still apply on top (max speeds, workspace, watchdog)."""

    max_linear_speed: float = 0.10  # m/s at scale 1
    max_angular_speed: float = 0.6  # rad/s at scale 1
    speed_scale: float = 0.5  # the operator's scale, changed by FASTER/SLOWER
    scale_step: float = 0.1
    rate_hz: float = 20.0  # commands per second while an episode runs (kinova_control's watchdog: 0.1 s+)
    key_hold_s: float = 0.6  # a key's motion lasts this long after its last press (terminal auto-repeat refreshes it)
    episode_timeout_s: float = 600.0  # the ExecuteInstruction goal's timeout for a teleoperated episode

    def __post_init__(self) -> None:
        if not (self.max_linear_speed > 0 and self.max_angular_speed > 0 and self.rate_hz > 0 and self.key_hold_s > 0):
            raise ValueError("max_linear_speed, max_angular_speed, rate_hz and key_hold_s must be positive")
        if not 0 < self.speed_scale <= 1 or not 0 < self.scale_step < 1:
            raise ValueError(f"speed_scale must be in (0, 1] and scale_step in (0, 1) (got {self.speed_scale}, "
                             f"{self.scale_step})")

    def scaled(self, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(linear m/s, angular rad/s) for a 6-D direction in [-1, 1] at the current scale."""
        d = np.clip(np.nan_to_num(np.asarray(direction, dtype=np.float64), nan=0.0), -1.0, 1.0)
        return d[:3] * self.max_linear_speed * self.speed_scale, d[3:] * self.max_angular_speed * self.speed_scale


class EpisodeControls:
    """The session's episode state; every input device feeds it Events."""

    def __init__(self, config: TeleopConfig) -> None:
        self.config = config
        self.phase = Phase.IDLE
        self.gripper = -1.0  # target sent with each command: -1 leave as is, 0 open, 1 closed
        self.kept: list[bool] = []  # success flag of each kept episode
        self.discarded = 0

    @property
    def moving_allowed(self) -> bool:
        return self.phase is Phase.RUNNING

    def handle(self, event: Event) -> list[Intent]:
        """Apply one event; the intents the ROS side must carry out, in order."""
        c = self.config
        if event is Event.FASTER:
            c.speed_scale = min(1.0, round(c.speed_scale + c.scale_step, 6))
        elif event is Event.SLOWER:
            c.speed_scale = max(c.scale_step, round(c.speed_scale - c.scale_step, 6))
        elif event is Event.GRIPPER:
            if self.phase in (Phase.RUNNING, Phase.PAUSED):
                self.gripper = 0.0 if self.gripper >= 0.5 else 1.0
        elif event is Event.PAUSE:
            if self.phase is Phase.RUNNING:
                self.phase = Phase.PAUSED
            elif self.phase is Phase.PAUSED:
                self.phase = Phase.RUNNING
        elif event is Event.START:
            if self.phase is Phase.IDLE:
                self.phase = Phase.STARTING
                return [Intent("start")]
        elif event in (Event.KEEP_SUCCESS, Event.KEEP_FAILURE, Event.DISCARD):
            if self.phase in (Phase.STARTING, Phase.RUNNING, Phase.PAUSED):
                self.phase = Phase.FINISHING
                return [Intent("finish", event)]
        elif event is Event.QUIT:
            if self.phase in (Phase.STARTING, Phase.RUNNING, Phase.PAUSED):
                self.phase = Phase.FINISHING
                return [Intent("finish", Event.KEEP_FAILURE), Intent("quit")]
            return [Intent("quit")]
        return []

    def started(self) -> None:
        """The graph runs the episode (its instruction is active)."""
        if self.phase is Phase.STARTING:
            self.phase = Phase.RUNNING
            self.gripper = -1.0

    def finished(self, verdict: Event | None) -> None:
        """The episode's bag is written (verdict None: it could not start or was not recorded)."""
        if verdict is Event.DISCARD:
            self.discarded += 1
        elif verdict in (Event.KEEP_SUCCESS, Event.KEEP_FAILURE):
            self.kept.append(verdict is Event.KEEP_SUCCESS)
        self.phase = Phase.IDLE
        self.gripper = -1.0
