"""SlowPolicy: the committed demo VLA, made artificially slow (test-only).

Loaded by the real vla_inference node through the `module:factory` policy spec, with test/graph
on its PYTHONPATH: `slow_policy:make`. Each step sleeps $SLOW_POLICY_S (default 0.3 s) before the
wrapped policy's step, so on any machine the policy is slower than the 0.1 s control period; in a
lock-stepped eval with a latency model it must score exactly as the fast one does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from robovla.policy.registry import load_policy
from robovla.policy.types import ActionChunk, ObservationWindow

DEMO = Path(__file__).resolve().parents[2] / "checkpoints" / "demo"


class SlowPolicy:
    def __init__(self, inner, delay_s: float) -> None:
        self.inner, self.delay_s = inner, delay_s
        self.name = f"{inner.name} + {delay_s * 1e3:.0f} ms sleep (test)"

    def reset(self) -> None:
        self.inner.reset()

    def step(self, window: ObservationWindow, instruction: str) -> ActionChunk:
        time.sleep(self.delay_s)
        return self.inner.step(window, instruction)


def make(**kwargs) -> SlowPolicy:
    """vla_inference's keyword arguments (dt, horizon, device) go to the checkpoint, as for a plain one."""
    checkpoint = os.environ.get("SLOW_POLICY_CHECKPOINT", str(DEMO))
    return SlowPolicy(load_policy(checkpoint, **kwargs), float(os.environ.get("SLOW_POLICY_S", "0.3")))
