"""Fine-tuning modes: LoRA trains only the adapters (+ action token and head), frozen vision."""

from __future__ import annotations

import pytest
import torch

from robovla.model import build_vla, load_vla
from vla_helpers import make_batch, stats, tiny_cfg


def _train_step(model, batch):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = model.compute_loss(batch)
    opt.zero_grad()
    out["loss"].backward()
    opt.step()
    return {n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())}


@pytest.mark.parametrize("backbone", ["paligemma", "kosmos2", "qwen2_5_vl", "smolvlm"])
def test_lora_trains_only_adapters(backbone, tmp_path):
    model = build_vla(tiny_cfg(backbone, finetune="lora", lora_r=4), stats())
    counts = model.parameter_counts()
    assert 0 < counts["trainable"] < counts["total"]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert all("lora_" in n or n.startswith("head.") or n == "backbone.act_embed" for n in trainable)
    assert any("lora_" in n for n in trainable)
    # language only: no adapter inside the vision tower
    vision_keys = model.backbone.vision_module_keys
    assert not any("lora_" in n and any(k in n for k in vision_keys) for n in trainable)
    changed = _train_step(model, make_batch(model.cfg))
    assert changed, "nothing was updated"
    assert changed <= trainable
    assert any("lora_B" in n for n in changed)  # LoRA B starts at zero and must move
    model.save_checkpoint(tmp_path / "c")
    loaded = load_vla(tmp_path / "c")
    assert loaded.parameter_counts() == counts


def test_lora_on_vision_too():
    model = build_vla(tiny_cfg("paligemma", finetune="lora", lora_targets="language_vision"), stats())
    names = model.lora_module_names
    assert any("vision_tower" in n for n in names) and any("language_model" in n for n in names)


def test_lora_unknown_module_names_the_problem():
    with pytest.raises(ValueError, match="no Linear module"):
        build_vla(tiny_cfg("paligemma", finetune="lora", lora_modules=["nonexistent_proj"]), stats())


def test_frozen_vision_and_full():
    frozen = build_vla(tiny_cfg("kosmos2", finetune="frozen_vision"), stats())
    full = build_vla(tiny_cfg("kosmos2", finetune="full"), stats())
    vis = [p for _, p in frozen.backbone.vision_parameters()]
    assert vis and not any(p.requires_grad for p in vis)
    assert full.parameter_counts()["trainable"] == full.parameter_counts()["total"]
    n_vis = sum(p.numel() for p in vis)
    assert frozen.parameter_counts()["trainable"] == full.parameter_counts()["total"] - n_vis
    changed = _train_step(frozen, make_batch(frozen.cfg))
    assert not any(any(k in n for k in frozen.backbone.vision_module_keys) for n in changed)


@pytest.mark.parametrize("backbone,finetune", [("paligemma", "lora"), ("kosmos2", "full")])
def test_activation_checkpointing_gives_the_same_loss_and_gradients(backbone, finetune, tmp_path):
    """model.activation_checkpointing recomputes, it does not change what is learned; the setting survives a checkpoint."""
    def grads(ckpt: bool):
        model = build_vla(tiny_cfg(backbone, finetune=finetune, activation_checkpointing=ckpt), stats())
        model.train()
        out = model.compute_loss(make_batch(model.cfg))
        out["loss"].backward()
        return model, out["loss"].item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain, loss, g = grads(False)
    ckpt, loss_c, g_c = grads(True)
    assert ckpt.backbone.hf.is_activation_checkpointing and not plain.backbone.hf.is_activation_checkpointing
    assert loss_c == pytest.approx(loss, rel=1e-5)
    assert g.keys() == g_c.keys() and g
    for n in g:
        torch.testing.assert_close(g_c[n], g[n], rtol=1e-4, atol=1e-6, msg=lambda m, n=n: f"{n}: {m}")
    ckpt.save_checkpoint(tmp_path / "c")
    assert load_vla(tmp_path / "c").cfg.activation_checkpointing
