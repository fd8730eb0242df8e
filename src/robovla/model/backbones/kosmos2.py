"""KosMos-2 (CLIP ViT + a perceiver-style resampler + a Magneto LM): RoboVLMs' best backbone.

Its image features enter through `image_embeds_position_mask`, so the adapter computes the
(resampled) image embeddings itself and hands them to the text model, which also makes several
images per sequence (interleaved formulation) possible with the stock class.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from transformers import CLIPImageProcessorPil, Kosmos2Config, Kosmos2ForConditionalGeneration

from robovla.model.backbones.base import BackboneAdapter
from robovla.model.config import TinyBackboneConfig


class Kosmos2Adapter(BackboneAdapter):
    hf_class_name = "Kosmos2ForConditionalGeneration"
    hf_class = Kosmos2ForConditionalGeneration
    image_processor_class = CLIPImageProcessorPil
    vision_module_keys = ("vision_model", "image_to_text_projection")

    @property
    def hidden_size(self) -> int:
        return int(self.hf.config.text_config.embed_dim)

    @property
    def vocab_size(self) -> int:
        return int(self.hf.config.text_config.vocab_size)

    @property
    def vision_image_size(self) -> int:
        return int(self.hf.config.vision_config.image_size)

    @property
    def placeholder_id(self) -> int:
        # Kosmos-2 derives positions from ids != pad, so slots must not hold the pad id.
        return int(self.tokenizer.eos_token_id)

    def prefix_ids(self) -> list[int]:
        return [int(self.tokenizer.bos_token_id)]

    def image_block(self, images_per_seq: int = 1) -> tuple[list[int], list[bool]]:
        q = int(self.hf.config.latent_query_num)
        start = self.tokenizer.convert_tokens_to_ids("<image>")
        end = self.tokenizer.convert_tokens_to_ids("</image>")
        slot = int(self.tokenizer.bos_token_id)
        return [start] + [slot] * q + [end], [False] + [True] * q + [False]

    def _hidden(self, ids, attention_mask, image_mask, pixels, images_per_seq) -> torch.Tensor:
        vision = self.hf.vision_model(pixel_values=pixels, return_dict=True)
        emb = self.hf.vision_model.model.post_layernorm(vision.last_hidden_state)
        emb = F.normalize(emb, dim=-1)
        emb, _ = self.hf.image_to_text_projection(emb)  # (N, Q, D)
        b = ids.shape[0]
        emb = emb.reshape(b, -1, emb.shape[-1])
        out = self.hf.text_model.model(
            input_ids=ids,
            attention_mask=attention_mask,
            image_embeds=emb,
            image_embeds_position_mask=image_mask.long(),
            use_cache=False,
        )
        return out.last_hidden_state

    def lm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.hf.text_model.lm_head(hidden)

    @staticmethod
    def tiny_config(tiny: TinyBackboneConfig, image_size: int, tokenizer: Any, vocab_size: int):
        return Kosmos2Config(
            text_config=dict(
                vocab_size=vocab_size,
                embed_dim=tiny.hidden_size,
                layers=tiny.layers,
                attention_heads=tiny.heads,
                ffn_dim=2 * tiny.hidden_size,
                dropout=0.0,
                attention_dropout=0.0,
                activation_dropout=0.0,
                layerdrop=0.0,
                pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
            ),
            vision_config=dict(
                hidden_size=tiny.vision_hidden_size,
                intermediate_size=2 * tiny.vision_hidden_size,
                num_hidden_layers=tiny.vision_layers,
                num_attention_heads=tiny.heads,
                image_size=image_size,
                patch_size=tiny.patch_size,
                attention_dropout=0.0,
            ),
            latent_query_num=16,
        )

    @staticmethod
    def tiny_image_processor(image_size: int):
        return CLIPImageProcessorPil(
            size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
        )
