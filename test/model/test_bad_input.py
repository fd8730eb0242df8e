"""Bad input gets a clear error naming the problem."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch

from robovla.model import VLAConfig, build_vla, load_vla
from robovla.policy.vla import VLAPolicy
from vla_helpers import make_batch, make_observation, stats, tiny_cfg, window_from


@pytest.fixture(scope="module")
def model():
    return build_vla(tiny_cfg("kosmos2", "policy_head_continuous", window=2), stats())


def test_wrong_image_size(model):
    batch = make_batch(model.cfg)
    batch["images"] = batch["images"][..., :32, :32, :]
    with pytest.raises(ValueError, match="images are 32x32 but the model expects 64x64"):
        model.compute_loss(batch)


def test_wrong_channels(model):
    batch = make_batch(model.cfg)
    batch["images"] = torch.zeros((*batch["images"].shape[:-1], 4), dtype=torch.uint8)
    with pytest.raises(ValueError, match="3 RGB channels"):
        model.compute_loss(batch)


@pytest.mark.parametrize(("images", "match"), [
    ({"front": np.zeros((48, 48, 3), np.uint8)}, "camera 'front' is 48x48, the model expects 64x64"),
    ({"front": np.zeros((64, 64, 4), np.uint8)}, "camera 'front' must be HxWx3 RGB"),
    ({"front": np.zeros((64, 64, 3), np.float32)}, "must be uint8"),
    ({"wrist": np.zeros((64, 64, 3), np.uint8)}, "no image for camera 'front'"),
], ids=["size", "channels", "dtype", "missing_camera"])
def test_policy_rejects_bad_frames(model, images, match):
    bad = dataclasses.replace(make_observation(model.cfg, 0.0, 0), images=images)
    with pytest.raises(ValueError, match=match):
        VLAPolicy(model).step(window_from([bad], 2), "lift it")


def test_wrong_camera_count(model):
    batch = make_batch(model.cfg)
    batch["images"] = batch["images"].repeat(1, 1, 2, 1, 1, 1)
    with pytest.raises(ValueError, match="2 camera"):
        model.compute_loss(batch)


@pytest.mark.parametrize("instruction", ["", "   "])
def test_empty_instruction(model, instruction):
    with pytest.raises(ValueError, match="instruction is empty"):
        VLAPolicy(model).step(window_from([make_observation(model.cfg, 0.0, 0)], 2), instruction)
    batch = make_batch(model.cfg)
    batch["instruction"] = ["pick", instruction]
    with pytest.raises(ValueError, match="instruction is empty"):
        model.compute_loss(batch)


def test_batch_missing_key_and_short_chunk(model):
    batch = make_batch(model.cfg)
    del batch["valid"]
    with pytest.raises(KeyError, match="valid"):
        model.compute_loss(batch)
    batch = make_batch(model.cfg)
    batch["actions"] = batch["actions"][:, :, :1]
    with pytest.raises(ValueError, match="chunks of 2"):
        model.compute_loss(batch)


@pytest.mark.parametrize("victim", ["model.safetensors", "action_stats.json", "vla_config.yaml", "tokenizer"])
def test_checkpoint_missing_file(model, tmp_path, victim):
    model.save_checkpoint(tmp_path)
    target = tmp_path / victim
    if target.is_dir():
        for f in target.iterdir():
            f.unlink()
        target.rmdir()
    else:
        os.remove(target)
    with pytest.raises(FileNotFoundError, match=f"missing {victim}"):
        load_vla(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_vla(tmp_path / "nope")


def test_unknown_backbone():
    with pytest.raises(ValueError, match="unknown backbone 'openflamingo'"):
        VLAConfig(backbone="openflamingo")
    with pytest.raises(ValueError, match="unknown dtype"):
        VLAPolicy(build_vla(tiny_cfg("smolvlm"), stats()), dtype="int3")
