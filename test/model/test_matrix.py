"""Every backbone x formulation on tiny random configs of the real transformers classes:
forward/backward, save -> load identical outputs, and step() == the training forward."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from robovla.model import BACKBONES, FORMULATIONS, build_vla, load_vla
from robovla.policy.vla import VLAPolicy
from vla_helpers import make_batch, make_observation, stats, tiny_cfg, window_from, window_to_batch

COMBOS = list(itertools.product(BACKBONES, FORMULATIONS))


@pytest.fixture(scope="module")
def built(model_cache):
    def get(backbone: str, formulation: str):
        key = (backbone, formulation)
        if key not in model_cache:
            cfg = tiny_cfg(backbone, formulation, window=1 if formulation.startswith("one_step") else 3)
            model_cache[key] = build_vla(cfg, stats())
        return model_cache[key]

    return get


@pytest.mark.parametrize("backbone,formulation", COMBOS)
def test_forward_backward(built, backbone, formulation):
    model = built(backbone, formulation)
    model.train()
    batch = make_batch(model.cfg, b=2, t=3)
    model.zero_grad()
    out = model.compute_loss(batch)
    assert set(out) >= {"loss", "arm_loss", "gripper_loss", "gripper_acc", "action_mse"}
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"]) and out["loss"] > 0
    assert all(isinstance(out[k], float) for k in ("arm_loss", "gripper_loss", "gripper_acc", "action_mse"))
    out["loss"].backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert all(g is None or torch.isfinite(g).all() for g in grads.values())
    # gradients reach the vision tower (through the VLM) and, for continuous, the action token and head
    vision = [p for _, p in model.backbone.vision_parameters()]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in vision), "no gradient in the vision tower"
    if not model.cfg.is_discrete:
        assert model.backbone.act_embed.grad.abs().sum() > 0


@pytest.mark.parametrize("backbone,formulation", COMBOS)
def test_save_load_identical(built, backbone, formulation, tmp_path):
    model = built(backbone, formulation).eval()
    batch = make_batch(model.cfg, b=2, t=3, seed=3)
    before = model.predict(batch["images"], batch["valid"], batch["instruction"])
    model.save_checkpoint(tmp_path / "ckpt")
    loaded = load_vla(tmp_path / "ckpt").eval()
    after = loaded.predict(batch["images"], batch["valid"], batch["instruction"])
    assert torch.equal(before, after)
    with torch.no_grad():
        torch.manual_seed(0)
        l1 = model.compute_loss(batch)["loss"]
        torch.manual_seed(0)
        l2 = loaded.compute_loss(batch)["loss"]
    assert torch.equal(l1, l2)
    assert loaded.action_stats.to_dict() == model.action_stats.to_dict()


@pytest.mark.parametrize("backbone,formulation", COMBOS)
def test_step_equals_training_forward(built, backbone, formulation):
    model = built(backbone, formulation).eval()
    cfg = model.cfg
    policy = VLAPolicy(model)
    policy.reset()
    obs = [make_observation(cfg, stamp=0.1 * i, seed=i) for i in range(4)]
    instruction = "pick up the red block"
    for i in range(1, len(obs) + 1):
        window = window_from(obs[:i], cfg.window)
        chunk = policy.step(window, instruction)
    assert chunk.actions.shape == (cfg.chunk, 7) and chunk.dt == pytest.approx(cfg.dt)
    images = window_to_batch(window, cfg)
    valid = torch.as_tensor(window.valid).unsqueeze(0)
    ref = model.predict(images, valid, [instruction])[0].numpy()
    np.testing.assert_allclose(chunk.actions, ref, atol=1e-5)
    # The training loss evaluated on the step's own output as label is (near) zero error:
    # the training forward predicts exactly what step() returned.
    t = images.shape[1]
    actions = torch.from_numpy(chunk.actions).view(1, 1, cfg.chunk, 7).repeat(1, t, 1, 1)
    mask = torch.zeros(1, t, cfg.chunk, dtype=torch.bool)
    mask[0, -1] = True
    batch = {"images": images, "actions": actions, "action_mask": mask, "valid": valid, "instruction": [instruction]}
    with torch.no_grad():
        out = model.compute_loss(batch)
    assert out["action_mse"] < 1e-8
    assert out["gripper_acc"] == 1.0
