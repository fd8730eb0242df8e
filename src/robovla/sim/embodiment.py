"""Sim embodiments: which 7-DoF arm, gripper and camera mounts the tabletop scene holds.

The Gen3 is the project's arm (its kinematics are `robovla.control.kinematics`, also used on the
real robot, so its description delegates there unchanged). The Franka Emika Panda + Franka Hand
is a second embodiment for cross-embodiment data: same tasks, same scripted expert, same 7-D
end-effector actions, a different arm, gripper and camera placement.

Panda numbers (Franka Control Interface documentation, "Robot and interface specifications"):
Craig (modified) DH a = [0, 0, 0, 0.0825, -0.0825, 0, 0.088], d = [0.333, 0, 0.316, 0, 0.384, 0, 0],
alpha = [0, -pi/2, pi/2, pi/2, -pi/2, pi/2, pi/2], flange 0.107 m along the last z; joint position
and velocity limits as listed there. Franka Hand (franka_description): mounted at -pi/4 about the
flange z, fingers 0..0.04 m each (0.08 m stroke), TCP 0.1034 m beyond the flange.

The sim drives both arms through the same driver-level commands (tool-frame twist, gripper
position 0..0.8 = open..closed); only the bags' joint names and gripper joint differ
(`robovla.data.robots`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from robovla.control import kinematics as kin
from robovla.data.robots import GEN3 as GEN3_SIGNATURE
from robovla.data.robots import PANDA as PANDA_SIGNATURE
from robovla.data.robots import RobotSignature


class ArmKinematics(Protocol):
    """What the env and scene need of an arm's kinematics (end_effector_link = the tool frame)."""

    def forward_kinematics(self, q: np.ndarray) -> np.ndarray: ...
    def jacobian(self, q: np.ndarray) -> np.ndarray: ...
    def ik_velocity(self, q: np.ndarray, twist_base: np.ndarray, damping: float = 1e-3) -> np.ndarray: ...
    def tool_twist_to_base(self, q: np.ndarray, twist_tool: np.ndarray) -> np.ndarray: ...
    def inverse_kinematics(self, t_target: np.ndarray, q_seed: np.ndarray, tol: float = 1e-4,
                           max_iters: int = 200, damping: float = 1e-2) -> tuple[np.ndarray, bool]: ...
    def check_joint_limits(self, q: np.ndarray) -> list[str]: ...


class Gen3Kinematics:
    """The Gen3 through `robovla.control.kinematics` as is (bit-for-bit what the real path computes)."""

    def forward_kinematics(self, q: np.ndarray) -> np.ndarray:
        return kin.forward_kinematics(q)

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        return kin.jacobian(q)

    def ik_velocity(self, q: np.ndarray, twist_base: np.ndarray, damping: float = 1e-3) -> np.ndarray:
        return kin.ik_velocity(q, twist_base, damping=damping)

    def tool_twist_to_base(self, q: np.ndarray, twist_tool: np.ndarray) -> np.ndarray:
        return kin.tool_twist_to_base(q, twist_tool)

    def inverse_kinematics(self, t_target: np.ndarray, q_seed: np.ndarray, tol: float = 1e-4,
                           max_iters: int = 200, damping: float = 1e-2) -> tuple[np.ndarray, bool]:
        return kin.inverse_kinematics(t_target, q_seed, tol=tol, max_iters=max_iters, damping=damping)

    def check_joint_limits(self, q: np.ndarray) -> list[str]:
        return kin.check_joint_limits(q)


def _rot_x(alpha: float) -> np.ndarray:
    c, s = np.cos(alpha), np.sin(alpha)
    return np.array([[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1.0]])


def _rot_z(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])


def _trans(x: float, y: float, z: float) -> np.ndarray:
    t = np.eye(4)
    t[:3, 3] = (x, y, z)
    return t


@dataclass(frozen=True)
class DHChain:
    """A serial revolute chain from a Denavit-Hartenberg table, classic or Craig's modified form.

    classic:  link i = Rot_z(q_i + offset_i) Trans_z(d_i) Trans_x(a_i) Rot_x(alpha_i); joint i turns
              about z of frame i-1.
    modified: link i = Rot_x(alpha_i) Trans_x(a_i) Rot_z(q_i + offset_i) Trans_z(d_i); joint i turns
              about z of frame i (Craig; Franka's table is in this form).
    `base` maps the robot base to frame 0, `tool` frame n to end_effector_link.
    """

    a: tuple[float, ...]
    d: tuple[float, ...]
    alpha: tuple[float, ...]
    theta_offset: tuple[float, ...]
    joint_names: tuple[str, ...]
    position_limits: np.ndarray  # (n, 2) rad
    velocity_limits: np.ndarray  # (n,) rad/s
    modified: bool = False
    base: np.ndarray = field(default_factory=lambda: np.eye(4))
    tool: np.ndarray = field(default_factory=lambda: np.eye(4))

    @property
    def n(self) -> int:
        return len(self.d)

    def _q(self, q: np.ndarray) -> np.ndarray:
        arr = np.asarray(q, dtype=float)
        if arr.shape != (self.n,) or not np.all(np.isfinite(arr)):
            raise ValueError(f"joint vector must be ({self.n},) and finite, got {arr}")
        return arr

    def link(self, i: int, q_i: float) -> np.ndarray:
        """Frame i-1 -> frame i (i counted from 0 here)."""
        rz = _rot_z(q_i + self.theta_offset[i]) @ _trans(0, 0, self.d[i])
        if self.modified:
            return _rot_x(self.alpha[i]) @ _trans(self.a[i], 0, 0) @ rz
        return rz @ _trans(self.a[i], 0, 0) @ _rot_x(self.alpha[i])

    def frame_transforms(self, q: np.ndarray) -> list[np.ndarray]:
        """base -> frame i for i = 0..n, then end_effector_link (n + 2 transforms)."""
        q = self._q(q)
        frames = [self.base.copy()]
        for i in range(self.n):
            frames.append(frames[-1] @ self.link(i, q[i]))
        frames.append(frames[-1] @ self.tool)
        return frames

    def forward_kinematics(self, q: np.ndarray) -> np.ndarray:
        return self.frame_transforms(q)[-1]

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """(6, n) geometric Jacobian in the base frame at the end_effector_link origin."""
        frames = self.frame_transforms(q)
        p_ee = frames[-1][:3, 3]
        jac = np.zeros((6, self.n))
        for i in range(self.n):
            axis_frame = frames[i + 1] if self.modified else frames[i]
            z, p = axis_frame[:3, 2], axis_frame[:3, 3]
            jac[:3, i] = np.cross(z, p_ee - p)
            jac[3:, i] = z
        return jac

    def ik_velocity(self, q: np.ndarray, twist_base: np.ndarray, damping: float = 1e-3) -> np.ndarray:
        """Damped least squares, scaled down uniformly to the velocity limits (as kin.ik_velocity)."""
        twist = np.asarray(twist_base, dtype=float)
        if twist.shape != (6,) or not np.all(np.isfinite(twist)):
            raise ValueError(f"twist must be (6,) and finite, got {twist}")
        jac = self.jacobian(q)
        qdot = jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(6), twist)
        ratio = np.max(np.abs(qdot) / self.velocity_limits)
        return qdot / ratio if ratio > 1.0 else qdot

    def tool_twist_to_base(self, q: np.ndarray, twist_tool: np.ndarray) -> np.ndarray:
        twist = np.asarray(twist_tool, dtype=float)
        if twist.shape != (6,):
            raise ValueError(f"twist must have shape (6,), got {twist.shape}")
        rot = self.forward_kinematics(q)[:3, :3]
        return np.concatenate([rot @ twist[:3], rot @ twist[3:]])

    def inverse_kinematics(self, t_target: np.ndarray, q_seed: np.ndarray, tol: float = 1e-4,
                           max_iters: int = 200, damping: float = 1e-2) -> tuple[np.ndarray, bool]:
        """Iterative damped-least-squares pose IK, clamped inside the position limits."""
        target = np.asarray(t_target, dtype=float)
        q = self._q(q_seed).copy()
        lo, hi = self.position_limits[:, 0] + 1e-6, self.position_limits[:, 1] - 1e-6

        def ok(err: np.ndarray) -> bool:
            return bool(np.linalg.norm(err[:3]) < tol and np.linalg.norm(err[3:]) < 10 * tol)

        for _ in range(max_iters):
            err = kin.pose_error(self.forward_kinematics(q), target)
            if ok(err):
                return q, True
            jac = self.jacobian(q)
            q = np.clip(q + jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(6), err), lo, hi)
        return q, ok(kin.pose_error(self.forward_kinematics(q), target))

    def check_joint_limits(self, q: np.ndarray) -> list[str]:
        arr = np.asarray(q, dtype=float)
        if arr.shape != (self.n,):
            return [f"joint vector must have {self.n} entries, got shape {arr.shape}"]
        problems: list[str] = []
        for name, value, (lo, hi) in zip(self.joint_names, arr, self.position_limits, strict=True):
            if not np.isfinite(value):
                problems.append(f"{name} is not finite ({value})")
            elif value < lo or value > hi:
                problems.append(f"{name} = {value:.4f} rad outside [{lo:.2f}, {hi:.2f}]")
        return problems


@dataclass(frozen=True)
class CameraMount:
    """Front camera in the world (look-at) and the wrist camera on end_effector_link (look-at)."""

    front_pos: tuple[float, float, float]
    front_target: tuple[float, float, float]
    front_fovy: float
    wrist_pos: tuple[float, float, float]
    wrist_target: tuple[float, float, float]
    wrist_up: tuple[float, float, float]
    wrist_fovy: float


@dataclass(frozen=True)
class Embodiment:
    """One arm + gripper + camera placement of the sim (see the module docstring for sources)."""

    name: str
    signature: RobotSignature  # bag joint names, gripper joint, robot tag, LeRobot robot_type
    kinematics: ArmKinematics
    joint_position_limits: np.ndarray  # (7, 2) rad; +-inf for continuous joints
    joint_velocity_limits: np.ndarray  # (7,) rad/s
    joint_effort_limits: np.ndarray  # (7,) N m
    servo_kp: tuple[float, ...]  # MuJoCo position-servo gains per joint
    ready_seed: np.ndarray  # IK seed of the ready pose (tool down)
    tcp_offset: float  # m along end_effector_link z
    finger_travel: float  # m each finger moves from open to closed
    finger_joints: tuple[str, str]
    finger_bodies: tuple[str, str]
    cameras: CameraMount | None = None  # None: the Gen3 scene's own (scene.SceneOptions)
    chain: DHChain | None = None  # the DH table the scene builds the arm from (None: the Gen3's URDF chain)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.signature.arm_joints

    @property
    def robot_type(self) -> str:
        return self.signature.robot_type

    def gripper_joint_position(self, finger_closure: float) -> float:
        """Closure 0..1 -> the gripper joint position /joint_states reports for this arm."""
        s = self.signature
        return s.gripper_open + finger_closure * (s.gripper_closed - s.gripper_open)


GEN3 = Embodiment(
    name="gen3",
    signature=GEN3_SIGNATURE,
    kinematics=Gen3Kinematics(),
    joint_position_limits=kin.JOINT_POSITION_LIMITS,
    joint_velocity_limits=kin.JOINT_VELOCITY_LIMITS,
    joint_effort_limits=kin.JOINT_EFFORT_LIMITS,
    servo_kp=(1500.0, 1500.0, 1000.0, 1000.0, 400.0, 400.0, 300.0),
    ready_seed=np.array([0.0, 0.36, np.pi, -1.49, 0.0, -1.31, 0.0]),
    tcp_offset=0.13,
    finger_travel=0.0425,
    finger_joints=("left_finger_joint", "right_finger_joint"),
    finger_bodies=("left_finger", "right_finger"),
)

_PANDA_LIMITS = np.array(
    [[-2.8973, 2.8973], [-1.7628, 1.7628], [-2.8973, 2.8973], [-3.0718, -0.0698],
     [-2.8973, 2.8973], [-0.0175, 3.7525], [-2.8973, 2.8973]]
)
_PANDA_VEL = np.array([2.175] * 4 + [2.61] * 3)
PANDA_FLANGE = 0.107
PANDA_HAND_YAW = -np.pi / 4  # the hand's fingers close along its y axis

PANDA_CHAIN = DHChain(
    a=(0.0, 0.0, 0.0, 0.0825, -0.0825, 0.0, 0.088),
    d=(0.333, 0.0, 0.316, 0.0, 0.384, 0.0, 0.0),
    alpha=(0.0, -np.pi / 2, np.pi / 2, np.pi / 2, -np.pi / 2, np.pi / 2, np.pi / 2),
    theta_offset=(0.0,) * 7,
    joint_names=PANDA_SIGNATURE.arm_joints,
    position_limits=_PANDA_LIMITS,
    velocity_limits=_PANDA_VEL,
    modified=True,
    tool=_trans(0, 0, PANDA_FLANGE) @ _rot_z(PANDA_HAND_YAW),
)

PANDA = Embodiment(
    name="panda",
    signature=PANDA_SIGNATURE,
    kinematics=PANDA_CHAIN,
    joint_position_limits=_PANDA_LIMITS,
    joint_velocity_limits=_PANDA_VEL,
    joint_effort_limits=np.array([87.0] * 4 + [12.0] * 3),
    servo_kp=(2000.0, 2000.0, 1500.0, 1500.0, 500.0, 500.0, 300.0),
    ready_seed=np.array([0.0, -0.3, 0.0, -2.4, 0.0, 2.1, 0.0]),  # near Franka's "ready" pose
    tcp_offset=0.1034,
    finger_travel=0.04,
    finger_joints=("panda_finger_joint1", "panda_finger_joint2"),
    finger_bodies=("panda_leftfinger", "panda_rightfinger"),
    cameras=CameraMount(
        front_pos=(1.05, -0.75, 0.7), front_target=(0.4, 0.02, 0.08), front_fovy=60.0,
        wrist_pos=(-0.075, 0.0, 0.03), wrist_target=(0.0, 0.0, 0.14), wrist_up=(-1.0, 0.0, 0.0), wrist_fovy=70.0,
    ),
    chain=PANDA_CHAIN,
)

EMBODIMENTS: dict[str, Embodiment] = {e.name: e for e in (GEN3, PANDA)}


def get_embodiment(name: str) -> Embodiment:
    try:
        return EMBODIMENTS[name]
    except KeyError:
        raise ValueError(f"unknown embodiment {name!r}; choose one of {', '.join(EMBODIMENTS)}") from None
