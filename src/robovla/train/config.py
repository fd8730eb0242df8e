"""Training configuration: one dataclass (model + data + loop) loadable from a preset YAML.

Presets live in config/train/<name>.yaml; `--set a.b=value` overrides any field (values parsed
as YAML, so `--set data.cameras=[front,wrist]` and `--set lr=1e-4` work).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from robovla.data.dataset import DataConfig
from robovla.model.config import VLAConfig
from robovla.resources import share_dir

RECIPES = ("auto", "post_train", "co_train", "scratch")
MIXED_PRECISION = ("no", "bf16", "fp16")


@dataclass
class TrainConfig:
    model: VLAConfig = field(default_factory=VLAConfig)
    data: DataConfig = field(default_factory=DataConfig)
    steps: int = 1000  # optimizer steps
    batch_size: int = 4  # per process, per micro-batch
    grad_accum: int = 1
    lr: float = 2e-5  # RoboVLMs' fine-tuning learning rate
    head_lr: float | None = None  # None: same as lr (the freshly initialised head may want more)
    weight_decay: float = 0.0
    warmup_steps: int = 0
    grad_clip: float = 1.0
    mixed_precision: str = "no"
    recipe: str = "auto"  # auto: post_train with a base checkpoint, else scratch
    co_train_data: list[str] = field(default_factory=list)  # cross-embodiment dirs mixed in (co_train)
    co_train_ratio: float = 0.5  # fraction of every batch drawn from co_train_data
    eval_every: int = 200  # steps between validations (0: only at the end)
    val_batches: int = 20
    save_every: int = 200  # steps between resumable state saves (0: only at the end)
    keep_states: int = 2
    log_every: int = 10
    num_workers: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = VLAConfig.from_dict(self.model)
        if isinstance(self.data, dict):
            self.data = DataConfig(**self.data)
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; choose one of {RECIPES}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, got {self.mixed_precision!r}")
        if self.steps < 1 or self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError("steps, batch_size and grad_accum must be >= 1")
        if not 0.0 < self.co_train_ratio < 1.0:
            raise ValueError(f"co_train_ratio must be in (0, 1), got {self.co_train_ratio}")
        # one source of truth for what the model and the windows must agree on
        self.data.window = self.model.window
        self.data.chunk = self.model.chunk
        self.data.image_size = self.model.image_size
        self.data.cameras = list(self.model.cameras)
        self.data.rate_hz = 1.0 / self.model.dt
        self.data.require_state = bool(self.model.state_input)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
        return cls(**d)


def preset_dir() -> Path:
    env = os.environ.get("ROBOVLA_TRAIN_PRESETS")
    cands = [Path(env)] if env else []
    try:
        cands.append(share_dir() / "config" / "train")
    except FileNotFoundError:
        pass
    for c in cands:
        if c.is_dir():
            return c
    raise FileNotFoundError(f"no train preset directory found (looked in {[str(c) for c in cands]})")


def list_presets() -> list[str]:
    try:
        return sorted(p.stem for p in preset_dir().glob("*.yaml"))
    except FileNotFoundError:
        return []


def _set_dotted(d: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    cur = d
    for p in parts[:-1]:
        nxt = cur.get(p)
        if nxt is None:
            nxt = cur[p] = {}
        if not isinstance(nxt, dict):
            raise ValueError(f"override {key!r}: {p!r} is not a section")
        cur = nxt
    cur[parts[-1]] = value


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    out = []
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {item!r} is not key=value")
        out.append((key.strip(), _scalar(yaml.safe_load(raw)) if raw.strip() else ""))
    return out


def _scalar(value: Any) -> Any:
    """YAML 1.1 reads `1e-4` as a string; users mean a number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_train_config(preset: str | None = "tiny", overrides: list[str] | None = None,
                      steps: int | None = None) -> TrainConfig:
    """A preset name (config/train/<name>.yaml) or a YAML path, then key=value overrides."""
    raw: dict[str, Any] = {}
    if preset:
        path = Path(preset)
        if not path.suffix:
            path = preset_dir() / f"{preset}.yaml"
        if not path.is_file():
            raise FileNotFoundError(f"train preset {preset!r} not found ({path}); presets: {list_presets()}")
        raw = yaml.safe_load(path.read_text()) or {}
    for key, value in parse_overrides(overrides or []):
        _set_dotted(raw, key, value)
    if steps:
        raw["steps"] = int(steps)
    return TrainConfig.from_dict(raw)
