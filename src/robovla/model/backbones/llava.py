"""LLaVA-1.5 (CLIP + Llama) and LLaVA-OneVision (SigLIP + Qwen2, AnyRes packing)."""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaOnevisionConfig,
    LlavaOnevisionForConditionalGeneration,
    LlavaOnevisionImageProcessorPil,
    Qwen2Config,
    SiglipVisionConfig,
)
from transformers.models.llava_next.modeling_llava_next import image_size_to_num_patches

from robovla.model.backbones.base import BackboneAdapter
from robovla.model.config import TinyBackboneConfig


class LlavaAdapter(BackboneAdapter):
    hf_class_name = "LlavaForConditionalGeneration"
    hf_class = LlavaForConditionalGeneration
    image_processor_class = CLIPImageProcessorPil
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
        if self.hf.config.vision_feature_select_strategy == "full":
            n += 1
        return [int(self.hf.config.image_token_index)] * n, [True] * n

    def _hidden(self, ids, attention_mask, image_mask, pixels, images_per_seq) -> torch.Tensor:
        out = self.hf.model(input_ids=ids, attention_mask=attention_mask, pixel_values=pixels, use_cache=False)
        return out.last_hidden_state

    @staticmethod
    def tiny_config(tiny: TinyBackboneConfig, image_size: int, tokenizer: Any, vocab_size: int):
        vision = CLIPVisionConfig(
            hidden_size=tiny.vision_hidden_size,
            intermediate_size=2 * tiny.vision_hidden_size,
            num_hidden_layers=tiny.vision_layers + 1,  # LLaVA reads the penultimate layer
            num_attention_heads=tiny.heads,
            image_size=image_size,
            patch_size=tiny.patch_size,
            projection_dim=tiny.hidden_size,
        )
        text = LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=tiny.hidden_size,
            intermediate_size=2 * tiny.hidden_size,
            num_hidden_layers=tiny.layers,
            num_attention_heads=tiny.heads,
            num_key_value_heads=1,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        return LlavaConfig(
            vision_config=vision,
            text_config=text,
            image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
            image_seq_length=(image_size // tiny.patch_size) ** 2,
        )

    @staticmethod
    def tiny_image_processor(image_size: int):
        return CLIPImageProcessorPil(
            size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
        )


class LlavaOnevisionAdapter(LlavaAdapter):
    """AnyRes: a single image is the base view plus its tiles; with several images per sequence
    (interleaved) the model uses the base view only. Token counts are measured once per mode."""

    hf_class_name = "LlavaOnevisionForConditionalGeneration"
    hf_class = LlavaOnevisionForConditionalGeneration
    image_processor_class = LlavaOnevisionImageProcessorPil
    vision_module_keys = ("vision_tower", "multi_modal_projector", "image_newline")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tokens_per_image: dict[bool, int] = {}

    def _patches(self, images_per_seq: int) -> int:
        if images_per_seq > 1:
            return 1
        s = self.vision_image_size
        return int(
            image_size_to_num_patches(
                image_size=(s, s), grid_pinpoints=self.hf.config.image_grid_pinpoints, patch_size=s
            )
        )

    def _pixel_kwargs(self, pixels: torch.Tensor, images_per_seq: int) -> dict[str, torch.Tensor]:
        n, s = pixels.shape[0], pixels.shape[-1]
        p = self._patches(images_per_seq)
        return dict(
            pixel_values=pixels.unsqueeze(1).expand(n, p, *pixels.shape[1:]).contiguous(),
            image_sizes=torch.tensor([[s, s]] * n, device=pixels.device),
            batch_num_images=torch.tensor([images_per_seq] * (n // images_per_seq), device=pixels.device),
        )

    def image_block(self, images_per_seq: int = 1) -> tuple[list[int], list[bool]]:
        multi = images_per_seq > 1
        if multi not in self._tokens_per_image:
            s = self.vision_image_size
            pixels = torch.zeros(images_per_seq, 3, s, s, dtype=self.dtype, device=self.act_embed.device)
            with torch.no_grad():
                feats = self.hf.model.get_image_features(**self._pixel_kwargs(pixels, images_per_seq)).pooler_output
            self._tokens_per_image[multi] = int(feats[0].shape[0])
        n = self._tokens_per_image[multi]
        return [int(self.hf.config.image_token_index)] * n, [True] * n

    def _hidden(self, ids, attention_mask, image_mask, pixels, images_per_seq) -> torch.Tensor:
        out = self.hf.model(
            input_ids=ids, attention_mask=attention_mask, use_cache=False,
            **self._pixel_kwargs(pixels, images_per_seq),
        )
        return out.last_hidden_state

    @staticmethod
    def tiny_config(tiny: TinyBackboneConfig, image_size: int, tokenizer: Any, vocab_size: int):
        vision = SiglipVisionConfig(
            hidden_size=tiny.vision_hidden_size,
            intermediate_size=2 * tiny.vision_hidden_size,
            num_hidden_layers=tiny.vision_layers,
            num_attention_heads=tiny.heads,
            image_size=image_size,
            patch_size=tiny.patch_size,
            vision_use_head=False,
        )
        text = Qwen2Config(
            vocab_size=vocab_size,
            hidden_size=tiny.hidden_size,
            intermediate_size=2 * tiny.hidden_size,
            num_hidden_layers=tiny.layers,
            num_attention_heads=tiny.heads,
            num_key_value_heads=1,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        return LlavaOnevisionConfig(
            vision_config=vision,
            text_config=text,
            image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
            video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
            image_grid_pinpoints=[[image_size, image_size]],
            vision_feature_layer=-1,
        )

    @staticmethod
    def tiny_image_processor(image_size: int):
        return LlavaOnevisionImageProcessorPil(
            size={"height": image_size, "width": image_size}, image_grid_pinpoints=[[image_size, image_size]]
        )
