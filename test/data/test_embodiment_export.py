"""Panda demonstrations from the sim: bags that name the robot, exported to LeRobot and read back."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from robovla.data.bag_reader import read_episode_bag  # noqa: E402
from robovla.data.dataset import DataConfig, load_episodes  # noqa: E402
from robovla.data.lerobot import export_lerobot, import_lerobot  # noqa: E402
from robovla.data.robots import PANDA, robot_type_for  # noqa: E402


@pytest.fixture(scope="module")
def panda_bags(tmp_path_factory: pytest.TempPathFactory):
    from robovla.sim.config import SimConfig
    from robovla.sim.env import Gen3SimEnv
    from robovla.sim.recording import record_expert_demo

    root = tmp_path_factory.mktemp("panda_bags")
    with Gen3SimEnv(SimConfig(embodiment="panda", image_size=64)) as env:
        demos = [record_expert_demo(env, root, task, seed, cameras=("front", "wrist"), camera_hz=15.0)
                 for task, seed in (("lift_block", 0), ("turn_on_light", 1))]
    assert all(d.success for d in demos)
    return root, demos


def test_panda_bags_name_the_robot_and_its_joints(panda_bags) -> None:
    _, demos = panda_bags
    raw = read_episode_bag(demos[0].path, image_size=None)
    assert raw.metadata.robot == "franka_panda_7dof+franka_hand (mujoco sim)"
    assert robot_type_for(raw.metadata.robot) == "franka_panda"
    assert raw.joint_q.shape[1] == 7
    assert raw.joint_q[:, 3].max() < -0.0698 + 1e-6  # Panda joint 4 range, not a Gen3 configuration
    assert raw.gripper[0] == pytest.approx(0.0, abs=0.02) and raw.gripper.max() > 0.4  # open, then on the cube


def test_panda_dataset_round_trips_through_lerobot(panda_bags, tmp_path) -> None:
    root, demos = panda_bags
    report = load_episodes([root], DataConfig(rate_hz=10.0, image_size=64, cameras=["front", "wrist"],
                                              cache_dir=str(tmp_path / "cache")))
    assert len(report.episodes) == 2 and not report.problems
    ep = report.episodes[0]
    assert ep.actions.shape[1] == 7 and ep.state.shape[1] == 8
    assert np.abs(ep.actions[ep.action_valid, :3]).sum() > 0.05  # end-effector deltas, as for the Gen3
    out = export_lerobot(report.episodes, tmp_path / "lerobot", fps=10, use_videos=False)
    import json

    assert json.loads((out / "meta" / "info.json").read_text())["robot_type"] == PANDA.robot_type
    back = import_lerobot(out, cameras=["front", "wrist"], image_size=64)
    assert len(back) == 2 and back[0].metadata["robot"] == "franka_panda"
    np.testing.assert_allclose(back[0].state, report.episodes[0].state, atol=1e-6)
    with pytest.raises(ValueError, match="several robots"):
        from dataclasses import replace

        gen3_like = replace(report.episodes[1], metadata={**report.episodes[1].metadata,
                                                          "robot": "kinova_gen3_7dof+robotiq_2f_85"})
        export_lerobot([report.episodes[0], gen3_like], tmp_path / "mixed", fps=10, use_videos=False)
