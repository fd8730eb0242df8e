"""A tiny overfit (8 samples) drives the loss below 10 % of its start.

Every backbone x formulation, on tiny random configs (1-36 s each on 2 CPU cores; smolvlm and qwen2_vl are the slow ones).
"""

from __future__ import annotations

import pytest
import torch

from robovla.model import BACKBONES, FORMULATIONS, build_vla
from vla_helpers import make_batch, stats, tiny_cfg

CASES = sorted((b, f) for b in BACKBONES for f in FORMULATIONS)


def overfit(model, batch, steps: int, lr: float) -> tuple[float, float]:
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    model.train()
    first = last = None
    for _ in range(steps):
        out = model.compute_loss(batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        value = float(out["loss"].detach())
        first = value if first is None else first
        last = value
        if last < 0.07 * first:
            break
    model.eval()
    with torch.no_grad():
        last = float(model.compute_loss(batch)["loss"])
    return first, last


@pytest.mark.parametrize("backbone,formulation", CASES)
def test_overfit_eight_samples(backbone, formulation):
    one_step = formulation.startswith("one_step")
    cfg = tiny_cfg(backbone, formulation, window=1 if one_step else 2, chunk=2, head="mlp" if one_step else "lstm")
    model = build_vla(cfg, stats())
    batch = make_batch(cfg, b=8, t=cfg.window, seed=7)
    discrete = cfg.is_discrete
    first, last = overfit(model, batch, steps=120 if discrete else 100, lr=3e-3)
    assert last < 0.1 * first, f"loss {first:.4f} -> {last:.4f}"
