"""Post-training adaptation (another embodiment), the other heads, and preprocessing parity."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from robovla.model import ActionStats, build_vla, load_vla
from robovla.policy.vla import VLAPolicy
from vla_helpers import make_batch, make_observation, stats, tiny_cfg, window_from


def test_adapt_to_other_embodiment(tmp_path, caplog):
    src = build_vla(tiny_cfg("kosmos2", chunk=2), stats())
    src.save_checkpoint(tmp_path / "src")
    new_stats = ActionStats.from_actions(np.random.default_rng(5).uniform(-0.1, 0.1, (50, 7)))
    with caplog.at_level(logging.WARNING, logger="robovla.model.checkpoint"):
        model = load_vla(tmp_path / "src", adapt_config=tiny_cfg("kosmos2", chunk=5), action_stats=new_stats)
    assert "re-initialised" in caplog.text and "head.decoder.arm" in caplog.text
    assert "backbone" not in caplog.text.split("re-initialised")[1].split(";")[0]  # backbone fits
    src_sd, new_sd = src.state_dict(), model.state_dict()
    assert torch.equal(src_sd["backbone.act_embed"], new_sd["backbone.act_embed"])
    assert torch.equal(src_sd["head.lstm.weight_ih_l0"], new_sd["head.lstm.weight_ih_l0"])
    assert new_sd["head.decoder.arm.2.weight"].shape[0] == 5 * 6
    assert model.action_stats.to_dict() == new_stats.to_dict()
    out = model.compute_loss(make_batch(model.cfg))
    out["loss"].backward()
    with pytest.raises(ValueError, match="holds a kosmos2 backbone"):
        load_vla(tmp_path / "src", adapt_config=tiny_cfg("paligemma"))


@pytest.mark.parametrize("head", ["mlp", "gpt", "flow"])
def test_heads_train_and_step(head):
    model = build_vla(tiny_cfg("smolvlm", "policy_head_continuous", head=head, window=3), stats())
    out = model.compute_loss(make_batch(model.cfg))
    out["loss"].backward()
    assert all(p.grad is not None for p in model.head.parameters() if p.requires_grad)
    model.eval()
    policy = VLAPolicy(model)
    obs = [make_observation(model.cfg, 0.1 * i, i) for i in range(4)]
    a = policy.step(window_from(obs, 3), "lift it").actions
    b = policy.step(window_from(obs, 3), "lift it").actions
    np.testing.assert_allclose(a, b)  # deterministic (flow samples from a fixed seed)
    assert np.isfinite(a).all()


def test_gpt_head_ignores_padding_frames():
    model = build_vla(tiny_cfg("paligemma", head="gpt", window=3), stats()).eval()
    feats = torch.randn(1, 3, model.backbone.hidden_size)
    valid = torch.tensor([[False, True, True]])
    other = feats.clone()
    other[0, 0] += 5.0
    a = model.predict_normalized_from_features(feats, valid)
    b = model.predict_normalized_from_features(other, valid)
    torch.testing.assert_close(a, b)


def test_qwen_patches_match_hf_image_processor():
    from PIL import Image

    model = build_vla(tiny_cfg("qwen2_vl", window=1), stats())
    bb = model.backbone
    img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ours, grid = bb.flatten_patches(bb.preprocess(torch.from_numpy(img)[None]))
    ref = bb.image_processor(images=[Image.fromarray(img)], return_tensors="pt")
    assert torch.equal(grid, ref["image_grid_thw"])
    torch.testing.assert_close(ours, ref["pixel_values"].float(), atol=2e-2, rtol=0)


def test_siglip_normalisation_matches_hf_image_processor():
    from PIL import Image

    bb = build_vla(tiny_cfg("paligemma", window=1), stats()).backbone
    img = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ref = bb.image_processor(images=[Image.fromarray(img)], return_tensors="pt")["pixel_values"]
    torch.testing.assert_close(bb.preprocess(torch.from_numpy(img)[None]), ref.float(), atol=1e-2, rtol=0)
