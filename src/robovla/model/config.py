"""VLAConfig: every choice that defines a VLA (backbone, formulation, head, window, chunk...).

One dataclass, loadable from YAML, saved inside every checkpoint so a checkpoint rebuilds its
own architecture without the hub.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BACKBONES = (
    "paligemma",
    "paligemma2",
    "kosmos2",
    "qwen2_vl",
    "qwen2_5_vl",
    "llava",
    "llava_onevision",
    "smolvlm",
)
FORMULATIONS = (
    "one_step_continuous",
    "one_step_discrete",
    "interleaved_continuous",
    "policy_head_continuous",
)
HEADS = ("mlp", "lstm", "gpt", "flow")
FINETUNE_MODES = ("lora", "full", "frozen_vision")
LORA_TARGETS = ("language", "language_vision")
ARM_LOSSES = ("huber", "mse")
DTYPES = ("float32", "bfloat16", "float16")


TEXT_INITS = ("random", "wordllama")


@dataclass
class TinyBackboneConfig:
    """Sizes of the random-weight backbone built offline when `pretrained` is None (tests, doctor)."""

    hidden_size: int = 32
    layers: int = 2
    heads: int = 2
    vision_hidden_size: int = 32
    vision_layers: int = 1
    patch_size: int = 16
    vocab_size: int = 400  # BPE vocab before the 256 reserved action-bin ids (text_init random)
    # the text side: "random" (a byte-level BPE trained on the spot, random embeddings) or
    # "wordllama" (the Llama-2 tokenizer and 256-d token embeddings the wordllama wheel ships,
    # projected to hidden_size: instructions start with word meanings; vocab_size is then unused)
    text_init: str = "random"

    def __post_init__(self) -> None:
        if self.text_init not in TEXT_INITS:
            raise ValueError(f"tiny.text_init must be one of {', '.join(TEXT_INITS)}, got {self.text_init!r}")


@dataclass
class VLAConfig:
    """A VLA = VLM backbone + formulation (+ policy head) over a history window."""

    backbone: str = "paligemma"
    formulation: str = "policy_head_continuous"
    head: str = "lstm"
    window: int = 8  # T: frames of history seen per prediction
    chunk: int = 10  # k: future actions predicted per frame
    image_size: int = 224
    cameras: list[str] = field(default_factory=lambda: ["front"])  # the sim's and recorder's name
    pretrained: str | None = None  # hub id or local dir; None => tiny random backbone
    finetune: str = "lora"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: str = "language"
    lora_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    head_hidden: int = 256
    head_layers: int = 2
    action_dim: int = 7
    num_bins: int = 256
    arm_loss: str = "huber"
    huber_delta: float = 1.0
    arm_loss_weight: float = 1.0
    gripper_loss_weight: float = 0.01
    gripper_pos_weight: float = 1.0  # BCE weight of the "closed" class
    flow_steps: int = 10  # integration steps of the flow-matching head
    dt: float = 0.1  # seconds between actions (the control period the data was recorded at)
    max_instruction_tokens: int = 48
    # Proprioception (7 joint angles + gripper) added to each frame's feature before the head.
    # RoboVLMs' formulations are vision + language only (False); a small model trained on a few
    # CPU minutes localises the arm far better from its joints than from 64 px pixels.
    state_input: bool = False
    dtype: str = "float32"
    # Recompute the VLM's layer activations in the backward pass instead of keeping them: a policy
    # head trains on every frame of the window, so activations grow with T. Window 16, batch 1, LoRA,
    # bf16: PaliGemma-3B 9.7 GB peak RSS with it; KosMos-2 4.7 GB with it, 8.0 GB without
    # (bench/results/model_full_cpu.md). It costs a second forward pass through the VLM. Training
    # only; inference is unchanged.
    activation_checkpointing: bool = False
    seed: int = 0
    tiny: TinyBackboneConfig = field(default_factory=TinyBackboneConfig)

    def __post_init__(self) -> None:
        if isinstance(self.tiny, dict):
            self.tiny = TinyBackboneConfig(**self.tiny)
        self.cameras = list(self.cameras)
        self.lora_modules = list(self.lora_modules)
        self.validate()

    def validate(self) -> None:
        def one_of(name: str, allowed: tuple[str, ...]) -> None:
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")

        one_of("backbone", BACKBONES)
        one_of("formulation", FORMULATIONS)
        one_of("head", HEADS)
        one_of("finetune", FINETUNE_MODES)
        one_of("lora_targets", LORA_TARGETS)
        one_of("arm_loss", ARM_LOSSES)
        one_of("dtype", DTYPES)
        for name in ("window", "chunk", "image_size", "action_dim", "num_bins", "head_hidden", "head_layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.action_dim < 2:
            raise ValueError("action_dim must be >= 2 (arm dims + gripper)")
        if not self.cameras or len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras must be a non-empty list of distinct names, got {self.cameras}")
        if not self.dt > 0:
            raise ValueError(f"dt must be positive, got {self.dt}")
        if self.state_input and self.is_discrete:
            raise ValueError("state_input needs a continuous formulation: one_step_discrete decodes actions "
                             "from the LM head, which has no input for the state")
        if self.head == "flow" and self.formulation == "one_step_discrete":
            raise ValueError("the flow head is continuous; it cannot be used with one_step_discrete")

    @property
    def is_discrete(self) -> bool:
        return self.formulation == "one_step_discrete"

    @property
    def effective_window(self) -> int:
        """Frames the model actually reads: one-step formulations use only the newest frame."""
        return 1 if self.formulation.startswith("one_step") else self.window

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VLAConfig:
        d = dict(d.get("model", d))  # accept a {model: {...}} preset
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown VLAConfig field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**d)

    @classmethod
    def from_yaml(cls, path: str | Path) -> VLAConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model config {path} does not exist")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"model config {path} must hold a mapping, got {type(data).__name__}")
        return cls.from_dict(data)

    def to_yaml(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    def replace(self, **changes: Any) -> VLAConfig:
        return dataclasses.replace(self, **changes)
