"""The one policy interface the inference node calls.

Every policy (the placeholder ScriptedPolicy, the VLA models of `robovla.model`, the sim's
privileged expert) implements it, so the graph never knows which one it runs.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from robovla.policy.types import ActionChunk, ObservationWindow


@runtime_checkable
class Policy(Protocol):
    """reset() at the start of every episode, then step() once per new observation window."""

    #: Short name shown in logs and results ("scripted", "vla:paligemma/policy_head", ...).
    name: str

    def reset(self) -> None:
        """Forget all per-episode state (feature caches, tokenised instruction, RNN state)."""

    def step(self, window: ObservationWindow, instruction: str) -> ActionChunk:
        """Predict the next action chunk for the newest frame of `window`."""
        ...
