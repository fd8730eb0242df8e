"""Gen3 kinematics against an independent chain built from the URDF joint origins."""

from __future__ import annotations

import numpy as np
import pytest

from robovla.control import kinematics as kin

# kortex_description gen3 7dof: (xyz, roll about x) of each joint origin, every joint about +z,
# then the fixed bracelet_link -> end_effector_link (0 0 -0.061525, rpy pi 0 0).
URDF_JOINTS = [
    ((0.0, 0.0, 0.15643), np.pi),
    ((0.0, 0.005375, -0.12838), np.pi / 2),
    ((0.0, -0.21038, -0.006375), -np.pi / 2),
    ((0.0, 0.006375, -0.21038), np.pi / 2),
    ((0.0, -0.20843, -0.006375), -np.pi / 2),
    ((0.0, 0.00017505, -0.10593), np.pi / 2),
    ((0.0, -0.10593, -0.00017505), -np.pi / 2),
]


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _tf(rot: np.ndarray, xyz) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = rot
    t[:3, 3] = xyz
    return t


def urdf_fk(q: np.ndarray) -> np.ndarray:
    t = np.eye(4)
    for (xyz, roll), qi in zip(URDF_JOINTS, q):
        t = t @ _tf(_rot_x(roll), xyz) @ _tf(_rot_z(qi), (0, 0, 0))
    return t @ _tf(_rot_x(np.pi), (0.0, 0.0, -0.061525))


def guide_dh_fk(q: np.ndarray) -> np.ndarray:
    """The user guide's DH table with its rounded d values (agrees to < 1 mm)."""
    d = [-0.2848, -0.0118, -0.4208, -0.0128, -0.3143, 0.0, -0.1674]
    alpha = [np.pi / 2] * 6 + [np.pi]
    t = _tf(_rot_x(np.pi), (0, 0, 0))
    for i in range(7):
        theta = q[i] + (0.0 if i == 0 else np.pi)
        t = t @ _tf(_rot_z(theta), (0, 0, 0)) @ _tf(np.eye(3), (0, 0, d[i])) @ _tf(_rot_x(alpha[i]), (0, 0, 0))
    return t


def random_configs(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo = np.where(np.isfinite(kin.JOINT_POSITION_LIMITS[:, 0]), kin.JOINT_POSITION_LIMITS[:, 0], -np.pi)
    hi = np.where(np.isfinite(kin.JOINT_POSITION_LIMITS[:, 1]), kin.JOINT_POSITION_LIMITS[:, 1], np.pi)
    return rng.uniform(lo, hi, size=(n, 7))


def test_constants_shapes() -> None:
    assert kin.GEN3_JOINT_NAMES == tuple(f"joint_{i}" for i in range(1, 8))
    assert kin.JOINT_POSITION_LIMITS.shape == (7, 2)
    assert kin.JOINT_VELOCITY_LIMITS.shape == (7,)
    assert all(np.isinf(kin.JOINT_POSITION_LIMITS[i]).all() for i in (0, 2, 4, 6))
    assert np.allclose(kin.JOINT_POSITION_LIMITS[[1, 3, 5], 1], [2.24, 2.57, 2.09])


def test_fk_zero_configuration_is_straight_up() -> None:
    t = kin.forward_kinematics(np.zeros(7))
    assert np.allclose(t[:3, :3], np.eye(3), atol=1e-9)
    # total height: 0.15643+0.12838+2*0.21038+0.20843+2*0.10593+0.061525
    assert t[2, 3] == pytest.approx(1.187385, abs=1e-6)
    assert t[1, 3] == pytest.approx(-(0.005375 + 0.006375 * 3 + 2 * 0.00017505), abs=1e-6)


@pytest.mark.parametrize("q", list(random_configs(20)))
def test_fk_matches_urdf_chain(q: np.ndarray) -> None:
    t = kin.forward_kinematics(q)
    ref = urdf_fk(q)
    assert np.allclose(t[:3, 3], ref[:3, 3], atol=1e-9)
    assert np.allclose(t[:3, :3], ref[:3, :3], atol=1e-9)
    # the guide's rounded DH table is within 1 mm
    assert np.linalg.norm(guide_dh_fk(q)[:3, 3] - t[:3, 3]) < 1e-3


def test_ee_pose_quaternion_roundtrip() -> None:
    for q in random_configs(10, seed=1):
        pose = kin.ee_pose(q)
        assert pose.shape == (7,)
        assert np.linalg.norm(pose[3:]) == pytest.approx(1.0)
        assert np.allclose(kin.quaternion_to_rotation(pose[3:]), kin.forward_kinematics(q)[:3, :3], atol=1e-9)


@pytest.mark.parametrize("q", list(random_configs(5, seed=2)))
def test_jacobian_matches_finite_differences(q: np.ndarray) -> None:
    jac = kin.jacobian(q)
    eps = 1e-6
    t0 = kin.forward_kinematics(q)
    for i in range(7):
        dq = np.zeros(7)
        dq[i] = eps
        t1 = kin.forward_kinematics(q + dq)
        v = (t1[:3, 3] - t0[:3, 3]) / eps
        w = kin.rotation_vector(t1[:3, :3] @ t0[:3, :3].T) / eps
        assert np.allclose(jac[:3, i], v, atol=1e-5)
        assert np.allclose(jac[3:, i], w, atol=1e-5)


def test_ik_velocity_reproduces_twist() -> None:
    q = kin.HOME_POSITION
    twist = np.array([0.05, -0.02, 0.03, 0.1, -0.05, 0.2])
    qdot = kin.ik_velocity(q, twist)
    assert np.allclose(kin.jacobian(q) @ qdot, twist, atol=1e-4)


def test_ik_velocity_respects_velocity_limits_and_keeps_direction() -> None:
    q = kin.HOME_POSITION
    twist = np.array([2.0, 0.0, 1.0, 0.0, 0.0, 3.0])  # far beyond what the joints allow
    qdot = kin.ik_velocity(q, twist)
    assert np.all(np.abs(qdot) <= kin.JOINT_VELOCITY_LIMITS + 1e-9)
    achieved = kin.jacobian(q) @ qdot
    cos = achieved @ twist / (np.linalg.norm(achieved) * np.linalg.norm(twist))
    assert cos > 0.999
    assert kin.check_joint_velocities(qdot) == []


def test_ik_velocity_bad_input() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        kin.ik_velocity(kin.HOME_POSITION, np.array([np.nan, 0, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="shape"):
        kin.ik_velocity(kin.HOME_POSITION, np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        kin.forward_kinematics(np.zeros(6))


def test_tool_twist_roundtrip_and_direction() -> None:
    q = random_configs(1, seed=3)[0]
    tool = np.array([1.0, 0, 0, 0, 0, 0])
    base = kin.tool_twist_to_base(q, tool)
    assert np.allclose(base[:3], kin.forward_kinematics(q)[:3, 0])
    assert np.allclose(kin.base_twist_to_tool(q, base), tool)


def test_check_joint_limits() -> None:
    assert kin.check_joint_limits(kin.HOME_POSITION) == []
    assert kin.check_joint_limits(np.array([10.0, 0, -10.0, 0, 7.0, 0, 100.0])) == []  # continuous
    bad = kin.check_joint_limits(np.array([0, 2.5, 0, -2.6, 0, 0, 0.0]))
    assert len(bad) == 2 and "joint_2" in bad[0] and "joint_4" in bad[1]
    assert "not finite" in kin.check_joint_limits(np.array([0, np.nan, 0, 0, 0, 0, 0]))[0]
    assert "7 entries" in kin.check_joint_limits(np.zeros(5))[0]


def test_inverse_kinematics_reaches_reachable_pose() -> None:
    q_goal = random_configs(1, seed=4)[0] * 0.5
    target = kin.forward_kinematics(q_goal)
    q, ok = kin.inverse_kinematics(target, q_goal + 0.1)
    assert ok
    assert np.allclose(kin.forward_kinematics(q)[:3, 3], target[:3, 3], atol=1e-4)


def test_ik_velocity_scales_to_the_configured_joint_limits() -> None:
    from robovla.control.kinematics import HOME_POSITION, JOINT_VELOCITY_LIMITS_CONFIGURED, ik_velocity

    fast = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 3.0])  # 3 rad/s about z: beyond every joint limit
    hw = ik_velocity(HOME_POSITION, fast)
    cfg = ik_velocity(HOME_POSITION, fast, limits=JOINT_VELOCITY_LIMITS_CONFIGURED)
    assert np.max(np.abs(cfg)) == pytest.approx(0.8727)
    assert np.max(np.abs(hw)) > 1.2
    np.testing.assert_allclose(cfg / np.linalg.norm(cfg), hw / np.linalg.norm(hw), atol=1e-9)  # direction kept
