"""StepTiming: the lock-stepped sim's account of where a step's wall time goes, and its log line."""

from __future__ import annotations

import pytest

from robovla.sim import step_timing
from robovla.sim.step_timing import StepTiming, parse_summary


@pytest.fixture
def clock(monkeypatch):
    """perf_counter under the test's control: each lap charges exactly what the test advanced."""
    now = [100.0]
    monkeypatch.setattr(step_timing.time, "perf_counter", lambda: now[0])

    def advance(ms: float) -> None:
        now[0] += ms / 1000.0
    return advance


def _step(t: StepTiming, advance, physics: float, publish: float, render: float, answer: float, policy: bool) -> None:
    t.start()
    for phase, ms in (("physics", physics), ("publish", publish), ("render", render)):
        advance(ms)
        t.lap(phase)
    advance(answer)
    t.end_step(policy, t.lap("answer"))


def test_phases_are_charged_per_step_and_the_answer_split_by_policy_steps(clock) -> None:
    t = StepTiming(control_dt=0.02)
    _step(t, clock, 1.0, 0.5, 5.0, 12.0, policy=True)  # a frame, and the policy's answer to it
    for _ in range(4):
        _step(t, clock, 1.0, 0.5, 0.0, 2.0, policy=False)  # control only
    clock(50.0)  # idle between steps (the sim between episodes) is charged to no phase
    ms = t.per_step_ms()
    assert ms["physics"] == pytest.approx(1.0) and ms["publish"] == pytest.approx(0.5)
    assert ms["render"] == pytest.approx(1.0) and ms["answer"] == pytest.approx(4.0)
    assert ms["total"] == pytest.approx(6.5)
    assert ms["answer_policy_step"] == pytest.approx(12.0) and ms["answer_other_step"] == pytest.approx(2.0)
    assert t.steps == 5 and t.policy_steps == 1
    assert ms["real_time_factor"] == pytest.approx(20.0 / 6.5)  # the serial loop's bound on one graph


def test_the_log_line_reads_back(clock) -> None:
    t = StepTiming(control_dt=0.02)
    assert t.per_step_ms() == {} and "no lock-stepped step" in t.summary()
    assert parse_summary(f"[INFO] [1.0] [sim]: {t.summary()}") is None
    for i in range(3):
        _step(t, clock, 2.0, 1.0, 3.0 if i == 0 else 0.0, 10.0 if i == 0 else 1.0, policy=i == 0)
    log = "\n".join(["[INFO] [1.0] [sim]: sim ready", f"[INFO] [2.0] [sim]: {t.summary()}", "[INFO] [3.0] [sim]: bye"])
    back = parse_summary(log)
    assert back is not None and back.steps == 3 and back.policy_steps == 1 and back.control_dt == 0.02
    ms = back.per_step_ms()
    assert ms["total"] == pytest.approx(t.per_step_ms()["total"], abs=1e-3)
    assert ms["answer_policy_step"] == pytest.approx(10.0, abs=1e-3)


def test_graphs_merge_by_their_steps(clock) -> None:
    one, two = StepTiming(control_dt=0.02), StepTiming(control_dt=0.02)
    _step(one, clock, 1.0, 1.0, 0.0, 2.0, policy=False)
    for _ in range(3):
        _step(two, clock, 3.0, 1.0, 0.0, 8.0, policy=True)
    ms = one.merged(two).per_step_ms()
    assert ms["physics"] == pytest.approx(2.5) and ms["answer"] == pytest.approx(6.5)
    assert ms["answer_policy_step"] == pytest.approx(8.0) and ms["answer_other_step"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="merge"):
        one.merged(StepTiming(control_dt=0.01))
