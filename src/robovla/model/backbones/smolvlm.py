"""SmolVLM (Idefics3 architecture: SigLIP + pixel-shuffle connector + a small Llama)."""

from __future__ import annotations

from typing import Any

import torch
from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessorPil

from robovla.model.backbones.base import BackboneAdapter
from robovla.model.config import TinyBackboneConfig


class SmolVLMAdapter(BackboneAdapter):
    """Images are fed whole (no splitting): one global view per camera and frame."""

    hf_class_name = "Idefics3ForConditionalGeneration"
    hf_class = Idefics3ForConditionalGeneration
    image_processor_class = Idefics3ImageProcessorPil
    vision_module_keys = ("vision_model", "connector")

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
        cfg = self.hf.config
        n = (cfg.vision_config.image_size // cfg.vision_config.patch_size) ** 2 // (cfg.scale_factor**2)
        tok = self.tokenizer
        fake = tok.convert_tokens_to_ids("<fake_token_around_image>")
        glob = tok.convert_tokens_to_ids("<global-img>")
        img = int(cfg.image_token_id)
        return [fake, glob] + [img] * n + [fake], [False, False] + [True] * n + [False]

    def _hidden(self, ids, attention_mask, image_mask, pixels, images_per_seq) -> torch.Tensor:
        b = ids.shape[0]
        pv = pixels.reshape(b, images_per_seq, *pixels.shape[1:])
        out = self.hf.model(input_ids=ids, attention_mask=attention_mask, pixel_values=pv, use_cache=False)
        return out.last_hidden_state

    @staticmethod
    def tiny_config(tiny: TinyBackboneConfig, image_size: int, tokenizer: Any, vocab_size: int):
        return Idefics3Config(
            vision_config=dict(
                hidden_size=tiny.vision_hidden_size,
                intermediate_size=2 * tiny.vision_hidden_size,
                num_hidden_layers=tiny.vision_layers,
                num_attention_heads=tiny.heads,
                image_size=image_size,
                patch_size=tiny.patch_size,
            ),
            text_config=dict(
                model_type="llama",
                vocab_size=vocab_size,
                hidden_size=tiny.hidden_size,
                intermediate_size=2 * tiny.hidden_size,
                num_hidden_layers=tiny.layers,
                num_attention_heads=tiny.heads,
                num_key_value_heads=1,
                pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
            ),
            image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
            scale_factor=2,
        )

    @staticmethod
    def tiny_image_processor(image_size: int):
        return Idefics3ImageProcessorPil(
            do_image_splitting=False,
            size={"longest_edge": image_size},
            max_image_size={"longest_edge": image_size},
        )
