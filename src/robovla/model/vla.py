"""VLAModel: a VLM backbone + one of the four RoboVLMs formulations (+ a policy head).

Formulations (what the VLM sees and where actions come from):
  one_step_continuous     newest frame + instruction + action token -> head -> chunk
  one_step_discrete       newest frame + instruction -> 7*k action-bin tokens from the LM head
  interleaved_continuous  instruction, then (frame, action token) x T in ONE sequence -> head per frame
  policy_head_continuous  each frame separately (frame + instruction + action token) -> head over T

The policy-head formulation is what makes a per-frame feature cache possible at inference:
a frame's feature never depends on the other frames, so each frame goes through the VLM once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from robovla.model.action_space import ActionStats, discretize, undiscretize
from robovla.model.backbones import BackboneAdapter
from robovla.model.config import VLAConfig
from robovla.model.heads import FlowHead, build_head
from robovla.policy.types import N_JOINTS, STATE_DIM

log = logging.getLogger(__name__)

VISION_LORA_EXTRA = ("qkv", "out_proj", "fc1", "fc2")
# sin and cos of each joint angle + the gripper: bounded, wrap-free, no statistics needed
STATE_FEATURES = 2 * N_JOINTS + (STATE_DIM - N_JOINTS)


def state_features(state: torch.Tensor) -> torch.Tensor:
    """(..., STATE_DIM) joints + gripper -> (..., STATE_FEATURES) [sin q, cos q, gripper]."""
    if state.shape[-1] != STATE_DIM:
        raise ValueError(f"state must have {STATE_DIM} values (7 joints + gripper) in its last dim, got {tuple(state.shape)}")
    q = state[..., :N_JOINTS]
    return torch.cat([torch.sin(q), torch.cos(q), state[..., N_JOINTS:]], dim=-1)


class VLAModel(nn.Module):
    """Build with `robovla.model.build_vla`; load with `robovla.model.load_vla`."""

    def __init__(self, cfg: VLAConfig, backbone: BackboneAdapter, action_stats: ActionStats | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone
        if action_stats is None:
            log.warning("no action statistics given: using identity normalisation (arm range [-1, 1])")
            action_stats = ActionStats.identity(cfg.action_dim)
        if action_stats.dim != cfg.action_dim:
            raise ValueError(f"action statistics have {action_stats.dim} dims but the config has action_dim={cfg.action_dim}")
        self.action_stats = action_stats
        self.head: nn.Module | None = None
        if not cfg.is_discrete:
            self.head = build_head(
                cfg.head, backbone.hidden_size, cfg.head_hidden, cfg.head_layers, cfg.chunk, cfg.action_dim,
                cfg.window, cfg.flow_steps,
            )
        elif backbone.vocab_size <= cfg.num_bins:
            raise ValueError(f"vocabulary of {backbone.vocab_size} is too small for {cfg.num_bins} action bins")
        self.state_proj: nn.Module | None = None
        if cfg.state_input:
            self.state_proj = nn.Sequential(
                nn.Linear(STATE_FEATURES, backbone.hidden_size), nn.GELU(), nn.Linear(backbone.hidden_size, backbone.hidden_size)
            )
        self.lora_module_names: list[str] = []
        self._apply_finetune()
        if cfg.activation_checkpointing:
            # non-reentrant: with LoRA or a frozen vision tower the checkpointed inputs need no grad
            backbone.hf.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})

    # ------------------------------------------------------------------ fine-tuning modes
    def _apply_finetune(self) -> None:
        mode = self.cfg.finetune
        if mode == "frozen_vision":
            for _, p in self.backbone.vision_parameters():
                p.requires_grad_(False)
        elif mode == "lora":
            from peft import LoraConfig, inject_adapter_in_model

            hf = self.backbone.hf
            keys = self.backbone.vision_module_keys
            names = []
            for name, module in hf.named_modules():
                if not isinstance(module, nn.Linear):
                    continue
                leaf = name.rsplit(".", 1)[-1]
                in_vision = any(k in name for k in keys)
                if in_vision and self.cfg.lora_targets == "language_vision":
                    if leaf in self.cfg.lora_modules or leaf in VISION_LORA_EXTRA:
                        names.append(name)
                elif not in_vision and leaf in self.cfg.lora_modules:
                    names.append(name)
            if not names:
                raise ValueError(
                    f"LoRA: no Linear module of {type(hf).__name__} is named one of {self.cfg.lora_modules}"
                )
            lora = LoraConfig(
                r=self.cfg.lora_r, lora_alpha=self.cfg.lora_alpha, lora_dropout=self.cfg.lora_dropout,
                target_modules=names,
            )
            inject_adapter_in_model(lora, hf)
            self.lora_module_names = names
            for n, p in hf.named_parameters():
                p.requires_grad_("lora_" in n)
            log.info("LoRA r=%d on %d modules (%s)", self.cfg.lora_r, len(names), self.cfg.lora_targets)

    def fresh_modules(self) -> list[nn.Module]:
        """Modules that never come from a VLM checkpoint (policy head, state projection): they train at head_lr."""
        return [m for m in (self.head, self.state_proj) if m is not None]

    def parameter_counts(self) -> dict[str, int]:
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        head = sum(p.numel() for m in self.fresh_modules() for p in m.parameters())
        return {"total": total, "trainable": trainable, "backbone": total - head, "head": head}

    @property
    def device(self) -> torch.device:
        return self.backbone.act_embed.device

    # ------------------------------------------------------------------ sequence building
    def tokenize(self, instruction: str) -> list[int]:
        return self.backbone.tokenize(instruction, self.cfg.max_instruction_tokens)

    def _pad(self, seqs: Sequence[tuple[list[int], list[bool], list[bool]]]) -> tuple[torch.Tensor, ...]:
        """Right-pad (ids, image_mask, act_mask) sequences into (B, L) tensors + attention mask."""
        pad = self.backbone.tokenizer.pad_token_id
        pad = 0 if pad is None else int(pad)
        length = max(len(s[0]) for s in seqs)
        b = len(seqs)
        ids = torch.full((b, length), pad, dtype=torch.long)
        att = torch.zeros((b, length), dtype=torch.long)
        img = torch.zeros((b, length), dtype=torch.bool)
        act = torch.zeros((b, length), dtype=torch.bool)
        for i, (s_ids, s_img, s_act) in enumerate(seqs):
            n = len(s_ids)
            ids[i, :n] = torch.tensor(s_ids)
            att[i, :n] = 1
            img[i, :n] = torch.tensor(s_img)
            act[i, :n] = torch.tensor(s_act)
        dev = self.device
        return ids.to(dev), att.to(dev), img.to(dev), act.to(dev)

    def _check_images(self, images: torch.Tensor, frames_dim: bool = True) -> None:
        want = 6 if frames_dim else 5
        if images.dim() != want:
            layout = "(B, T, n_cams, H, W, 3)" if frames_dim else "(N, n_cams, H, W, 3)"
            raise ValueError(f"images must have shape {layout}, got {tuple(images.shape)}")
        n_cams = images.shape[-4]
        if n_cams != len(self.cfg.cameras):
            raise ValueError(
                f"images hold {n_cams} camera(s) but the model was configured for {len(self.cfg.cameras)} "
                f"({', '.join(self.cfg.cameras)})"
            )
        if images.shape[-1] != 3:
            raise ValueError(f"images must have 3 RGB channels in the last dim, got {images.shape[-1]}")

    def frame_features(self, images: torch.Tensor, text_ids: Sequence[list[int]]) -> torch.Tensor:
        """One VLM sequence per frame: images (N, n_cams, H, W, 3) uint8 -> action-token features (N, D)."""
        self._check_images(images, frames_dim=False)
        n_cams = images.shape[1]
        blk_ids, blk_mask = self.backbone.cached_image_block() if n_cams == 1 else self.backbone.image_block(n_cams)
        prefix = self.backbone.prefix_ids()
        ph = self.backbone.placeholder_id
        seqs = []
        for text in text_ids:
            ids = prefix + blk_ids * n_cams + text + [ph]
            img = [False] * len(prefix) + blk_mask * n_cams + [False] * (len(text) + 1)
            act = [False] * (len(ids) - 1) + [True]
            seqs.append((ids, img, act))
        ids, att, img, act = self._pad(seqs)
        hidden = self.backbone(ids, att, act, img, images.to(self.device))
        return hidden[act].view(len(seqs), -1)

    def interleaved_features(self, images: torch.Tensor, text_ids: Sequence[list[int]]) -> torch.Tensor:
        """One sequence per sample: instruction, then (frame, action token) x T -> (B, T, D)."""
        b, t, n_cams = images.shape[:3]
        per_seq = t * n_cams
        blk_ids, blk_mask = self.backbone.image_block(per_seq)
        prefix = self.backbone.prefix_ids()
        ph = self.backbone.placeholder_id
        seqs = []
        for text in text_ids:
            ids, img, act = list(prefix) + list(text), [False] * (len(prefix) + len(text)), []
            act = [False] * len(ids)
            for _ in range(t):
                ids += blk_ids * n_cams + [ph]
                img += blk_mask * n_cams + [False]
                act += [False] * (len(blk_ids) * n_cams) + [True]
            seqs.append((ids, img, act))
        ids, att, img, act = self._pad(seqs)
        hidden = self.backbone(ids, att, act, img, images.reshape(b, per_seq, *images.shape[3:]).to(self.device))
        return hidden[act].view(b, t, -1)

    def window_features(self, images: torch.Tensor, text_ids: Sequence[list[int]]) -> torch.Tensor:
        """Per-frame features for a batch of windows, as the formulation defines them (B, T', D)."""
        self._check_images(images)
        f = self.cfg.formulation
        if f == "interleaved_continuous":
            return self.interleaved_features(images, text_ids)
        if f == "one_step_continuous":
            return self.frame_features(images[:, -1], text_ids).unsqueeze(1)
        b, t = images.shape[:2]
        rep = [ids for ids in text_ids for _ in range(t)]
        return self.frame_features(images.flatten(0, 1), rep).view(b, t, -1)

    def head_outputs(self, feats: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T', D) features -> normalised arm chunk (B, T', k, A-1) and gripper logits (B, T', k)."""
        assert self.head is not None
        return self.head(feats.to(next(self.head.parameters()).dtype), valid.to(feats.device))

    # ------------------------------------------------------------------ batch helpers
    def _batch_text(self, instruction: Any) -> list[list[int]]:
        if isinstance(instruction, str):
            instruction = [instruction]
        return [self.tokenize(s) for s in instruction]

    def _window_slice(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Select the frames the formulation reads and the first k actions; validate shapes."""
        for key in ("images", "actions", "action_mask", "valid", "instruction"):
            if key not in batch:
                raise KeyError(f"batch is missing {key!r}")
        images, actions = batch["images"], batch["actions"]
        self._check_images(images)
        b, t = images.shape[:2]
        if actions.dim() != 4 or actions.shape[:2] != (b, t) or actions.shape[-1] != self.cfg.action_dim:
            raise ValueError(
                f"actions must have shape (B={b}, T={t}, k, {self.cfg.action_dim}), got {tuple(actions.shape)}"
            )
        k = self.cfg.chunk
        if actions.shape[2] < k:
            raise ValueError(f"actions hold {actions.shape[2]} future steps but the model predicts chunks of {k}")
        valid = batch["valid"].bool()
        mask = batch["action_mask"].bool()[:, :, :k]
        if self.cfg.effective_window == 1:
            images, actions, mask, valid = images[:, -1:], actions[:, -1:], mask[:, -1:], valid[:, -1:]
        dev = self.device
        out = {
            "images": images,
            "actions": actions[:, :, :k].to(dev, torch.float32),
            "mask": (mask & valid.unsqueeze(-1)).to(dev),
            "valid": valid.to(dev),
        }
        if self.cfg.state_input:
            if "state" not in batch:
                raise KeyError("batch is missing 'state' (the model was configured with state_input)")
            state = torch.as_tensor(batch["state"])
            if state.shape[:2] != (b, t):
                raise ValueError(f"state must have shape (B={b}, T={t}, {STATE_DIM}), got {tuple(state.shape)}")
            out["state"] = state.to(dev, torch.float32)
        return out

    def _with_state(self, feats: torch.Tensor, state: torch.Tensor | None) -> torch.Tensor:
        """Per-frame features (B, T', D) + the embedding of the state of the same (newest T') frames."""
        if self.state_proj is None:
            return feats
        if state is None:
            raise ValueError("this model reads the robot state (state_input=True) but none was given")
        state = state[:, -feats.shape[1]:].to(feats.device, torch.float32)
        return feats + self.state_proj(state_features(state).to(feats.dtype))

    # ------------------------------------------------------------------ losses
    def compute_loss(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Training loss of a collated batch; returns {"loss": tensor, metrics as floats}."""
        w = self._window_slice(batch)
        text_ids = self._batch_text(batch["instruction"])
        if self.cfg.is_discrete:
            return self._discrete_loss(w, text_ids)
        target = self.action_stats.normalize(w["actions"])  # (B, T', k, A)
        feats = self._with_state(self.window_features(w["images"], text_ids), w.get("state"))
        m = w["mask"].float()
        denom = m.sum().clamp(min=1.0)
        if isinstance(self.head, FlowHead):
            ctx = self.head.condition(feats.to(target.dtype), w["valid"])
            flow_target = torch.cat([target[..., :-1], target[..., -1:] * 2 - 1], dim=-1)
            err = self.head.loss(ctx, flow_target)
            arm_loss = (err[..., :-1].mean(-1) * m).sum() / denom
            gripper_loss = (err[..., -1] * m).sum() / denom
            with torch.no_grad():
                sample = self.head.sample(ctx)
            arm, grip_logit = sample[..., :-1], sample[..., -1] * 10.0
        else:
            arm, grip_logit = self.head_outputs(feats, w["valid"])
            if self.cfg.arm_loss == "huber":
                err = F.huber_loss(arm, target[..., :-1], reduction="none", delta=self.cfg.huber_delta)
            else:
                err = F.mse_loss(arm, target[..., :-1], reduction="none")
            arm_loss = (err.mean(-1) * m).sum() / denom
            pos_weight = torch.tensor(self.cfg.gripper_pos_weight, device=arm.device, dtype=grip_logit.dtype)
            bce = F.binary_cross_entropy_with_logits(grip_logit, target[..., -1], reduction="none", pos_weight=pos_weight)
            gripper_loss = (bce * m).sum() / denom
        loss = self.cfg.arm_loss_weight * arm_loss + self.cfg.gripper_loss_weight * gripper_loss
        with torch.no_grad():
            acc = (((grip_logit > 0).float() == target[..., -1]).float() * m).sum() / denom
            mse = (((arm.detach() - target[..., :-1]) ** 2).mean(-1) * m).sum() / denom
        return {
            "loss": loss,
            "arm_loss": float(arm_loss.detach()),
            "gripper_loss": float(gripper_loss.detach()),
            "gripper_acc": float(acc),
            "action_mse": float(mse),
        }

    # ------------------------------------------------------------------ discrete (RT-2 style)
    @property
    def bin_offset(self) -> int:
        """Id of bin 0: the action bins are the last `num_bins` ids of the LM vocabulary."""
        return self.backbone.vocab_size - self.cfg.num_bins

    def _valid_bins(self, bin_logits: torch.Tensor) -> torch.Tensor:
        """Mask bins that cannot occur: a gripper token is either the first or the last bin."""
        a = self.cfg.action_dim
        grip = (torch.arange(bin_logits.shape[1], device=bin_logits.device) % a) == a - 1
        inner = torch.zeros(bin_logits.shape[-1], dtype=torch.bool, device=bin_logits.device)
        inner[1:-1] = True
        blocked = grip[:, None] & inner[None, :]
        return bin_logits.masked_fill(blocked.unsqueeze(0), float("-inf"))

    def _discrete_logits(
        self, images: torch.Tensor, text_ids: Sequence[list[int]], tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits over the bins predicting each of `tokens` (B, n) (teacher forcing): (B, n, num_bins)."""
        n_cams = images.shape[1]
        blk_ids, blk_mask = self.backbone.cached_image_block() if n_cams == 1 else self.backbone.image_block(n_cams)
        prefix = self.backbone.prefix_ids()
        n = tokens.shape[1]
        seqs, starts = [], []
        tok_ids = (tokens + self.bin_offset).tolist()
        for text, acts in zip(text_ids, tok_ids):
            ids = prefix + blk_ids * n_cams + text
            starts.append(len(ids))
            img = [False] * len(prefix) + blk_mask * n_cams + [False] * len(text)
            ids = ids + acts[:-1] if n > 0 else ids
            img = img + [False] * max(n - 1, 0)
            seqs.append((ids, img, [False] * len(ids)))
        ids, att, img, act = self._pad(seqs)
        hidden = self.backbone(ids, att, act, img, images.to(self.device))
        pos = torch.tensor(starts, device=hidden.device).unsqueeze(1) - 1 + torch.arange(max(n, 1), device=hidden.device)
        h = hidden.gather(1, pos.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
        logits = self.backbone.lm_logits(h)
        bins = self._valid_bins(logits[..., self.bin_offset : self.bin_offset + self.cfg.num_bins])
        return bins, logits

    def _discrete_loss(self, w: dict[str, torch.Tensor], text_ids: list[list[int]]) -> dict[str, Any]:
        target = self.action_stats.normalize(w["actions"][:, -1])  # (B, k, A)
        bins = discretize(target, self.cfg.num_bins)  # (B, k, A)
        b, k, a = bins.shape
        flat = bins.reshape(b, k * a)
        bin_logits, full_logits = self._discrete_logits(w["images"][:, -1], text_ids, flat)
        labels = (flat + self.bin_offset).masked_fill(~w["mask"][:, -1].repeat_interleave(a, dim=1), -100)
        ce = F.cross_entropy(full_logits.transpose(1, 2).float(), labels, reduction="none", ignore_index=-100)
        ce = ce.view(b, k, a)
        m = w["mask"][:, -1].float()
        denom = m.sum().clamp(min=1.0)
        arm_loss = (ce[..., :-1].mean(-1) * m).sum() / denom
        gripper_loss = (ce[..., -1] * m).sum() / denom
        loss = (ce.sum(-1) * m).sum() / (denom * a)
        with torch.no_grad():
            pred = undiscretize(bin_logits.argmax(-1).view(b, k, a), self.cfg.num_bins).to(target.device)
            acc = ((pred[..., -1] == target[..., -1]).float() * m).sum() / denom
            mse = (((pred[..., :-1] - target[..., :-1]) ** 2).mean(-1) * m).sum() / denom
        return {
            "loss": loss,
            "arm_loss": float(arm_loss.detach()),
            "gripper_loss": float(gripper_loss.detach()),
            "gripper_acc": float(acc),
            "action_mse": float(mse),
        }

    @torch.no_grad()
    def decode_discrete(self, images: torch.Tensor, text_ids: Sequence[list[int]]) -> torch.Tensor:
        """Greedy decoding of k*A bin tokens, restricted to the bin ids: (B, k, A) bins."""
        b = images.shape[0]
        n = self.cfg.chunk * self.cfg.action_dim
        tokens = torch.zeros((b, 0), dtype=torch.long)
        for i in range(n):
            probe = torch.cat([tokens, torch.zeros((b, 1), dtype=torch.long)], dim=1)
            bin_logits, _ = self._discrete_logits(images, text_ids, probe)
            tokens = torch.cat([tokens, bin_logits[:, i].argmax(-1).cpu().unsqueeze(1)], dim=1)
        return tokens.view(b, self.cfg.chunk, self.cfg.action_dim)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_normalized_from_features(self, feats: torch.Tensor, valid: torch.Tensor,
                                         state: torch.Tensor | None = None) -> torch.Tensor:
        """Head over (B, T', D) features (+ the state of those frames, when the model reads it) ->
        normalised chunk of the newest frame (B, k, A), gripper in {0,1}."""
        feats = self._with_state(feats, state)
        if isinstance(self.head, FlowHead):
            sample = self.head.sample(self.head.condition(feats, valid))[:, -1]
            return torch.cat([sample[..., :-1], (sample[..., -1:] > 0).to(sample.dtype)], dim=-1)
        arm, grip = self.head_outputs(feats, valid)
        return torch.cat([arm[:, -1], (grip[:, -1] > 0).to(arm.dtype).unsqueeze(-1)], dim=-1)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, valid: torch.Tensor, instruction: str | Sequence[str],
                state: torch.Tensor | None = None) -> torch.Tensor:
        """RAW (unnormalised) chunk for the newest frame of each window: images (B, T, n_cams, H, W, 3) -> (B, k, A).

        This recomputes every frame; `VLAPolicy` uses the per-frame cache instead."""
        self._check_images(images)
        text_ids = self._batch_text(instruction)
        if self.cfg.effective_window == 1:
            images, valid = images[:, -1:], valid[:, -1:]
        if self.cfg.is_discrete:
            bins = self.decode_discrete(images[:, -1], text_ids)
            norm = undiscretize(bins, self.cfg.num_bins)
        else:
            feats = self.window_features(images, text_ids)
            norm = self.predict_normalized_from_features(feats, valid.to(self.device), state)
        return self.action_stats.unnormalize(norm.float().cpu())

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, directory: Any) -> None:
        from robovla.model.checkpoint import save_checkpoint

        save_checkpoint(self, directory)
