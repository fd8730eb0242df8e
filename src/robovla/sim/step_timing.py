"""Where a lock-stepped sim's wall time goes, step by step.

In lock-step the closed loop is serial: the sim computes a step, publishes it, renders when a
frame is due, then waits for the graph's answer; nothing of the next step starts before. So the
real-time factor is control_dt over the sum of these phases, and which phase is large says what
to make faster (bench/bench_eval.py prints it from the sim's log). The graph's answer is split by
what it waited for: on a policy step the first command answering a new camera frame (perception,
the policy and control; with a latency model that step comes latency_model_s after the frame), on
the other steps only control's next command from the chunk it has.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

#: the phases of one step, in the order the sim runs them
PHASES = ("physics", "publish", "render", "answer")
LOG_PREFIX = "lock-step wall time per step:"


@dataclass
class StepTiming:
    """Wall seconds per phase over the lock-stepped steps of a run (perf_counter laps)."""

    control_dt: float  # sim seconds one step advances
    seconds: dict[str, float] = field(default_factory=lambda: {p: 0.0 for p in PHASES})
    steps: int = 0
    policy_steps: int = 0
    answer_policy_s: float = 0.0  # the part of seconds["answer"] spent on policy steps
    _last: float = 0.0

    def start(self) -> None:
        self._last = time.perf_counter()

    def lap(self, phase: str) -> float:
        """Charge the time since the last lap (or start) to `phase`; returns that time."""
        now = time.perf_counter()
        dt, self._last = now - self._last, now
        self.seconds[phase] += dt
        return dt

    def end_step(self, policy: bool, answer_s: float) -> None:
        self.steps += 1
        if policy:
            self.policy_steps += 1
            self.answer_policy_s += answer_s

    def merged(self, other: StepTiming) -> StepTiming:
        """Both runs' steps as one account (several graphs of one `robovla eval --jobs N`)."""
        if other.control_dt != self.control_dt:
            raise ValueError(f"cannot merge steps of {self.control_dt} s and {other.control_dt} s")
        return StepTiming(self.control_dt, {p: self.seconds[p] + other.seconds[p] for p in PHASES},
                          self.steps + other.steps, self.policy_steps + other.policy_steps,
                          self.answer_policy_s + other.answer_policy_s)

    def per_step_ms(self) -> dict[str, float]:
        """Mean ms per step of each phase and their total, the answer also per policy step and per
        other step, and the real-time factor that total allows."""
        if not self.steps:
            return {}
        out = {p: self.seconds[p] * 1e3 / self.steps for p in PHASES}
        out["total"] = sum(out[p] for p in PHASES)
        other = self.steps - self.policy_steps
        out["answer_policy_step"] = self.answer_policy_s * 1e3 / self.policy_steps if self.policy_steps else 0.0
        out["answer_other_step"] = (self.seconds["answer"] - self.answer_policy_s) * 1e3 / other if other else 0.0
        out["real_time_factor"] = self.control_dt * 1e3 / out["total"] if out["total"] > 0 else 0.0
        return out

    def summary(self) -> str:
        """One log line that parse_summary reads back."""
        ms = self.per_step_ms()
        if not ms:
            return f"{LOG_PREFIX} no lock-stepped step"
        parts = " ".join(f"{k}={ms[k]:.4f}" for k in (*PHASES, "total", "answer_policy_step", "answer_other_step"))
        return (f"{LOG_PREFIX} {parts} ms over steps={self.steps} policy_steps={self.policy_steps} "
                f"control_dt={self.control_dt:g} s (real-time factor {ms['real_time_factor']:.2f})")


def parse_summary(text: str) -> StepTiming | None:
    """The account in the last StepTiming.summary() line of a log (None when there is none), to
    the precision the line gives."""
    lines = [line for line in text.splitlines() if LOG_PREFIX in line and "=" in line]
    if not lines:
        return None
    v = {k: float(x) for k, x in re.findall(r"(\w+)=([0-9.eE+-]+)", lines[-1].split(LOG_PREFIX, 1)[1])}
    steps, policy_steps = int(v["steps"]), int(v["policy_steps"])
    return StepTiming(v["control_dt"], {p: v[p] * steps / 1e3 for p in PHASES}, steps, policy_steps,
                      v["answer_policy_step"] * policy_steps / 1e3)
