"""Policy heads: per-frame VLM features (B, T, D) -> an action chunk per frame (B, T, k, A).

All heads are causal over the window (frame t sees frames <= t), so the prediction for the
newest frame at inference equals the training prediction at the same position. Continuous
heads return normalised arm actions in [-1, 1] (tanh) and gripper logits.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class _ChunkDecoder(nn.Module):
    """Feature -> k arm actions (tanh) + k gripper logits (RoboVLMs' two MLP outputs)."""

    def __init__(self, hidden: int, chunk: int, action_dim: int) -> None:
        super().__init__()
        self.chunk, self.arm_dims = chunk, action_dim - 1
        self.arm = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, chunk * self.arm_dims))
        self.gripper = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, chunk))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        arm = torch.tanh(self.arm(h)).unflatten(-1, (self.chunk, self.arm_dims))
        return arm, self.gripper(h)


class MLPHead(nn.Module):
    """Each frame's feature on its own (no history): the one-step / interleaved default."""

    def __init__(self, in_dim: int, hidden: int, layers: int, chunk: int, action_dim: int) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU()]
        for _ in range(layers - 1):
            mods += [nn.Linear(hidden, hidden), nn.GELU()]
        self.body = nn.Sequential(*mods)
        self.decoder = _ChunkDecoder(hidden, chunk, action_dim)

    def forward(self, feats: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decoder(self.body(feats))


class LSTMHead(nn.Module):
    """RoboVLMs' policy head: an LSTM over the window's action-token features."""

    def __init__(self, in_dim: int, hidden: int, layers: int, chunk: int, action_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(in_dim)
        self.lstm = nn.LSTM(in_dim, hidden, num_layers=layers, batch_first=True)
        self.decoder = _ChunkDecoder(hidden, chunk, action_dim)

    def forward(self, feats: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Padding frames (before the episode start) are zeroed so they carry no information.
        x = self.norm(feats) * valid.unsqueeze(-1).to(feats.dtype)
        out, _ = self.lstm(x)
        return self.decoder(out)


class GPTHead(nn.Module):
    """A small causal transformer over the window (GR-1 / RoboVLMs' GPT head)."""

    def __init__(self, in_dim: int, hidden: int, layers: int, chunk: int, action_dim: int, max_len: int = 64) -> None:
        super().__init__()
        heads = 4 if hidden % 4 == 0 else 1
        self.proj = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden))
        self.pos = nn.Parameter(torch.zeros(max_len, hidden))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            hidden, heads, dim_feedforward=2 * hidden, dropout=0.0, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.decoder = _ChunkDecoder(hidden, chunk, action_dim)

    def forward(self, feats: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = feats.shape[1]
        if t > self.pos.shape[0]:
            raise ValueError(f"GPT head supports windows up to {self.pos.shape[0]} frames, got {t}")
        x = self.proj(feats) + self.pos[:t]
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=feats.device), 1)
        # Padding frames are never attended to (the newest frame is always valid, so no row is empty
        # for a valid frame; rows of padding frames may attend to themselves only).
        block = causal.unsqueeze(0) | ~valid.unsqueeze(1)
        block = block & ~torch.eye(t, dtype=torch.bool, device=feats.device).unsqueeze(0)
        heads = self.blocks.layers[0].self_attn.num_heads
        mask = block.repeat_interleave(heads, dim=0)
        return self.decoder(self.blocks(x, mask=mask))


class FlowHead(nn.Module):
    """Flow-matching action head (pi0-style): a velocity field over the normalised chunk,
    conditioned on an LSTM summary of the window; Euler-integrated from noise at inference."""

    def __init__(self, in_dim: int, hidden: int, layers: int, chunk: int, action_dim: int, steps: int = 10) -> None:
        super().__init__()
        self.chunk, self.action_dim, self.steps = chunk, action_dim, steps
        self.context = nn.LSTM(in_dim, hidden, num_layers=max(1, layers - 1), batch_first=True)
        self.norm = nn.LayerNorm(in_dim)
        flat = chunk * action_dim
        self.velocity = nn.Sequential(
            nn.Linear(hidden + flat + 1, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, flat)
        )

    def condition(self, feats: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        out, _ = self.context(self.norm(feats) * valid.unsqueeze(-1).to(feats.dtype))
        return out

    def predict_velocity(self, ctx: torch.Tensor, x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        v = self.velocity(torch.cat([ctx, x.flatten(-2), tau.unsqueeze(-1)], dim=-1))
        return v.unflatten(-1, (self.chunk, self.action_dim))

    def loss(self, ctx: torch.Tensor, target: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-element squared error of the velocity (B, T, k, A); target in [-1, 1]."""
        noise = torch.randn(target.shape, generator=generator, device=target.device, dtype=target.dtype)
        tau = torch.rand(target.shape[:2], generator=generator, device=target.device, dtype=target.dtype)
        x_tau = tau[..., None, None] * target + (1 - tau[..., None, None]) * noise
        v = self.predict_velocity(ctx, x_tau, tau)
        return (v - (target - noise)) ** 2

    @torch.no_grad()
    def sample(self, ctx: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """Deterministic (seeded) Euler integration from noise to a chunk (B, T, k, A) in [-1, 1]."""
        g = torch.Generator(device="cpu").manual_seed(seed)
        x = torch.randn((*ctx.shape[:2], self.chunk, self.action_dim), generator=g).to(ctx.device, ctx.dtype)
        dt = 1.0 / self.steps
        for i in range(self.steps):
            tau = torch.full(ctx.shape[:2], i * dt, device=ctx.device, dtype=ctx.dtype)
            x = x + dt * self.predict_velocity(ctx, x, tau)
        return x.clamp(-1, 1)

    def forward(self, feats: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.sample(self.condition(feats, valid))
        # Gripper dim lives in [-1, 1] too; expose it as a logit-like score (0 = threshold).
        return a[..., :-1], a[..., -1] * 10.0


def build_head(kind: str, in_dim: int, hidden: int, layers: int, chunk: int, action_dim: int, window: int,
               flow_steps: int = 10) -> nn.Module:
    if kind == "mlp":
        return MLPHead(in_dim, hidden, layers, chunk, action_dim)
    if kind == "lstm":
        return LSTMHead(in_dim, hidden, layers, chunk, action_dim)
    if kind == "gpt":
        return GPTHead(in_dim, hidden, layers, chunk, action_dim, max_len=max(64, 2 ** math.ceil(math.log2(window))))
    if kind == "flow":
        return FlowHead(in_dim, hidden, layers, chunk, action_dim, steps=flow_steps)
    raise ValueError(f"unknown head {kind!r}; choose one of mlp, lstm, gpt, flow")
