"""Plain data types passed between the ROS graph and the policy core.

They are deliberately ROS-free (numpy only) so the model, data and training code runs on a
GPU cluster without a ROS install; `robovla.nodes.convert` maps them to and from messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from robovla.control.kinematics import N_JOINTS, as_joint_vector

#: Action layout shared by the whole product (RoboVLMs / OXE convention): a relative
#: end-effector motion per policy step, then the gripper.
ACTION_DIM = 7
ARM_DIMS = 6  # dx, dy, dz (m), droll, dpitch, dyaw (rad)
GRIPPER_INDEX = 6  # 0 = open, 1 = closed
ACTION_NAMES = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")

#: Frame in which the translational and rotational deltas are expressed.
DEFAULT_ACTION_FRAME = "base_link"

#: Robot state a policy may read (VLAConfig.state_input) and datasets store: the 7 joint angles
#: (rad) then the gripper (0 open .. 1 closed).
STATE_DIM = N_JOINTS + 1


@dataclass(frozen=True)
class Observation:
    """One synchronized snapshot of the robot: every camera plus proprioception."""

    stamp: float  # seconds (ROS time of the reference camera frame)
    images: dict[str, np.ndarray]  # camera name -> HxWx3 uint8 RGB, already model-sized
    joint_positions: np.ndarray  # (7,) rad, joint_1..joint_7
    gripper: float  # normalised opening command/state: 0 = open, 1 = closed
    ee_pose: np.ndarray  # (7,) x, y, z (m), qx, qy, qz, qw of end_effector_link in base_link
    episode_id: str = ""


@dataclass(frozen=True)
class ObservationWindow:
    """The last N observations of one episode, oldest first.

    At the start of an episode fewer than N real frames exist; the window is padded by
    repeating the oldest real frame and `valid` marks which entries are real.
    """

    observations: tuple[Observation, ...]
    valid: np.ndarray  # (N,) bool
    episode_id: str = ""

    def __post_init__(self) -> None:
        if len(self.observations) == 0:
            raise ValueError("an ObservationWindow needs at least one observation")
        if len(self.valid) != len(self.observations):
            raise ValueError(
                f"valid mask has {len(self.valid)} entries for {len(self.observations)} observations"
            )

    @property
    def latest(self) -> Observation:
        return self.observations[-1]

    def __len__(self) -> int:
        return len(self.observations)


@dataclass(frozen=True)
class ActionChunk:
    """k future actions predicted from one observation window.

    Row i is the action to execute during [stamp + i*dt, stamp + (i+1)*dt): a relative
    end-effector motion over one policy step, in `frame`, plus the gripper target.
    """

    actions: np.ndarray  # (k, ACTION_DIM) float32
    stamp: float  # stamp of the newest observation the chunk answers
    dt: float  # seconds between successive actions (the policy step)
    frame: str = DEFAULT_ACTION_FRAME
    episode_id: str = ""
    latency_s: float = 0.0  # policy compute time
    extras: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        a = np.asarray(self.actions)
        if a.ndim != 2 or a.shape[1] != ACTION_DIM:
            raise ValueError(f"actions must have shape (k, {ACTION_DIM}), got {a.shape}")
        if a.shape[0] == 0:
            raise ValueError("an ActionChunk needs at least one action")
        if not self.dt > 0:
            raise ValueError(f"dt must be positive, got {self.dt}")

    @property
    def horizon(self) -> int:
        return int(self.actions.shape[0])


def observation_state(obs: Observation) -> np.ndarray:
    """(STATE_DIM,) float32 state of one observation; a malformed or non-finite one is a clear error."""
    try:
        q = as_joint_vector(np.asarray(obs.joint_positions).reshape(-1))
        if not np.isfinite(obs.gripper):
            raise ValueError(f"gripper {obs.gripper} is not finite")
    except ValueError as exc:
        raise ValueError(f"observation state must be 7 finite joint positions + a finite gripper: {exc}") from None
    return np.append(q, obs.gripper).astype(np.float32)
