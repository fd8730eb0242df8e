"""VLAPolicy: a trained VLA checkpoint behind the Policy interface the inference node calls.

Per episode it keeps (a) the tokenised instruction and (b) in the policy-head formulation a
per-frame feature cache keyed by the frame's stamp, so each new frame goes through the VLM
exactly once whatever the window length; only the small head reruns over the window.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robovla.model import VLAModel, load_vla
from robovla.model.action_space import undiscretize
from robovla.policy.types import ActionChunk, ObservationWindow, observation_state

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
           "float16": torch.float16, "fp16": torch.float16}


def _resolve_dtype(dtype: Any, device: torch.device) -> torch.dtype:
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {sorted(_DTYPES)}") from None


class VLAPolicy:
    """reset() per episode, then step(window, instruction) -> ActionChunk in RAW action units."""

    def __init__(self, model: VLAModel, device: str | torch.device = "cpu", dtype: Any = None,
                 compile: bool = False) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but CUDA is not available")
        self.dtype = _resolve_dtype(dtype, self.device)
        self.model = model.to(self.device, self.dtype).eval()
        self.cfg = model.cfg
        self.name = f"vla:{self.cfg.backbone}/{self.cfg.formulation}"
        self.dt = float(self.cfg.dt)
        self.horizon = int(self.cfg.chunk)
        if compile:
            self.model.head = torch.compile(self.model.head) if self.model.head is not None else None
            self.model.backbone.forward = torch.compile(self.model.backbone.forward, dynamic=True)
        self._text: dict[str, list[int]] = {}
        self._features: dict[tuple[str, float], torch.Tensor] = {}
        self.tokenizations = 0  # instrumentation: how often an instruction was tokenised

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", dtype: Any = None, compile: bool = False,
                        **ignored: Any) -> VLAPolicy:
        if ignored:
            log.debug("VLAPolicy.from_checkpoint ignores %s", sorted(ignored))
        return cls(load_vla(path), device=device, dtype=dtype, compile=compile)

    def reset(self) -> None:
        self._text.clear()
        self._features.clear()

    # ------------------------------------------------------------------ helpers
    def _tokens(self, instruction: str) -> list[int]:
        ids = self._text.get(instruction)
        if ids is None:
            ids = self.model.tokenize(instruction)
            self.tokenizations += 1
            self._text = {instruction: ids}  # a new instruction replaces the episode's old one
            self._features.clear()  # cached features were computed with the old instruction
        return ids

    def _frame_images(self, obs: Any) -> np.ndarray:
        """(n_cams, H, W, 3) uint8 in the config's camera order, validated."""
        out = []
        for cam in self.cfg.cameras:
            if cam not in obs.images:
                raise ValueError(f"observation has no image for camera {cam!r} (has: {', '.join(obs.images) or 'none'})")
            img = np.asarray(obs.images[cam])
            if img.ndim != 3 or img.shape[2] != 3:
                raise ValueError(f"image of camera {cam!r} must be HxWx3 RGB, got shape {img.shape}")
            if img.dtype != np.uint8:
                raise ValueError(f"image of camera {cam!r} must be uint8, got {img.dtype}")
            s = self.cfg.image_size
            if img.shape[:2] != (s, s):
                raise ValueError(f"image of camera {cam!r} is {img.shape[0]}x{img.shape[1]}, the model expects {s}x{s}")
            out.append(img)
        return np.stack(out)

    def _window_state(self, window: ObservationWindow) -> torch.Tensor | None:
        """(1, T, STATE_DIM) state of the window's frames, when the model reads it."""
        if not self.cfg.state_input:
            return None
        return torch.from_numpy(np.stack([observation_state(o) for o in window.observations])).unsqueeze(0)

    def _window_images(self, window: ObservationWindow) -> torch.Tensor:
        return torch.from_numpy(np.stack([self._frame_images(o) for o in window.observations])).unsqueeze(0)

    # ------------------------------------------------------------------ step
    @torch.no_grad()
    def step(self, window: ObservationWindow, instruction: str) -> ActionChunk:
        start = time.perf_counter()
        text = self._tokens(instruction)
        model, f = self.model, self.cfg.formulation
        valid = torch.as_tensor(np.asarray(window.valid, dtype=bool)).unsqueeze(0).to(self.device)
        calls_before = model.backbone.vlm_calls
        if f == "policy_head_continuous":
            norm = self._step_policy_head(window, text, valid)
        else:
            images = self._window_images(window)
            if f == "one_step_discrete":
                norm = undiscretize(model.decode_discrete(images[:, -1], [text]), self.cfg.num_bins)
            else:
                if f == "one_step_continuous":
                    images, valid = images[:, -1:], valid[:, -1:]
                feats = model.window_features(images, [text])
                norm = model.predict_normalized_from_features(feats, valid, self._window_state(window))
        actions = model.action_stats.unnormalize(norm.float().cpu())[0].numpy()
        latest = window.latest
        return ActionChunk(
            actions=actions.astype(np.float32),
            stamp=latest.stamp,
            dt=self.dt,
            episode_id=window.episode_id or latest.episode_id,
            latency_s=time.perf_counter() - start,
            extras={"vlm_calls": float(model.backbone.vlm_calls - calls_before)},
        )

    def _step_policy_head(self, window: ObservationWindow, text: list[int], valid: torch.Tensor) -> torch.Tensor:
        keys = [(o.episode_id or window.episode_id, float(o.stamp)) for o in window.observations]
        new: dict[tuple[str, float], Any] = {}
        for key, obs in zip(keys, window.observations):
            if key not in self._features and key not in new:
                new[key] = obs
        if new:
            imgs = torch.from_numpy(np.stack([self._frame_images(o) for o in new.values()]))
            feats = self.model.frame_features(imgs, [text] * len(new))
            for key, feat in zip(new, feats):
                self._features[key] = feat
        live = set(keys)
        self._features = {k: v for k, v in self._features.items() if k in live}
        feats = torch.stack([self._features[k] for k in keys]).unsqueeze(0)
        return self.model.predict_normalized_from_features(feats, valid, self._window_state(window))
