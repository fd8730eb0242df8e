"""In-process expert demonstrations written as episode bags (the `collect --offline` path)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from robovla.data.align import align_episode
from robovla.data.bag_reader import read_episode_bag
from robovla.sim.recording import record_expert_demo
from robovla.sim.tasks import continue_episode, make_episode


def test_demo_bag_has_the_recorder_layout_and_learnable_labels(env, tmp_path) -> None:
    demo = record_expert_demo(env, tmp_path, "turn_on_light", 3, cameras=("front",), camera_hz=20.0, noise=0.01,
                              approach_jitter=0.02)
    assert demo.success and demo.path == tmp_path / "turn_on_light_00003"
    raw = read_episode_bag(demo.path, image_size=None)
    assert "approach jitter 0.02" in raw.metadata.operator_notes
    assert raw.metadata.success and raw.metadata.finished
    assert raw.metadata.instruction == demo.instruction and raw.instruction == demo.instruction
    assert raw.metadata.extra["task"] == "turn_on_light" and raw.metadata.camera_names == ["front"]
    # rates follow simulation time: 50 Hz joints, 20 Hz camera, commands while the expert acts
    assert np.median(np.diff(raw.joint_t)) == pytest.approx(0.02, abs=1e-6)
    assert np.mean(np.diff(raw.camera_t["front"])) == pytest.approx(0.05, abs=2e-3)
    assert raw.camera_frames["front"].shape[1:] == (224, 224, 3)
    assert len(raw.command_t) > 50 and len(raw.twist_t) == len(raw.command_t)
    assert raw.command_t[0] >= 0.3 - 1e-6  # the lead-in is still: no command before the instruction
    assert demo.duration_s == pytest.approx(raw.joint_t[-1] - raw.joint_t[0] + 0.02, abs=0.05)
    frames = align_episode(raw, 10.0, ["front"])
    path = np.abs(frames.actions[frames.action_valid, :3]).sum(axis=0)
    assert path[2] > 0.1  # the arm went down to the button and back up (> 10 cm of z travel)
    assert frames.actions[:, 6].max() == 1.0  # the gripper closes to press


def test_failed_demo_is_flagged_and_bad_cameras_are_refused(env, tmp_path) -> None:
    old = env.config.max_episode_s
    env.config.max_episode_s = 0.5  # far too short for the task
    try:
        demo = record_expert_demo(env, tmp_path, "open_drawer", 4, cameras=("wrist",))
    finally:
        env.config.max_episode_s = old
    assert not demo.success
    assert not read_episode_bag(demo.path, image_size=None).metadata.success
    with pytest.raises(ValueError, match="not rendered by the sim"):
        record_expert_demo(env, tmp_path, "open_drawer", 5, cameras=("ceiling",))


def test_chain_continuation_can_be_restricted_to_trained_tasks(env) -> None:
    episode = env.reset("open_drawer", 7)
    opened = dataclasses.replace(env.state(), drawer_opening=0.16)
    for seed in range(10):
        nxt = continue_episode(None, np.random.default_rng(seed), opened, episode.layout,
                               candidates=["close_drawer", "turn_on_light", "turn_off_light"])
        assert nxt.task.name in ("close_drawer", "turn_on_light", "turn_off_light")
    with pytest.raises(ValueError, match="no task is feasible"):
        continue_episode(None, np.random.default_rng(0), env.state(), episode.layout, candidates=["close_drawer"])
    assert make_episode("close_drawer", np.random.default_rng(1)).layout.drawer_opening > 0.12
