"""Backbone registry: config name -> adapter class, and the three ways to build one.

tiny random (offline: tests, doctor, benchmarks), pretrained (`from_pretrained` on a hub id or
local dir) and from a checkpoint's saved HF config + tokenizer + image processor.
"""

from __future__ import annotations

import logging
from pathlib import Path


import torch
from transformers import AutoConfig, AutoTokenizer

from robovla.model.backbones.base import BackboneAdapter
from robovla.model.backbones.kosmos2 import Kosmos2Adapter
from robovla.model.backbones.llava import LlavaAdapter, LlavaOnevisionAdapter
from robovla.model.backbones.paligemma import PaliGemma2Adapter, PaliGemmaAdapter
from robovla.model.backbones.qwen2_vl import Qwen25VLAdapter, Qwen2VLAdapter
from robovla.model.backbones.smolvlm import SmolVLMAdapter
from robovla.model.backbones.tiny import tiny_tokenizer, wordllama_embeddings, wordllama_tokenizer
from robovla.model.config import BACKBONES, VLAConfig

log = logging.getLogger(__name__)

ADAPTERS: dict[str, type[BackboneAdapter]] = {
    "paligemma": PaliGemmaAdapter,
    "paligemma2": PaliGemma2Adapter,
    "kosmos2": Kosmos2Adapter,
    "qwen2_vl": Qwen2VLAdapter,
    "qwen2_5_vl": Qwen25VLAdapter,
    "llava": LlavaAdapter,
    "llava_onevision": LlavaOnevisionAdapter,
    "smolvlm": SmolVLMAdapter,
}
assert set(ADAPTERS) == set(BACKBONES)

#: Hub ids of the real checkpoints each backbone is meant for (documentation / bench).
DEFAULT_HUB_IDS = {
    "paligemma": "google/paligemma-3b-pt-224",
    "paligemma2": "google/paligemma2-3b-pt-224",
    "kosmos2": "microsoft/kosmos-2-patch14-224",
    "qwen2_vl": "Qwen/Qwen2-VL-2B-Instruct",
    "qwen2_5_vl": "Qwen/Qwen2.5-VL-3B-Instruct",
    "llava": "llava-hf/llava-1.5-7b-hf",
    "llava_onevision": "llava-hf/llava-onevision-qwen2-0.5b-ov-hf",
    "smolvlm": "HuggingFaceTB/SmolVLM-256M-Instruct",
}


def adapter_class(name: str) -> type[BackboneAdapter]:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(ADAPTERS)}") from None


def _torch_dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def build_tiny_backbone(cfg: VLAConfig) -> BackboneAdapter:
    """A backbone of the real class sized by cfg.tiny (no network): random weights, or with
    tiny.text_init=wordllama the token embeddings initialised from wordllama's."""
    cls = adapter_class(cfg.backbone)
    wordllama = cfg.tiny.text_init == "wordllama"
    tokenizer = wordllama_tokenizer() if wordllama else tiny_tokenizer(cfg.tiny.vocab_size)
    vocab = len(tokenizer) + cfg.num_bins  # reserve the last ids for the action bins
    hf_config = cls.tiny_config(cfg.tiny, cfg.image_size, tokenizer, vocab)
    torch.manual_seed(cfg.seed)
    hf_model = cls.hf_class._from_config(hf_config, dtype=torch.float32)
    if wordllama:
        _init_token_embeddings(hf_model.get_input_embeddings().weight)
    return cls(hf_model, tokenizer, cls.tiny_image_processor(cfg.image_size), cfg.image_size)


@torch.no_grad()
def _init_token_embeddings(weight: torch.Tensor) -> None:
    """Rows 0..31999 (Llama-2's ids) from wordllama, at the spread of the random init they replace,
    so the LM sees inputs of the scale it was built for; our special tokens and the action bins
    keep their random rows."""
    table = wordllama_embeddings(weight.shape[1])
    n = table.shape[0]
    weight[:n] = table * weight[:n].std()


def build_pretrained_backbone(cfg: VLAConfig) -> BackboneAdapter:
    """Weights, tokenizer and image processor from a hub id or local dir via `from_pretrained`."""
    cls = adapter_class(cfg.backbone)
    src = cfg.pretrained
    assert src is not None
    log.info("loading %s backbone from %s", cfg.backbone, src)
    try:
        hf_model = cls.hf_class.from_pretrained(src, dtype=_torch_dtype(cfg.dtype))
        tokenizer = AutoTokenizer.from_pretrained(src)
        image_processor = cls.image_processor_class.from_pretrained(src)
    except OSError as exc:
        raise FileNotFoundError(f"cannot load pretrained backbone {src!r} for {cfg.backbone}: {exc}") from exc
    return cls(hf_model, tokenizer, image_processor, cfg.image_size)


def build_backbone(cfg: VLAConfig) -> BackboneAdapter:
    return build_pretrained_backbone(cfg) if cfg.pretrained else build_tiny_backbone(cfg)


def backbone_from_saved(cfg: VLAConfig, directory: Path) -> BackboneAdapter:
    """Rebuild the architecture from a checkpoint's saved HF config (weights are loaded later)."""
    cls = adapter_class(cfg.backbone)
    hf_config = AutoConfig.from_pretrained(directory / "backbone")
    tokenizer = AutoTokenizer.from_pretrained(directory / "tokenizer")
    image_processor = cls.image_processor_class.from_pretrained(directory / "processor")
    hf_model = cls.hf_class._from_config(hf_config, dtype=torch.float32)
    return cls(hf_model, tokenizer, image_processor, cfg.image_size)


def save_backbone_files(adapter: BackboneAdapter, directory: Path) -> None:
    adapter.hf.config.save_pretrained(directory / "backbone")
    adapter.tokenizer.save_pretrained(directory / "tokenizer")
    adapter.image_processor.save_pretrained(directory / "processor")


__all__ = [
    "ADAPTERS",
    "DEFAULT_HUB_IDS",
    "BackboneAdapter",
    "adapter_class",
    "backbone_from_saved",
    "build_backbone",
    "build_tiny_backbone",
    "save_backbone_files",
]


