"""Qwen2-VL / Qwen2.5-VL: native-resolution ViT with 2x2 patch merging and multimodal RoPE.

The image processor's patch flattening is reproduced in torch (no torchvision, no PIL round
trip at control rate); `mm_token_type_ids` tells the model where the image tokens are so it
computes M-RoPE positions itself.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessorPil,
)

from robovla.model.backbones.base import BackboneAdapter
from robovla.model.config import TinyBackboneConfig


class Qwen2VLAdapter(BackboneAdapter):
    hf_class_name = "Qwen2VLForConditionalGeneration"
    hf_class = Qwen2VLForConditionalGeneration
    config_class = Qwen2VLConfig
    image_processor_class = Qwen2VLImageProcessorPil
    vision_module_keys = ("visual",)

    @property
    def hidden_size(self) -> int:
        return int(self.hf.config.text_config.hidden_size)

    @property
    def vocab_size(self) -> int:
        return int(self.hf.config.text_config.vocab_size)

    @property
    def vision_image_size(self) -> int:
        unit = self._patch * self._merge
        return max(unit, round(self.image_size / unit) * unit)

    @property
    def _patch(self) -> int:
        return int(self.hf.config.vision_config.patch_size)

    @property
    def _merge(self) -> int:
        return int(self.hf.config.vision_config.spatial_merge_size)

    def prefix_ids(self) -> list[int]:
        return []  # Qwen uses no BOS

    def image_block(self, images_per_seq: int = 1) -> tuple[list[int], list[bool]]:
        g = self.vision_image_size // self._patch
        n = g * g // (self._merge**2)
        tok = self.tokenizer
        start = tok.convert_tokens_to_ids("<|vision_start|>")
        end = tok.convert_tokens_to_ids("<|vision_end|>")
        pad = tok.convert_tokens_to_ids("<|image_pad|>")
        return [start] + [pad] * n + [end], [False] + [True] * n + [False]

    def flatten_patches(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, S, S) -> (N*g*g, 3*t*p*p) patches in the processor's merge order, grid (N, 3)."""
        n, c, s, _ = pixels.shape
        p, m = self._patch, self._merge
        t = int(self.hf.config.vision_config.temporal_patch_size)
        g = s // p
        x = pixels.unsqueeze(1).expand(n, t, c, s, s)
        x = x.reshape(n, t, c, g // m, m, p, g // m, m, p)
        x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
        flat = x.reshape(n * g * g, c * t * p * p)
        grid = torch.tensor([[1, g, g]] * n, dtype=torch.long, device=pixels.device)
        return flat, grid

    def _hidden(self, ids, attention_mask, image_mask, pixels, images_per_seq) -> torch.Tensor:
        flat, grid = self.flatten_patches(pixels)
        out = self.hf.model(
            input_ids=ids,
            attention_mask=attention_mask,
            pixel_values=flat,
            image_grid_thw=grid,
            mm_token_type_ids=image_mask.int(),
            use_cache=False,
        )
        return out.last_hidden_state

    @classmethod
    def tiny_config(cls, tiny: TinyBackboneConfig, image_size: int, tokenizer: Any, vocab_size: int):
        head_dim = tiny.hidden_size // tiny.heads
        half = head_dim // 2
        section = [half - 2 * (half // 3), half // 3, half // 3]
        tid = tokenizer.convert_tokens_to_ids
        vision = dict(
            depth=tiny.vision_layers,
            embed_dim=tiny.vision_hidden_size,
            hidden_size=tiny.hidden_size,
            num_heads=tiny.heads,
            patch_size=tiny.patch_size // 2,
            spatial_merge_size=2,
            temporal_patch_size=2,
        )
        if cls.config_class is Qwen2_5_VLConfig:
            vision.update(intermediate_size=2 * tiny.vision_hidden_size, out_hidden_size=tiny.hidden_size,
                          fullatt_block_indexes=[0], window_size=4 * tiny.patch_size)
            vision.pop("embed_dim")
            vision["hidden_size"] = tiny.vision_hidden_size
        return cls.config_class(
            text_config=dict(
                vocab_size=vocab_size,
                hidden_size=tiny.hidden_size,
                intermediate_size=2 * tiny.hidden_size,
                num_hidden_layers=tiny.layers,
                num_attention_heads=tiny.heads,
                num_key_value_heads=1,
                rope_parameters={"rope_type": "default", "mrope_section": section, "rope_theta": 10000.0},
                pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
            ),
            vision_config=vision,
            image_token_id=tid("<|image_pad|>"),
            video_token_id=tid("<video>"),
            vision_start_token_id=tid("<|vision_start|>"),
            vision_end_token_id=tid("<|vision_end|>"),
        )

    @staticmethod
    def tiny_image_processor(image_size: int):
        return Qwen2VLImageProcessorPil(patch_size=8, merge_size=2, min_pixels=image_size * image_size // 4,
                                        max_pixels=image_size * image_size * 4)


class Qwen25VLAdapter(Qwen2VLAdapter):
    hf_class_name = "Qwen2_5_VLForConditionalGeneration"
    hf_class = Qwen2_5_VLForConditionalGeneration
    config_class = Qwen2_5_VLConfig
