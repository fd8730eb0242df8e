"""Sim embodiments: the Gen3 scene unchanged, the Panda's kinematics, scene and expert."""

from __future__ import annotations

import hashlib

import mujoco
import numpy as np
import pytest

from robovla.control import kinematics as kin
from robovla.sim import scene
from robovla.sim.config import SimConfig
from robovla.sim.embodiment import GEN3, PANDA, PANDA_CHAIN, DHChain, get_embodiment
from robovla.sim.env import Gen3SimEnv
from robovla.sim.rollout import run_expert_episode

#: Recorded from the scene and env before embodiments existed (commit fb4b07f).
GEN3_MJCF_SHA256 = "cd0e44aed3db3e68b5e02cb2e7dc79e917bf7db63f8790525b62c42b41996b22"
GEN3_LIFT3_Q = [-0.15772750588876053, 0.533348094255655, 3.2295994646644024, -2.010460285827087,
                -0.07757095805627885, -0.6010893034464092, -0.769519195398166]
GEN3_LIFT3_TCP = [0.38974998060717037, 0.03772807946918699, 0.09011797136070349]


@pytest.fixture(scope="module")
def panda_env():
    e = Gen3SimEnv(SimConfig(embodiment="panda"))
    yield e
    e.close()


def _random_q(rng: np.random.Generator, limits: np.ndarray) -> np.ndarray:
    return rng.uniform(limits[:, 0] + 0.05, limits[:, 1] - 0.05)


def test_gen3_scene_and_rollout_are_unchanged(env) -> None:
    assert hashlib.sha256(scene.build_mjcf().encode()).hexdigest() == GEN3_MJCF_SHA256
    assert scene.build_mjcf(embodiment=GEN3) == scene.build_mjcf()
    assert env.embodiment is GEN3
    r = run_expert_episode(env, "lift_block", 3, max_steps=60)
    # bit-for-bit on the machine that recorded them; a tolerance for other CPUs / MuJoCo builds
    np.testing.assert_allclose(env.joint_positions(), GEN3_LIFT3_Q, rtol=0, atol=1e-9)
    np.testing.assert_allclose(env.state().tcp_pos, GEN3_LIFT3_TCP, rtol=0, atol=1e-9)
    assert len(r.actions) == 60


def test_generic_dh_chain_reproduces_the_gen3_kinematics() -> None:
    gen3 = DHChain(a=(0.0,) * 7, d=tuple(kin.DH_D), alpha=tuple(kin.DH_ALPHA), theta_offset=tuple(kin.DH_THETA_OFFSET),
                   joint_names=kin.GEN3_JOINT_NAMES, position_limits=kin.JOINT_POSITION_LIMITS,
                   velocity_limits=kin.JOINT_VELOCITY_LIMITS, base=kin.BASE_TO_FRAME0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.uniform(-np.pi, np.pi, 7)
        np.testing.assert_allclose(gen3.forward_kinematics(q), kin.forward_kinematics(q), atol=1e-12)
        np.testing.assert_allclose(gen3.jacobian(q), kin.jacobian(q), atol=1e-12)


def test_panda_published_poses() -> None:
    # zero pose: flange at a7 = 0.088 forward, 0.333 + 0.316 + 0.384 - 0.107 = 0.926 up, pointing down
    t = PANDA_CHAIN.forward_kinematics(np.zeros(7))
    np.testing.assert_allclose(t[:3, 3], [0.088, 0.0, 0.926], atol=1e-9)
    np.testing.assert_allclose(t[:3, 2], [0.0, 0.0, -1.0], atol=1e-9)
    # Franka's "ready" pose puts the hand down with its fingers closing along base y
    ready = PANDA_CHAIN.forward_kinematics(np.array([0, -np.pi / 4, 0, -3 * np.pi / 4, 0, np.pi / 2, np.pi / 4]))
    np.testing.assert_allclose(ready[:3, :3], np.diag([1.0, -1.0, -1.0]), atol=1e-9)
    np.testing.assert_allclose(ready[:3, 3], [0.3069, 0.0, 0.5903], atol=1e-3)


def test_panda_fk_matches_the_mujoco_bodies(panda_env) -> None:
    m, d = panda_env.model, mujoco.MjData(panda_env.model)
    tcp = m.site("tcp").id
    ee = m.body("end_effector_link").id
    rng = np.random.default_rng(1)
    for _ in range(10):
        q = _random_q(rng, PANDA.joint_position_limits)
        d.qpos[panda_env._arm_qadr] = q
        mujoco.mj_kinematics(m, d)
        t = PANDA_CHAIN.forward_kinematics(q)
        np.testing.assert_allclose(d.xpos[ee], t[:3, 3], atol=1e-9)
        np.testing.assert_allclose(d.xmat[ee].reshape(3, 3), t[:3, :3], atol=1e-9)
        np.testing.assert_allclose(d.site_xpos[tcp], t[:3, 3] + t[:3, 2] * PANDA.tcp_offset, atol=1e-9)


def test_panda_jacobian_matches_finite_differences() -> None:
    rng = np.random.default_rng(2)
    eps = 1e-6
    for _ in range(5):
        q = _random_q(rng, PANDA.joint_position_limits)
        t0 = PANDA_CHAIN.forward_kinematics(q)
        num = np.zeros((6, 7))
        for j in range(7):
            dq = np.zeros(7)
            dq[j] = eps
            t1 = PANDA_CHAIN.forward_kinematics(q + dq)
            num[:, j] = kin.pose_error(t0, t1) / eps
        np.testing.assert_allclose(PANDA_CHAIN.jacobian(q), num, atol=1e-5)


def test_panda_limits_in_scene_kinematics_and_commands(panda_env) -> None:
    m = panda_env.model
    for i, name in enumerate(PANDA.joint_names):
        np.testing.assert_allclose(m.jnt_range[m.joint(name).id], PANDA.joint_position_limits[i])
    q = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])  # joint 4 must stay below -0.0698
    assert any("panda_joint4" in p for p in PANDA_CHAIN.check_joint_limits(q))
    qdot = PANDA_CHAIN.ik_velocity(panda_env.joint_positions(), np.array([5.0, 0, 0, 0, 0, 0]))
    assert np.all(np.abs(qdot) <= PANDA.joint_velocity_limits + 1e-9)
    panda_env.reset("lift_block", 0)
    start = panda_env.joint_positions()
    too_fast = start + np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    assert not panda_env.apply_joint_trajectory(too_fast[None], np.array([0.3]))  # 3.3 rad/s > 2.61
    assert panda_env.apply_joint_trajectory(too_fast[None], np.array([0.5]))  # 2 rad/s is allowed
    assert panda_env.gripper_joint_position() == pytest.approx(0.04, abs=1e-3)  # open: 4 cm per finger
    with pytest.raises(ValueError, match="unknown embodiment"):
        get_embodiment("ur5")
    with pytest.raises(ValueError, match="unknown embodiment"):
        SimConfig.from_dict({"embodiment": "ur5"})


def test_panda_scene_differs_from_the_gen3(panda_env) -> None:
    m = panda_env.model
    assert SimConfig.from_dict({"embodiment": "panda"}).to_dict()["embodiment"] == "panda"
    assert m.joint("panda_joint1").id >= 0 and m.body("panda_leftfinger").id >= 0
    g = mujoco.MjModel.from_xml_string(scene.build_mjcf())
    assert not np.allclose(m.cam("front").pos, g.cam("front").pos)
    assert not np.allclose(m.cam_pos[m.cam("wrist").id], g.cam_pos[g.cam("wrist").id])
    assert PANDA.robot_type == "franka_panda" and GEN3.robot_type == "kinova_gen3"


@pytest.mark.parametrize("task,seed", [("lift_block", 0), ("open_drawer", 1), ("turn_on_light", 2),
                                       ("place_in_bowl", 3)])
def test_expert_solves_tasks_with_the_panda(panda_env, task: str, seed: int) -> None:
    assert run_expert_episode(panda_env, task, seed).success
