"""FuzzPolicy: what a broken model could emit (random, huge, non-finite, table-seeking chunks).

Test-only: loaded by the real vla_inference node through the `module:factory` policy spec, with
test/graph on its PYTHONPATH. Never run it against a real arm. Every step appends its chunk kind
to $FUZZ_LOG so the test knows what went in.
"""

from __future__ import annotations

import os
import time

import numpy as np

from robovla.policy.types import ACTION_DIM, ActionChunk, ObservationWindow

KINDS = ("random", "down", "spin", "huge", "nan", "inf")
STEPS = 100  # x horizon 10 = 1,000 policy outputs; then it holds


class FuzzPolicy:
    name = "fuzz (test placeholder, not a VLA)"

    def __init__(self, dt: float = 0.1, horizon: int = 10, seed: int = 0, **_ignored) -> None:
        self.dt, self.horizon = float(dt), int(horizon)
        self.rng = np.random.default_rng(seed)
        self.steps = 0
        self.log = os.environ.get("FUZZ_LOG", "")

    def reset(self) -> None:
        pass

    def _actions(self, kind: str) -> np.ndarray:
        rng, n = self.rng, self.horizon
        a = np.zeros((n, ACTION_DIM))
        if kind == "random":  # up to 0.45 per step: 4.5 m/s, 4.5 rad/s
            a[:, :6] = rng.uniform(-0.45, 0.45, (n, 6))
        elif kind == "down":  # straight at the table, tilting the fingers under the flange
            a[:, 2] = -rng.uniform(0.01, 0.45, n)
            a[:, :2] = rng.uniform(-0.05, 0.05, (n, 2))
            a[:, 3:5] = rng.uniform(-0.3, 0.3, (n, 2))
        elif kind == "spin":  # rotation only: the tips sweep at |omega x r|
            a[:, 3:6] = rng.uniform(-0.45, 0.45, (n, 3))
        elif kind == "huge":
            a[:, :6] = rng.choice([-1.0, 1.0], (n, 6)) * 10.0 ** rng.uniform(1, 30, (n, 6))
        else:
            a[:, :6] = rng.uniform(-0.2, 0.2, (n, 6))
            bad = np.nan if kind == "nan" else np.inf * rng.choice([-1.0, 1.0])
            a[rng.integers(n), rng.integers(ACTION_DIM)] = bad
        a[:, 6] = rng.uniform(-5.0, 5.0, n)  # gripper far outside 0..1
        return a

    def step(self, window: ObservationWindow, instruction: str) -> ActionChunk:
        start = time.perf_counter()
        if self.steps < STEPS:
            kind = str(self.rng.choice(KINDS, p=[0.3, 0.3, 0.15, 0.1, 0.1, 0.05]))
            actions = self._actions(kind)
            self.steps += 1
            if self.log:
                with open(self.log, "a") as f:
                    f.write(kind + "\n")
        else:
            actions = np.zeros((self.horizon, ACTION_DIM))
        return ActionChunk(actions=actions.astype(np.float32), stamp=window.latest.stamp, dt=self.dt,
                           episode_id=window.episode_id, latency_s=time.perf_counter() - start)
