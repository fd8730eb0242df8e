"""Gen3SimEnv: driver-like command semantics, limits, gripper, reset and rendering."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from robovla.control import kinematics as kin
from robovla.sim.config import SimConfig
from robovla.sim.rollout import run_expert_episode


def _ee(env) -> np.ndarray:
    return kin.forward_kinematics(env.joint_positions())


def test_twist_along_tool_x_moves_along_tool_x(env) -> None:
    env.reset(None, seed=1)
    t0 = _ee(env)
    assert env.apply_twist([0.05, 0.0, 0.0], [0.0, 0.0, 0.0])
    env.step(50)  # 1 s
    env.stop()
    disp = _ee(env)[:3, 3] - t0[:3, 3]
    tool_x = t0[:3, 0]
    assert np.linalg.norm(disp) == pytest.approx(0.05, rel=0.2)
    assert disp @ tool_x / np.linalg.norm(disp) > 0.99


def test_angular_twist_is_in_degrees_per_second(env) -> None:
    env.reset(None, seed=2)
    t0 = _ee(env)
    env.apply_twist([0.0, 0.0, 0.0], [0.0, 0.0, 20.0])  # 20 deg/s about tool z for 1 s
    env.step(50)
    env.stop()
    t1 = _ee(env)
    rotvec = kin.rotation_vector(t0[:3, :3].T @ t1[:3, :3])  # in the initial tool frame
    assert rotvec[2] == pytest.approx(np.deg2rad(20.0), rel=0.15)
    assert np.linalg.norm(rotvec[:2]) < 0.02
    assert np.linalg.norm(t1[:3, 3] - t0[:3, 3]) < 0.005


def test_twist_persists_without_timeout(env) -> None:
    env.reset(None, seed=3)
    p0 = _ee(env)[:3, 3]
    env.apply_twist([0.0, 0.0, -0.04], [0, 0, 0])  # tool z points down, so this rises
    env.step(25)
    p1 = _ee(env)[:3, 3]
    env.step(25)  # no new command: still moving
    p2 = _ee(env)[:3, 3]
    env.stop()
    assert np.linalg.norm(p1 - p0) > 0.01 and np.linalg.norm(p2 - p1) > 0.01


def test_nan_twist_is_refused_and_stops_the_arm(env, caplog) -> None:
    env.reset(None, seed=4)
    env.apply_twist([0.05, 0, 0], [0, 0, 0])
    env.step(5)
    with caplog.at_level(logging.ERROR, logger="robovla.sim.env"):
        assert not env.apply_twist([np.nan, 0, 0], [0, 0, 0])
    assert "non-finite" in caplog.text
    env.step(10)  # let the servo settle
    p0 = _ee(env)[:3, 3]
    env.step(25)
    assert np.linalg.norm(_ee(env)[:3, 3] - p0) < 1e-3


def test_over_limit_twist_is_clipped_to_driver_limits(env, caplog) -> None:
    env.reset(None, seed=5)
    with caplog.at_level(logging.WARNING, logger="robovla.sim.env"):
        assert env.apply_twist([0.0, 3.0, 0.0], [0.0, 0.0, 0.0])
        assert env.apply_twist([0.0, 0.0, 0.0], [0.0, 0.0, 500.0])
    assert "clipped to 0.500" in caplog.text and "clipped to 1.740" in caplog.text
    env.apply_twist([0.0, 3.0, 0.0], [0.0, 0.0, 0.0])
    p0 = _ee(env)[:3, 3]
    env.step(5)  # 0.1 s
    env.stop()
    assert np.linalg.norm(_ee(env)[:3, 3] - p0) / 0.1 < 0.5 * 1.1


def test_joint_trajectory_follows_and_refuses_bad_points(env, caplog) -> None:
    env.reset(None, seed=6)
    q0 = env.joint_positions()
    goal = q0 + np.array([0.2, 0.0, 0.0, 0.1, 0.0, 0.0, -0.2])
    assert env.apply_joint_trajectory(goal[None], [1.0])
    env.step(75)
    assert np.allclose(env.joint_positions(), goal, atol=0.01)

    beyond = goal.copy()
    beyond[1] = 2.5  # joint_2 limit is 2.24
    with caplog.at_level(logging.ERROR, logger="robovla.sim.env"):
        assert not env.apply_joint_trajectory(beyond[None], [5.0])
        assert not env.apply_joint_trajectory((goal + 1.0)[None], [0.1])  # a jump the arm would fault on
        assert not env.apply_joint_trajectory(goal[None], [-1.0])
        assert not env.apply_joint_trajectory(np.full((1, 7), np.nan), [1.0])
    assert "joint_2" in caplog.text and "rad/s" in caplog.text and "increasing" in caplog.text
    before = env.joint_positions()
    env.step(25)
    assert np.allclose(env.joint_positions(), before, atol=2e-3)


def test_gripper_grasps_and_lifts_a_block(env) -> None:
    result = run_expert_episode(env, "lift_block", seed=0)
    assert result.success
    color = env.episode.params["colors"][0]
    state = env.state()
    assert state.grasped[color]
    assert state.blocks[color].pos[2] > 0.07
    assert 0.2 < env.gripper_knuckle() < 0.8  # stopped by the block, not fully closed


def test_gripper_command_limits(env, caplog) -> None:
    env.reset(None, seed=7)
    with caplog.at_level(logging.WARNING, logger="robovla.sim.env"):
        assert not env.gripper_command(float("nan"))
        assert env.gripper_command(1.5)
    assert "not finite" in caplog.text and "clipped" in caplog.text
    env.step(40)
    assert env.gripper_knuckle() == pytest.approx(0.8, abs=0.02)
    env.gripper_command(0.0)
    env.step(40)
    assert env.gripper_knuckle() == pytest.approx(0.0, abs=0.02)


def test_reset_during_motion_is_clean(env) -> None:
    first = env.reset("stack_blocks", seed=11)
    ref = env.state()
    env.apply_twist([0.1, 0.1, 0.0], [0, 0, 30.0])
    env.gripper_command(0.8)
    env.step(20)
    again = env.reset("stack_blocks", seed=11)
    state = env.state()
    assert again.instruction == first.instruction
    assert np.allclose(state.q, ref.q, atol=1e-9)
    for c in ref.blocks:
        assert np.allclose(state.blocks[c].pos, ref.blocks[c].pos, atol=1e-9)
    assert env.gripper_knuckle() < 1e-3
    env.step(25)  # nothing left over from before the reset
    assert np.allclose(env.joint_positions(), ref.q, atol=2e-3)


def test_render_two_cameras(env) -> None:
    env.reset("lift_block", seed=0)
    frames = env.render()
    assert set(frames) == {"front", "wrist"}
    for img in frames.values():
        assert img.shape == (224, 224, 3) and img.dtype == np.uint8
        assert img.std() > 10  # a real picture, not a blank buffer
    assert not np.array_equal(frames["front"], frames["wrist"])
    with pytest.raises(ValueError, match="unknown camera"):
        env.render(("top",))


def test_sim_config_yaml_and_validation(tmp_path) -> None:
    cfg = SimConfig.from_yaml("config/sim.yaml")
    assert cfg.substeps == 10 and cfg.control_dt == pytest.approx(0.02)
    bad = tmp_path / "bad.yaml"
    bad.write_text("sim:\n  physics_dtt: 0.001\n")
    with pytest.raises(ValueError, match="physics_dtt"):
        SimConfig.from_yaml(bad)
    with pytest.raises(ValueError, match="whole number"):
        SimConfig(physics_dt=0.003, control_hz=50.0)
