"""VLA models: VLM backbones x RoboVLMs formulations, policy heads, action spaces, checkpoints.

    from robovla.model import VLAConfig, build_vla, load_vla
    model = build_vla(VLAConfig(backbone="kosmos2", formulation="policy_head_continuous"), stats)
    out = model.compute_loss(batch); out["loss"].backward()
    model.save_checkpoint("ckpt/"); model = load_vla("ckpt/")
"""

from robovla.model.action_space import ActionStats
from robovla.model.builder import build_vla
from robovla.model.checkpoint import load_vla, save_checkpoint
from robovla.model.config import BACKBONES, FINETUNE_MODES, FORMULATIONS, HEADS, VLAConfig
from robovla.model.vla import VLAModel

__all__ = [
    "BACKBONES",
    "FINETUNE_MODES",
    "FORMULATIONS",
    "HEADS",
    "ActionStats",
    "VLAConfig",
    "VLAModel",
    "build_vla",
    "load_vla",
    "save_checkpoint",
]
