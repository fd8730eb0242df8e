"""Checkpoint directories: everything needed to rebuild and run a VLA offline.

Layout:
  model.safetensors   all weights (backbone incl. LoRA adapters, action token, head)
  vla_config.yaml     the VLAConfig
  action_stats.json   normalisation statistics of the training data
  backbone/           the transformers config (architecture without the hub)
  tokenizer/          tokenizer files
  processor/          image processor config (mean/std, sizes)
  meta.json           versions and the transformers class used
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
import transformers
from safetensors.torch import load_file, save_model

from robovla.model.action_space import ActionStats
from robovla.model.backbones import backbone_from_saved, save_backbone_files
from robovla.model.config import VLAConfig
from robovla.model.vla import VLAModel

log = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
CONFIG = "vla_config.yaml"
STATS = "action_stats.json"
META = "meta.json"
REQUIRED = (WEIGHTS, CONFIG, STATS, "backbone/config.json", "processor", "tokenizer")


def save_checkpoint(model: VLAModel, directory: str | Path) -> Path:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    save_model(model, str(d / WEIGHTS), metadata={"format": "pt", "robovla": "vla"})
    model.cfg.to_yaml(d / CONFIG)
    (d / STATS).write_text(json.dumps(model.action_stats.to_dict(), indent=2))
    save_backbone_files(model.backbone, d)
    meta = {
        "hf_class": model.backbone.hf_class_name,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "parameters": model.parameter_counts(),
        "lora_modules": len(model.lora_module_names),
    }
    (d / META).write_text(json.dumps(meta, indent=2))
    log.info("saved %s checkpoint to %s", model.backbone.hf_class_name, d)
    return d


def check_checkpoint_dir(directory: str | Path) -> Path:
    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"checkpoint directory {d} does not exist")
    missing = [name for name in REQUIRED if not (d / name).exists()]
    if missing:
        raise FileNotFoundError(f"checkpoint {d} is missing {', '.join(missing)}")
    return d


def read_checkpoint_config(directory: str | Path) -> tuple[VLAConfig, ActionStats]:
    d = check_checkpoint_dir(directory)
    cfg = VLAConfig.from_yaml(d / CONFIG)
    try:
        stats = ActionStats.from_dict(json.loads((d / STATS).read_text()))
    except (json.JSONDecodeError, ValueError, TypeError) as exc:
        raise ValueError(f"checkpoint {d}: {STATS} is not valid action statistics ({exc})") from exc
    return cfg, stats


def load_vla(
    directory: str | Path,
    adapt_config: VLAConfig | None = None,
    action_stats: ActionStats | None = None,
) -> VLAModel:
    """Load a checkpoint; with `adapt_config` (another embodiment / head / chunk) the weights that
    fit are kept, the rest is re-initialised and listed in the log (post-training recipe)."""
    d = check_checkpoint_dir(directory)
    cfg, stats = read_checkpoint_config(d)
    if adapt_config is None:
        model = VLAModel(cfg, backbone_from_saved(cfg, d), action_stats or stats)
        missing, unexpected = _load_state(model, d / WEIGHTS, strict=True)
        return model
    if adapt_config.backbone != cfg.backbone:
        raise ValueError(
            f"checkpoint {d} holds a {cfg.backbone} backbone; adapt_config asks for {adapt_config.backbone}"
        )
    new_cfg = adapt_config.replace(pretrained=cfg.pretrained, tiny=cfg.tiny, image_size=adapt_config.image_size)
    torch.manual_seed(new_cfg.seed + 1)
    model = VLAModel(new_cfg, backbone_from_saved(new_cfg, d), action_stats or stats)
    _load_state(model, d / WEIGHTS, strict=False)
    if action_stats is not None and action_stats.to_dict() != stats.to_dict():
        log.info("adapting %s: action statistics replaced by the new embodiment's", d)
    return model


def _load_state(model: VLAModel, path: Path, strict: bool) -> tuple[list[str], list[str]]:
    saved = load_file(str(path))
    own = model.state_dict()
    fit: dict[str, Any] = {}
    reinit, unexpected = [], []
    for key, value in saved.items():
        if key not in own:
            unexpected.append(key)
        elif own[key].shape != value.shape:
            reinit.append(f"{key} {tuple(value.shape)}->{tuple(own[key].shape)}")
        else:
            fit[key] = value
    result = model.load_state_dict(fit, strict=False)
    loaded_ptrs = {own[k].data_ptr() for k in fit}
    missing = [k for k in result.missing_keys if own[k].data_ptr() not in loaded_ptrs]  # tied weights are fine
    if strict and (missing or unexpected or reinit):
        raise ValueError(
            f"checkpoint {path.parent} does not match its config: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, shape mismatch {reinit[:5]}"
        )
    if missing or reinit or unexpected:
        log.warning(
            "checkpoint %s: re-initialised %d tensor(s) that do not fit (%s); %d new tensor(s) initialised "
            "fresh (%s); %d checkpoint tensor(s) unused (%s)",
            path.parent, len(reinit), ", ".join(reinit[:8]), len(missing), ", ".join(missing[:8]),
            len(unexpected), ", ".join(unexpected[:8]),
        )
    return missing + reinit, unexpected
