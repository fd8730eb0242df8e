"""Windows and chunks built from bags carry labels that match the recorded motion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from robovla.control.kinematics import forward_kinematics
from robovla.data.actions import ee_trajectory, integrate_actions, relative_actions
from robovla.data.dataset import (
    DataConfig,
    WindowDataset,
    collate,
    episode_actions,
    load_episodes,
    split_episodes,
)
from robovla.data.synthetic import joint_trajectory
from robovla.model.action_space import ActionStats

RATE = 10.0


@pytest.fixture(scope="module")
def cfg(bag_root: Path, tmp_path_factory: pytest.TempPathFactory) -> DataConfig:
    return DataConfig(rate_hz=RATE, window=4, chunk=3, image_size=32, cameras=["front", "wrist"],
                      cache_dir=str(tmp_path_factory.mktemp("cache")), val_fraction=0.25)


@pytest.fixture(scope="module")
def episodes(bag_root: Path, cfg: DataConfig) -> list:
    rep = load_episodes(bag_root, cfg)
    assert rep.problems == []
    return rep.episodes


def test_labels_match_recorded_motion(episodes: list) -> None:
    ep = next(e for e in episodes if e.episode_id == "ep2")
    assert len(ep) == 31  # 3 s at 10 Hz, both ends included
    t = ep.timestamps - ep.timestamps[0]
    q_true = joint_trajectory(t, seed=2)
    # joints were recorded at 50 Hz: the 10 Hz resampling lands on recorded samples
    np.testing.assert_allclose(ep.state[:, :7], q_true, atol=1e-5)
    poses = np.stack([forward_kinematics(q) for q in q_true])
    np.testing.assert_allclose(ep.actions[:-1, :3], poses[1:, :3, 3] - poses[:-1, :3, 3], atol=1e-5)
    # chaining the labels reproduces the recorded end-effector path (position and orientation)
    chained = integrate_actions(poses[0], ep.actions[:-1])
    np.testing.assert_allclose(chained[:, :3, 3], poses[:, :3, 3], atol=1e-4)
    np.testing.assert_allclose(chained[:, :3, :3], poses[:, :3, :3], atol=1e-4)
    assert np.abs(ep.actions[:-1, :6]).max() > 1e-3  # the arm really moved
    # gripper: commanded closed in the middle third of the episode
    assert set(np.unique(ep.actions[:-1, 6])) == {0.0, 1.0}
    assert ep.actions[15, 6] == 1.0 and ep.actions[2, 6] == 0.0 and ep.actions[28, 6] == 0.0
    assert ep.action_valid.sum() == 30 and not ep.action_valid[-1]


def test_images_are_sample_and_hold_aligned(episodes: list) -> None:
    ep = next(e for e in episodes if e.episode_id == "ep0")
    assert ep.images.shape == (31, 2, 32, 32, 3)
    assert ep.camera_names == ["front", "wrist"]
    # the camera ran at 15 Hz; tick i (10 Hz) shows camera frame floor(i * 1.5); its blue channel is 7*frame
    blue = ep.images[:, 0, 16, 16, 2].astype(int)
    expected = (np.floor(np.arange(31) * 1.5 + 1e-9).astype(int) * 7) % 256
    assert np.abs(blue - expected).max() <= 2  # INTER_AREA resize of a constant channel


def test_relative_actions_rotation_convention() -> None:
    from scipy.spatial.transform import Rotation

    p0 = np.eye(4)
    p1 = np.eye(4)
    p1[:3, :3] = Rotation.from_euler("xyz", [0.01, -0.02, 0.03]).as_matrix()
    p1[:3, 3] = [0.1, 0.2, -0.3]
    a = relative_actions(np.stack([p0, p1]), np.array([1.0]))
    np.testing.assert_allclose(a[0], [0.1, 0.2, -0.3, 0.01, -0.02, 0.03, 1.0], atol=1e-6)
    assert ee_trajectory(np.zeros((2, 7))).shape == (2, 4, 4)


def test_windows_chunks_masks(episodes: list) -> None:
    ds = WindowDataset(episodes, window=4, chunk=3)
    assert len(ds) == sum(int(e.action_valid.sum()) for e in episodes)
    s = ds[0]  # window ending at frame 0 of the first episode
    assert s["images"].shape == (4, 2, 32, 32, 3) and s["images"].dtype == torch.uint8
    assert s["state"].shape == (4, 8) and s["state"].dtype == torch.float32
    assert s["actions"].shape == (4, 3, 7) and s["action_mask"].shape == (4, 3)
    assert s["valid"].tolist() == [False, False, False, True]
    assert torch.equal(s["images"][0], s["images"][3])  # padding repeats the oldest real frame
    assert not s["action_mask"][:3].any() and s["action_mask"][3].all()
    ep = episodes[0]
    np.testing.assert_array_equal(s["actions"][3].numpy(), ep.actions[0:3])
    last = ds[int(ep.action_valid.sum()) - 1]  # window ending at the last labelled frame
    assert last["valid"].all()
    assert last["action_mask"][-1].tolist() == [True, False, False]
    assert last["action_mask"][-2].tolist() == [True, True, False]
    assert (last["actions"][-1, 1:] == 0).all()
    batch = next(iter(DataLoader(ds, batch_size=5, collate_fn=collate)))
    assert batch["images"].shape == (5, 4, 2, 32, 32, 3)
    assert batch["instruction"] == [ep.instruction] * 5


def test_split_by_episode_and_action_stats(episodes: list) -> None:
    train, val = split_episodes(episodes, 0.25, seed=0)
    assert len(train) == 3 and len(val) == 1
    assert {e.episode_id for e in train}.isdisjoint({e.episode_id for e in val})
    assert split_episodes(episodes, 0.25, seed=0)[1][0].episode_id == val[0].episode_id  # stable
    acts = episode_actions(train)
    assert acts.shape == (90, 7)
    stats = ActionStats.from_actions(acts)
    norm = stats.normalize(acts)
    assert norm[:, :6].min() >= -1 and norm[:, :6].max() <= 1
    assert set(np.unique(norm[:, 6])) == {0.0, 1.0}


def test_cache_reuses_decoded_frames(bag_root: Path, cfg: DataConfig, episodes: list) -> None:
    again = load_episodes(bag_root, cfg).episodes
    assert isinstance(again[0].images, np.memmap)  # served from the cache, not re-decoded
    for a, b in zip(episodes, again):
        np.testing.assert_array_equal(np.asarray(a.images), np.asarray(b.images))
        np.testing.assert_array_equal(a.actions, b.actions)
