"""PaliGemma / PaliGemma2 (SigLIP + Gemma / Gemma2): the RoboVLMs paper's strongest pair with KosMos."""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    Gemma2Config,
    GemmaConfig,
    PaliGemmaConfig,
    PaliGemmaForConditionalGeneration,
    SiglipImageProcessorPil,
    SiglipVisionConfig,
)

from robovla.model.backbones.base import BackboneAdapter
from robovla.model.config import TinyBackboneConfig


class PaliGemmaAdapter(BackboneAdapter):
    hf_class_name = "PaliGemmaForConditionalGeneration"
    hf_class = PaliGemmaForConditionalGeneration
    image_processor_class = SiglipImageProcessorPil
    vision_module_keys = ("vision_tower", "multi_modal_projector")

    @property
    def hidden_size(self) -> int:
        return int(self.hf.config.text_config.hidden_size)

    @property
    def vocab_size(self) -> int:
        return int(self.hf.config.text_config.vocab_size)

    @property
    def vision_image_size(self) -> int:
        return int(self.hf.config.vision_config.image_size)

    def image_block(self, images_per_seq: int = 1) -> tuple[list[int], list[bool]]:
        vc = self.hf.config.vision_config
        n = (vc.image_size // vc.patch_size) ** 2
        return [int(self.hf.config.image_token_index)] * n, [True] * n

    def _hidden(self, ids, attention_mask, image_mask, pixels, images_per_seq) -> torch.Tensor:
        out = self.hf.model(input_ids=ids, attention_mask=attention_mask, pixel_values=pixels, use_cache=False)
        return out.last_hidden_state

    @staticmethod
    def tiny_config(tiny: TinyBackboneConfig, image_size: int, tokenizer: Any, vocab_size: int, v2: bool = False):
        vision = SiglipVisionConfig(
            hidden_size=tiny.vision_hidden_size,
            intermediate_size=2 * tiny.vision_hidden_size,
            num_hidden_layers=tiny.vision_layers,
            num_attention_heads=tiny.heads,
            image_size=image_size,
            patch_size=tiny.patch_size,
            vision_use_head=False,
        )
        text_cls = Gemma2Config if v2 else GemmaConfig
        text = text_cls(
            vocab_size=vocab_size,
            hidden_size=tiny.hidden_size,
            intermediate_size=2 * tiny.hidden_size,
            num_hidden_layers=tiny.layers,
            num_attention_heads=tiny.heads,
            num_key_value_heads=1,
            head_dim=tiny.hidden_size // tiny.heads,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        return PaliGemmaConfig(
            vision_config=vision,
            text_config=text,
            image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
            projection_dim=tiny.hidden_size,
            hidden_size=tiny.hidden_size,
            vocab_size=vocab_size,
        )

    @staticmethod
    def tiny_image_processor(image_size: int):
        return SiglipImageProcessorPil(size={"height": image_size, "width": image_size})


class PaliGemma2Adapter(PaliGemmaAdapter):
    @staticmethod
    def tiny_config(tiny, image_size, tokenizer, vocab_size, v2: bool = True):
        return PaliGemmaAdapter.tiny_config(tiny, image_size, tokenizer, vocab_size, v2=True)
