"""Action normalisation, discretisation and gripper binarisation.

The statistics travel inside every checkpoint so a policy always maps its outputs back to
the units of the embodiment it was trained on (RoboVLMs: clip the arm dims to a range, scale
to [-1, 1]; gripper binarised; 256 uniform bins over [-1, 1] for discrete formulations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

NORMALIZATION_MODES = ("quantile", "minmax", "clip")


@dataclass
class ActionStats:
    """Per-dimension statistics of a dataset's actions (last dim = gripper, 0 open .. 1 closed).

    `low`/`high` is the clip range of the arm dims mapped onto [-1, 1]; it comes from the 1st/99th
    percentiles ("quantile"), the extremes ("minmax") or a fixed symmetric bound ("clip").
    """

    low: list[float]
    high: list[float]
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    mode: str = "quantile"
    count: int = 0

    def __post_init__(self) -> None:
        if len(self.low) != len(self.high) or len(self.low) < 2:
            raise ValueError(
                f"ActionStats needs matching low/high with >= 2 dims, got {len(self.low)} and {len(self.high)}"
            )
        if self.mode not in NORMALIZATION_MODES:
            raise ValueError(f"unknown ActionStats mode {self.mode!r}; choose one of {NORMALIZATION_MODES}")
        self.low = [float(v) for v in self.low]
        self.high = [float(v) for v in self.high]
        for i, (lo, hi) in enumerate(zip(self.low[:-1], self.high[:-1])):
            if not hi > lo:
                raise ValueError(f"ActionStats dim {i}: high ({hi}) must exceed low ({lo})")

    @property
    def dim(self) -> int:
        return len(self.low)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_actions(
        cls, actions: np.ndarray, mode: str = "quantile", quantile: float = 0.01, clip: float = 0.65
    ) -> ActionStats:
        """Statistics of raw actions (N, D); degenerate dims get a small symmetric range."""
        a = np.asarray(actions, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] == 0:
            raise ValueError(f"ActionStats.from_actions expects a non-empty (N, D) array, got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError("ActionStats.from_actions: actions contain NaN or inf")
        arm = a[:, :-1]
        if mode == "quantile":
            low, high = np.quantile(arm, quantile, axis=0), np.quantile(arm, 1.0 - quantile, axis=0)
        elif mode == "minmax":
            low, high = arm.min(axis=0), arm.max(axis=0)
        elif mode == "clip":
            low, high = np.full(arm.shape[1], -clip), np.full(arm.shape[1], clip)
        else:
            raise ValueError(f"unknown ActionStats mode {mode!r}; choose one of {NORMALIZATION_MODES}")
        span = high - low
        centre = (high + low) / 2
        tiny = span < 1e-6
        low = np.where(tiny, centre - 1e-3, low)
        high = np.where(tiny, centre + 1e-3, high)
        return cls(
            low=[*low.tolist(), 0.0],
            high=[*high.tolist(), 1.0],
            mean=a.mean(axis=0).tolist(),
            std=a.std(axis=0).tolist(),
            mode=mode,
            count=int(a.shape[0]),
        )

    @classmethod
    def identity(cls, dim: int = 7) -> ActionStats:
        """Arm range [-1, 1]: normalisation is a no-op (for models built without data)."""
        return cls(low=[-1.0] * (dim - 1) + [0.0], high=[1.0] * (dim - 1) + [1.0], mode="clip")

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": list(self.low),
            "high": list(self.high),
            "mean": list(self.mean),
            "std": list(self.std),
            "mode": self.mode,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ActionStats:
        missing = {"low", "high"} - set(d)
        if missing:
            raise ValueError(f"action statistics are missing {sorted(missing)}")
        return cls(**{k: d[k] for k in ("low", "high", "mean", "std", "mode", "count") if k in d})

    # ---------------------------------------------------------------- transforms
    def _lh(self, like: Any) -> tuple[Any, Any]:
        low, high = np.asarray(self.low[:-1]), np.asarray(self.high[:-1])
        if isinstance(like, torch.Tensor):
            return (
                torch.as_tensor(low, dtype=like.dtype, device=like.device),
                torch.as_tensor(high, dtype=like.dtype, device=like.device),
            )
        return low, high

    def _check(self, a: Any) -> None:
        if a.shape[-1] != self.dim:
            raise ValueError(f"actions have {a.shape[-1]} dims but the action statistics have {self.dim}")

    def normalize(self, a: Any) -> Any:
        """Raw -> arm clipped and scaled to [-1, 1]; gripper binarised to {0, 1}."""
        self._check(a)
        low, high = self._lh(a)
        if isinstance(a, torch.Tensor):
            arm = torch.maximum(torch.minimum(a[..., :-1], high), low)
            arm = 2 * (arm - low) / (high - low) - 1
            grip = (a[..., -1:] > 0.5).to(a.dtype)
            return torch.cat([arm, grip], dim=-1)
        a = np.asarray(a, dtype=np.float32)
        arm = 2 * (np.clip(a[..., :-1], low, high) - low) / (high - low) - 1
        grip = (a[..., -1:] > 0.5).astype(np.float32)
        return np.concatenate([arm, grip], axis=-1).astype(np.float32)

    def unnormalize(self, a: Any) -> Any:
        """Normalised -> raw units; the gripper (a probability or 0/1) is binarised at 0.5."""
        self._check(a)
        low, high = self._lh(a)
        if isinstance(a, torch.Tensor):
            arm = (a[..., :-1].clamp(-1, 1) + 1) / 2 * (high - low) + low
            grip = (a[..., -1:] > 0.5).to(a.dtype)
            return torch.cat([arm, grip], dim=-1)
        a = np.asarray(a, dtype=np.float32)
        arm = (np.clip(a[..., :-1], -1, 1) + 1) / 2 * (high - low) + low
        grip = (a[..., -1:] > 0.5).astype(np.float32)
        return np.concatenate([arm, grip], axis=-1).astype(np.float32)


def discretize(norm: torch.Tensor, num_bins: int = 256) -> torch.Tensor:
    """Normalised actions (arm in [-1, 1], gripper in {0, 1}) -> bin indices 0..num_bins-1."""
    arm = norm[..., :-1].clamp(-1, 1)
    grip = norm[..., -1:] * 2 - 1  # {0, 1} -> {-1, 1}: first / last bin
    x = torch.cat([arm, grip], dim=-1)
    return ((x + 1) / 2 * num_bins).long().clamp(0, num_bins - 1)


def undiscretize(bins: torch.Tensor, num_bins: int = 256) -> torch.Tensor:
    """Bin indices -> normalised actions at the bin centres (gripper back to {0, 1})."""
    x = (bins.float() + 0.5) / num_bins * 2 - 1
    grip = (x[..., -1:] > 0).float()
    return torch.cat([x[..., :-1], grip], dim=-1)
