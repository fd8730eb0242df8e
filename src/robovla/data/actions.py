"""7-D relative end-effector action labels from recorded joint positions.

Labels come from forward kinematics of what the arm actually did (not from the commands), so
teleop by any interface (twist, joystick, kinesthetic) yields the same action convention as the
policy outputs: per-step base_link deltas dx, dy, dz (m), droll, dpitch, dyaw (rad), gripper.
The rotation delta is R_d = R_{t+1} R_t^T (expressed in base_link) written as extrinsic x-y-z
(roll, pitch, yaw) angles, which for a per-step delta equals the rotation vector to first order.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from robovla.control.kinematics import forward_kinematics


def ee_trajectory(joint_q: np.ndarray) -> np.ndarray:
    """(n, 7) joint positions -> (n, 4, 4) base_link -> end_effector_link transforms."""
    return np.stack([forward_kinematics(q) for q in np.asarray(joint_q, dtype=np.float64)])


def relative_actions(poses: np.ndarray, gripper_target: np.ndarray) -> np.ndarray:
    """(n, 4, 4) poses + (n,) gripper target (0/1) -> (n-1, 7) actions; row t moves pose t to t+1.

    gripper_target[t] is the gripper command in force during step t.
    """
    poses = np.asarray(poses, dtype=np.float64)
    n = len(poses)
    if n < 2:
        return np.zeros((0, 7), dtype=np.float32)
    dpos = poses[1:, :3, 3] - poses[:-1, :3, 3]
    r_delta = np.einsum("nij,nkj->nik", poses[1:, :3, :3], poses[:-1, :3, :3])
    drot = Rotation.from_matrix(r_delta).as_euler("xyz")
    grip = np.asarray(gripper_target[: n - 1], dtype=np.float64)[:, None]
    return np.concatenate([dpos, drot, grip], axis=1).astype(np.float32)


def integrate_actions(start_pose: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Inverse of relative_actions (arm part): chain the deltas from start_pose -> (n+1, 4, 4)."""
    poses = [np.asarray(start_pose, dtype=np.float64)]
    for a in np.asarray(actions, dtype=np.float64):
        nxt = np.eye(4)
        nxt[:3, :3] = Rotation.from_euler("xyz", a[3:6]).as_matrix() @ poses[-1][:3, :3]
        nxt[:3, 3] = poses[-1][:3, 3] + a[:3]
        poses.append(nxt)
    return np.stack(poses)
