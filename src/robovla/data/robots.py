"""What an episode bag says about the arm that made it: joint names, gripper encoding, robot tag.

The bag reader and the LeRobot exporter need these facts for every arm whose demonstrations the
project holds (the Gen3, and the Panda of the sim's second embodiment), without importing the
simulator. State is always 7 arm joints + gripper closure 0 (open) .. 1 (closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from robovla.data.metadata import GEN3_ROBOT


@dataclass(frozen=True)
class RobotSignature:
    """One arm's /joint_states layout and names."""

    name: str  # embodiment key: "gen3", "panda"
    robot: str  # EpisodeMetadata.robot tag (a sim suffix such as " (mujoco sim)" may follow)
    robot_type: str  # LeRobot info.json robot_type
    arm_joints: tuple[str, ...]
    gripper_joint: str
    gripper_open: float  # gripper joint position when fully open
    gripper_closed: float  # ... and fully closed

    def closure(self, position: float) -> float:
        """Gripper joint position -> closure 0 (open) .. 1 (closed)."""
        return (position - self.gripper_open) / (self.gripper_closed - self.gripper_open)


GEN3 = RobotSignature(
    name="gen3", robot=GEN3_ROBOT, robot_type="kinova_gen3",
    arm_joints=tuple(f"joint_{i}" for i in range(1, 8)),
    gripper_joint="robotiq_85_left_knuckle_joint", gripper_open=0.0, gripper_closed=0.8,
)
#: franka_ros / franka_description names; panda_finger_joint1 is one finger's opening (0.04 m open).
PANDA = RobotSignature(
    name="panda", robot="franka_panda_7dof+franka_hand", robot_type="franka_panda",
    arm_joints=tuple(f"panda_joint{i}" for i in range(1, 8)),
    gripper_joint="panda_finger_joint1", gripper_open=0.04, gripper_closed=0.0,
)
ROBOTS: dict[str, RobotSignature] = {r.name: r for r in (GEN3, PANDA)}


def signature_for_joints(names: list[str]) -> RobotSignature | None:
    """The known arm whose joints a JointState names (None: no known arm)."""
    for sig in ROBOTS.values():
        if all(j in names for j in (*sig.arm_joints, sig.gripper_joint)):
            return sig
    return None


def robot_type_for(robot: str) -> str | None:
    """LeRobot robot_type of an EpisodeMetadata.robot tag (None: not a known arm)."""
    for sig in ROBOTS.values():
        if robot == sig.robot or robot.startswith(sig.robot + " "):
            return sig.robot_type
    return None
