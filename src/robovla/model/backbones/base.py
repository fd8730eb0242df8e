"""One interface over every VLM backbone: token sequences with image slots in, hidden states out.

The VLA layer composes sequences from segments (instruction tokens, one image block per camera
and frame, learnable action-token slots, discrete action tokens); an adapter knows only how its
transformers class wants images and placeholder tokens. The real model class runs its own
multimodal merge, so no library file is patched or copied.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


class BackboneAdapter(nn.Module):
    """Wraps one transformers VLM (`self.hf`) plus its tokenizer and image processor."""

    #: transformers class used for this backbone (what doctor reports).
    hf_class_name: ClassVar[str] = ""
    #: name fragments of the vision tower's modules (frozen-vision mode, LoRA targets).
    vision_module_keys: ClassVar[tuple[str, ...]] = ("vision",)

    def __init__(self, hf_model: nn.Module, tokenizer: Any, image_processor: Any, image_size: int) -> None:
        super().__init__()
        self.hf = hf_model
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.image_size = int(image_size)
        mean = torch.tensor(list(image_processor.image_mean), dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(list(image_processor.image_std), dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("pixel_mean", mean, persistent=False)
        self.register_buffer("pixel_std", std, persistent=False)
        self.act_embed = nn.Parameter(torch.randn(self.hidden_size) * 0.02)
        self._pending_act_mask: torch.Tensor | None = None
        self.get_input_embeddings().register_forward_hook(self._insert_action_embeddings)
        #: instrumentation: forward calls and images encoded (the feature-cache test counts these).
        self.vlm_calls = 0
        self.vlm_images = 0
        self.vlm_sequences = 0
        self._image_block_cache: tuple[list[int], list[bool]] | None = None

    # ----------------------------------------------------------------- per-backbone API
    @property
    def hidden_size(self) -> int:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        """Size of the LM head's output (the last `num_bins` ids are the action bins)."""
        raise NotImplementedError

    @property
    def vision_image_size(self) -> int:
        """Side length the vision tower takes (images are resized to it when they differ)."""
        return self.image_size

    def get_input_embeddings(self) -> nn.Module:
        return self.hf.get_input_embeddings()

    def image_block(self) -> tuple[list[int], list[bool]]:
        """Token ids for one image in the sequence and which of them receive image features."""
        raise NotImplementedError

    def prefix_ids(self) -> list[int]:
        """Tokens that start every sequence (BOS where the backbone uses one)."""
        bos = self.tokenizer.bos_token_id
        return [] if bos is None else [int(bos)]

    def _hidden(
        self,
        ids: torch.Tensor,
        attention_mask: torch.Tensor,
        image_mask: torch.Tensor,
        pixels: torch.Tensor,
        images_per_seq: int,
    ) -> torch.Tensor:
        """Run the VLM; pixels are normalised (B*images_per_seq, 3, S, S); returns (B, L, D)."""
        raise NotImplementedError

    def lm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.hf.lm_head(hidden)

    # ----------------------------------------------------------------- shared machinery
    def tokenize(self, text: str, max_tokens: int) -> list[int]:
        """Instruction -> token ids (no special tokens); truncated to `max_tokens`."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("instruction is empty: a VLA needs a language instruction")
        ids = self.tokenizer(text.strip(), add_special_tokens=False)["input_ids"]
        if len(ids) > max_tokens:
            log.debug("instruction truncated from %d to %d tokens", len(ids), max_tokens)
            ids = ids[:max_tokens]
        return [int(i) for i in ids]

    def cached_image_block(self) -> tuple[list[int], list[bool]]:
        if self._image_block_cache is None:
            self._image_block_cache = self.image_block()
        return self._image_block_cache

    @property
    def placeholder_id(self) -> int:
        """Id written at action-token slots (its embedding is replaced by `act_embed`)."""
        for tid in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id, 0):
            if tid is not None:
                return int(tid)
        return 0

    def _insert_action_embeddings(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
        mask = self._pending_act_mask
        if mask is None or output.dim() != 3 or output.shape[:2] != mask.shape:
            return output
        return torch.where(mask.unsqueeze(-1), self.act_embed.to(output.dtype), output)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) RGB -> normalised float (N, 3, S, S) for the vision tower."""
        if images.dtype != torch.uint8:
            raise ValueError(f"images must be uint8 RGB, got dtype {images.dtype}")
        if images.dim() != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must have shape (..., H, W, 3) with 3 RGB channels, got {tuple(images.shape)}")
        h, w = images.shape[1], images.shape[2]
        if h != self.image_size or w != self.image_size:
            raise ValueError(
                f"images are {h}x{w} but the model expects {self.image_size}x{self.image_size} (config image_size)"
            )
        x = images.permute(0, 3, 1, 2).float().div_(255.0)
        s = self.vision_image_size
        if s != self.image_size:
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        x = (x - self.pixel_mean) / self.pixel_std
        return x.to(self.dtype)

    @property
    def dtype(self) -> torch.dtype:
        return self.act_embed.dtype

    def forward(
        self,
        ids: torch.Tensor,
        attention_mask: torch.Tensor,
        act_mask: torch.Tensor,
        image_mask: torch.Tensor,
        images: torch.Tensor,
    ) -> torch.Tensor:
        """ids/masks (B, L); images uint8 (B, n_images, H, W, 3) in sequence order -> hidden (B, L, D)."""
        b, n = images.shape[:2]
        pixels = self.preprocess(images.reshape(b * n, *images.shape[2:]))
        self.vlm_calls += 1
        self.vlm_images += b * n
        self.vlm_sequences += b
        self._pending_act_mask = act_mask
        try:
            return self._hidden(ids, attention_mask, image_mask, pixels, n)
        finally:
            self._pending_act_mask = None

    def reset_counters(self) -> None:
        self.vlm_calls = self.vlm_images = self.vlm_sequences = 0

    def vision_parameters(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.hf.named_parameters() if any(k in n for k in self.vision_module_keys)]
