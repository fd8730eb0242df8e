"""Kinova Gen3 7-DoF kinematics (ROS-free, numpy only).

The control nodes need forward kinematics, the Jacobian and velocity IK to turn the policy's
end-effector deltas into the commands ros2_kortex accepts (Twist on real hardware, joint
trajectories on mock/Gazebo/sim), and the simulator's MJCF is validated against this module.

Model: the classic Denavit-Hartenberg table of the Gen3 user guide (a = 0 everywhere,
base->frame0 alpha = pi, joints 1-6 alpha = pi/2, frame 7 alpha = pi, theta offsets 0, pi, ..., pi)
with the `d` values taken at full precision from the URDF joint offsets instead of the guide's
4-digit rounding (the guide's d1 = -0.2848 is 0.15643 + 0.12838 = 0.28481, and so on; the guide
drops the two 0.175 mm wrist offsets that the URDF puts along joint 6, so its d6 = 0). Frame 7 of
this table coincides with the URDF's `end_effector_link` (checked in the tests against an
independent chain built from the URDF joint origins).
"""

from __future__ import annotations

import numpy as np

GEN3_JOINT_NAMES: tuple[str, ...] = tuple(f"joint_{i}" for i in range(1, 8))
N_JOINTS = 7

#: URDF joint-origin offsets (m), kortex_description gen3 7dof.
_BASE_TO_J1 = 0.15643
_J1_TO_J2 = 0.12838
_J2_LATERAL = 0.005375
_LATERAL = 0.006375
_HALF_ARM = 0.21038
_J4_TO_J5 = 0.20843
_WRIST = 0.10593
_WRIST_LATERAL = 0.00017505
_BRACELET_TO_EE = 0.061525

#: Classic DH parameters (one row per joint): d (m), alpha (rad), theta offset (rad). a = 0.
DH_D = np.array(
    [
        -(_BASE_TO_J1 + _J1_TO_J2),  # -0.28481  (guide: -0.2848)
        -(_J2_LATERAL + _LATERAL),  # -0.01175  (guide: -0.0118)
        -(2 * _HALF_ARM),  # -0.42076  (guide: -0.4208)
        -(2 * _LATERAL),  # -0.01275  (guide: -0.0128)
        -(_J4_TO_J5 + _WRIST),  # -0.31436  (guide: -0.3143)
        -(2 * _WRIST_LATERAL),  # -0.0003501 (guide: 0)
        -(_WRIST + _BRACELET_TO_EE),  # -0.167455 (guide: -0.1674)
    ]
)
DH_ALPHA = np.array([np.pi / 2] * 6 + [np.pi])
DH_THETA_OFFSET = np.array([0.0] + [np.pi] * 6)
#: Rigid transform base_link -> DH frame 0 (a rotation of pi about x).
BASE_TO_FRAME0 = np.diag([1.0, -1.0, -1.0, 1.0])

_INF = np.inf
#: Position limits (rad); joints 1, 3, 5, 7 are continuous.
JOINT_POSITION_LIMITS: np.ndarray = np.array(
    [
        [-_INF, _INF],
        [-2.24, 2.24],
        [-_INF, _INF],
        [-2.57, 2.57],
        [-_INF, _INF],
        [-2.09, 2.09],
        [-_INF, _INF],
    ]
)
#: Velocity limits (rad/s): the large actuators (joints 1-4) and the small ones (5-7).
JOINT_VELOCITY_LIMITS: np.ndarray = np.array([1.3963] * 4 + [1.2218] * 3)
#: What kortex_description's joint_limits.yaml allows (50 deg/s, every joint): the speed a
#: trajectory we plan may ask of a joint, below the hardware maxima above.
JOINT_VELOCITY_LIMITS_CONFIGURED: np.ndarray = np.full(7, 0.8727)
#: Joint effort limits (N m), large / small actuators.
JOINT_EFFORT_LIMITS: np.ndarray = np.array([39.0] * 4 + [9.0] * 3)

#: A comfortable, non-singular configuration (the kortex "home"-like pose, gripper pointing down).
HOME_POSITION: np.ndarray = np.array([0.0, 0.26, 3.14, -2.27, 0.0, 0.96, 1.57])


def as_joint_vector(q: np.ndarray) -> np.ndarray:
    """A validated (7,) float joint vector: the wrong length or a non-finite value is a clear error."""
    arr = np.asarray(q, dtype=float)
    if arr.shape != (N_JOINTS,):
        raise ValueError(f"joint vector must have shape ({N_JOINTS},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"joint vector contains non-finite values: {arr}")
    return arr


_COS_ALPHA, _SIN_ALPHA = np.cos(DH_ALPHA), np.sin(DH_ALPHA)


def _dh_matrices(q: np.ndarray) -> np.ndarray:
    """(7, 4, 4) classic DH links Rot_z(theta) Trans_z(d) Rot_x(alpha) (a = 0), built in one
    vectorised pass: FK runs on every arm command and observation, and this is 2x cheaper than
    seven small matrices."""
    theta = q + DH_THETA_OFFSET
    ct, st = np.cos(theta), np.sin(theta)
    m = np.zeros((N_JOINTS, 4, 4))
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = ct, -st * _COS_ALPHA, st * _SIN_ALPHA
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = st, ct * _COS_ALPHA, -ct * _SIN_ALPHA
    m[:, 2, 1], m[:, 2, 2], m[:, 2, 3] = _SIN_ALPHA, _COS_ALPHA, DH_D
    m[:, 3, 3] = 1.0
    return m


def frame_transforms(q: np.ndarray) -> list[np.ndarray]:
    """base_link -> DH frame i for i = 0..7 (8 transforms); frame 7 is end_effector_link."""
    links = _dh_matrices(as_joint_vector(q))
    frames = [BASE_TO_FRAME0.copy()]
    for link in links:
        frames.append(frames[-1] @ link)
    return frames


def forward_kinematics(q: np.ndarray) -> np.ndarray:
    """4x4 homogeneous transform base_link -> end_effector_link."""
    return frame_transforms(q)[-1]


def rotation_to_quaternion(r: np.ndarray) -> np.ndarray:
    """3x3 rotation -> (qx, qy, qz, qw) with qw >= 0 (ROS order)."""
    m = np.asarray(r, dtype=float)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        qw, qx, qy, qz = 0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        qw, qx, qy, qz = (m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        qw, qx, qy, qz = (m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        qw, qx, qy, qz = (m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s
    quat = np.array([qx, qy, qz, qw])
    quat /= np.linalg.norm(quat)
    return quat if quat[3] >= 0 else -quat


def quaternion_to_rotation(quat: np.ndarray) -> np.ndarray:
    """(qx, qy, qz, qw) -> 3x3 rotation."""
    x, y, z, w = np.asarray(quat, dtype=float) / np.linalg.norm(quat)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def ee_pose(q: np.ndarray) -> np.ndarray:
    """(7,) x, y, z, qx, qy, qz, qw of end_effector_link in base_link."""
    t = forward_kinematics(q)
    return np.concatenate([t[:3, 3], rotation_to_quaternion(t[:3, :3])])


def jacobian(q: np.ndarray) -> np.ndarray:
    """(6, 7) geometric Jacobian in base_link at the end-effector origin: [v; omega] = J qdot."""
    frames = frame_transforms(q)
    p_ee = frames[-1][:3, 3]
    jac = np.zeros((6, N_JOINTS))
    for i in range(N_JOINTS):
        # Joint i+1 rotates about the z axis of DH frame i.
        z = frames[i][:3, 2]
        p = frames[i][:3, 3]
        jac[:3, i] = np.cross(z, p_ee - p)
        jac[3:, i] = z
    return jac


def ik_velocity(q: np.ndarray, twist_base: np.ndarray, damping: float = 1e-3,
                limits: np.ndarray = JOINT_VELOCITY_LIMITS) -> np.ndarray:
    """Joint velocities realising a base-frame twist [vx, vy, vz, wx, wy, wz] (m/s, rad/s).

    Damped least squares qdot = J^T (J J^T + damping^2 I)^-1 twist, so it stays bounded near
    singularities; the result is scaled down uniformly (direction preserved) until no joint
    exceeds `limits` (default: the hardware maxima, JOINT_VELOCITY_LIMITS).
    """
    twist = np.asarray(twist_base, dtype=float)
    if twist.shape != (6,):
        raise ValueError(f"twist must have shape (6,), got {twist.shape}")
    if not np.all(np.isfinite(twist)):
        raise ValueError(f"twist contains non-finite values: {twist}")
    if damping < 0:
        raise ValueError(f"damping must be >= 0, got {damping}")
    jac = jacobian(q)
    jjt = jac @ jac.T + (damping**2) * np.eye(6)
    qdot = jac.T @ np.linalg.solve(jjt, twist)
    ratio = np.max(np.abs(qdot) / np.asarray(limits, float))
    if ratio > 1.0:
        qdot = qdot / ratio
    return qdot


def tool_twist_to_base(q: np.ndarray, twist_tool: np.ndarray) -> np.ndarray:
    """Rotate a twist given in the tool (end_effector_link) frame into base_link.

    Both are taken at the end-effector origin, so only a rotation is needed.
    """
    twist = np.asarray(twist_tool, dtype=float)
    if twist.shape != (6,):
        raise ValueError(f"twist must have shape (6,), got {twist.shape}")
    rot = forward_kinematics(q)[:3, :3]
    return np.concatenate([rot @ twist[:3], rot @ twist[3:]])


def base_twist_to_tool(q: np.ndarray, twist_base: np.ndarray, ee: np.ndarray | None = None) -> np.ndarray:
    """Inverse of `tool_twist_to_base`; `ee` = forward_kinematics(q) when the caller has it."""
    twist = np.asarray(twist_base, dtype=float)
    if twist.shape != (6,):
        raise ValueError(f"twist must have shape (6,), got {twist.shape}")
    rot = (forward_kinematics(q) if ee is None else ee)[:3, :3]
    return np.concatenate([rot.T @ twist[:3], rot.T @ twist[3:]])


def check_joint_limits(q: np.ndarray) -> list[str]:
    """Human-readable violations of the position limits (empty list when q is acceptable)."""
    arr = np.asarray(q, dtype=float)
    if arr.shape != (N_JOINTS,):
        return [f"joint vector must have {N_JOINTS} entries, got shape {arr.shape}"]
    problems: list[str] = []
    for name, value, (lo, hi) in zip(GEN3_JOINT_NAMES, arr, JOINT_POSITION_LIMITS, strict=True):
        if not np.isfinite(value):
            problems.append(f"{name} is not finite ({value})")
        elif value < lo or value > hi:
            problems.append(f"{name} = {value:.4f} rad outside [{lo:.2f}, {hi:.2f}]")
    return problems


def check_joint_velocities(qdot: np.ndarray) -> list[str]:
    """Human-readable violations of JOINT_VELOCITY_LIMITS (empty list when fine)."""
    arr = np.asarray(qdot, dtype=float)
    if arr.shape != (N_JOINTS,):
        return [f"joint velocity vector must have {N_JOINTS} entries, got shape {arr.shape}"]
    problems: list[str] = []
    for name, value, lim in zip(GEN3_JOINT_NAMES, arr, JOINT_VELOCITY_LIMITS, strict=True):
        if not np.isfinite(value):
            problems.append(f"{name} velocity is not finite ({value})")
        elif abs(value) > lim:
            problems.append(f"{name} velocity {value:.4f} rad/s exceeds {lim:.4f}")
    return problems


def pose_error(t_current: np.ndarray, t_target: np.ndarray) -> np.ndarray:
    """(6,) base-frame error [dp; rotation vector] taking t_current to t_target."""
    dp = t_target[:3, 3] - t_current[:3, 3]
    r_err = t_target[:3, :3] @ t_current[:3, :3].T
    return np.concatenate([dp, rotation_vector(r_err)])


def rotation_vector(r: np.ndarray) -> np.ndarray:
    """Axis-angle vector of a rotation matrix (robust near 0 and pi)."""
    cos = np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0)
    angle = np.arccos(cos)
    if angle < 1e-9:
        return 0.5 * np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    if np.pi - angle < 1e-6:
        # axis from the symmetric part
        m = (r + np.eye(3)) / 2.0
        axis = m[:, int(np.argmax(np.diag(m)))]
        axis = axis / np.linalg.norm(axis)
        return axis * angle
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]]) / (2.0 * np.sin(angle))
    return axis * angle


def inverse_kinematics(
    t_target: np.ndarray,
    q_seed: np.ndarray,
    tol: float = 1e-4,
    max_iters: int = 200,
    damping: float = 1e-2,
) -> tuple[np.ndarray, bool]:
    """Iterative damped-least-squares position IK from a seed (for JointTrajectory targets).

    Returns (q, converged). Joint-limited joints are clamped inside their range each iteration.
    """
    q = as_joint_vector(q_seed).copy()
    lo, hi = JOINT_POSITION_LIMITS[:, 0], JOINT_POSITION_LIMITS[:, 1]
    for _ in range(max_iters):
        err = pose_error(forward_kinematics(q), np.asarray(t_target, dtype=float))
        if np.linalg.norm(err[:3]) < tol and np.linalg.norm(err[3:]) < 10 * tol:
            return q, True
        jac = jacobian(q)
        dq = jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(6), err)
        q = np.clip(q + dq, lo + 1e-6, hi - 1e-6)
    err = pose_error(forward_kinematics(q), np.asarray(t_target, dtype=float))
    return q, bool(np.linalg.norm(err[:3]) < tol and np.linalg.norm(err[3:]) < 10 * tol)
