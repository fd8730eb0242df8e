"""Shared builders for the model tests: tiny configs, synthetic windows and batches."""

from __future__ import annotations

import numpy as np
import torch

from robovla.model import ActionStats, VLAConfig
from robovla.policy.types import Observation, ObservationWindow

IMAGE = 64
INSTRUCTIONS = ["pick up the red block", "open the drawer now", "push the blue cube to the left", "lift it"]


def tiny_cfg(backbone: str = "paligemma", formulation: str = "policy_head_continuous", **kw) -> VLAConfig:
    base = dict(
        backbone=backbone, formulation=formulation, head="lstm", window=3, chunk=2, image_size=IMAGE,
        head_hidden=32, head_layers=1, finetune="full", pretrained=None, gripper_loss_weight=0.1,
    )
    base.update(kw)
    return VLAConfig(**base)


def stats() -> ActionStats:
    rng = np.random.default_rng(0)
    a = rng.uniform(-0.02, 0.02, size=(500, 7))
    a[:, 6] = rng.integers(0, 2, size=500)
    return ActionStats.from_actions(a)


def make_batch(cfg: VLAConfig, b: int = 2, t: int | None = None, seed: int = 0) -> dict:
    """A collated batch in the training-sample contract (raw actions in dataset units)."""
    t = t or cfg.window
    g = torch.Generator().manual_seed(seed)
    n = len(cfg.cameras)
    actions = torch.rand(b, t, cfg.chunk, 7, generator=g) * 0.04 - 0.02
    actions[..., 6] = (torch.rand(b, t, cfg.chunk, generator=g) > 0.5).float()
    valid = torch.ones(b, t, dtype=torch.bool)
    if t > 1:
        valid[0, 0] = False  # first sample starts one frame into its episode
    return {
        "images": torch.randint(0, 256, (b, t, n, cfg.image_size, cfg.image_size, 3), dtype=torch.uint8, generator=g),
        "state": torch.zeros(b, t, 8),
        "actions": actions,
        "action_mask": torch.ones(b, t, cfg.chunk, dtype=torch.bool),
        "valid": valid,
        "instruction": [INSTRUCTIONS[i % len(INSTRUCTIONS)] for i in range(b)],
    }


def make_observation(cfg: VLAConfig, stamp: float, seed: int, episode: str = "ep0") -> Observation:
    rng = np.random.default_rng(seed)
    images = {c: rng.integers(0, 256, (cfg.image_size, cfg.image_size, 3), dtype=np.uint8) for c in cfg.cameras}
    return Observation(stamp=stamp, images=images, joint_positions=np.zeros(7), gripper=0.0,
                       ee_pose=np.array([0.4, 0, 0.3, 0, 0, 0, 1.0]), episode_id=episode)


def window_from(obs: list[Observation], n: int) -> ObservationWindow:
    """The last n observations, padded at the start by repeating the oldest (as the node does)."""
    real = obs[-n:]
    pad = n - len(real)
    valid = np.array([False] * pad + [True] * len(real))
    return ObservationWindow(observations=tuple([real[0]] * pad + real), valid=valid, episode_id=real[0].episode_id)


def window_to_batch(window: ObservationWindow, cfg: VLAConfig) -> torch.Tensor:
    imgs = np.stack([np.stack([o.images[c] for c in cfg.cameras]) for o in window.observations])
    return torch.from_numpy(imgs).unsqueeze(0)
