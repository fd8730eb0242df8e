"""build_vla: config (+ dataset action statistics) -> a ready VLAModel."""

from __future__ import annotations

import torch

from robovla.model.action_space import ActionStats
from robovla.model.backbones import build_backbone
from robovla.model.config import VLAConfig
from robovla.model.vla import VLAModel


def build_vla(cfg: VLAConfig, action_stats: ActionStats | None = None) -> VLAModel:
    """Backbone from `cfg.pretrained` (hub id / local dir) or a tiny random config when None."""
    if not isinstance(cfg, VLAConfig):
        raise TypeError(f"build_vla expects a VLAConfig, got {type(cfg).__name__}")
    cfg.validate()
    backbone = build_backbone(cfg)
    torch.manual_seed(cfg.seed + 1)
    model = VLAModel(cfg, backbone, action_stats)
    return model
