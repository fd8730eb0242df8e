"""VelocitySmoother: chunk fusion modes, no command where no chunk covers the present, speed and
acceleration caps (the speed cap is the safety filter's, one function)."""

from __future__ import annotations

import numpy as np
import pytest

from robovla.control.safety import SafetyConfig, SafetyFilter
from robovla.control.smoothing import SmootherConfig, VelocitySmoother
from robovla.policy.types import ActionChunk

DT = 0.1
FREE = dict(interpolate=False, max_linear_accel=1e9, max_angular_accel=1e9)  # see the fused value itself


def chunk(stamp: float, dx: float, k: int = 5, gripper: float = 0.0) -> ActionChunk:
    actions = np.zeros((k, 7))
    actions[:, 0], actions[:, 6] = dx, gripper
    return ActionChunk(actions=actions, stamp=stamp, dt=DT)


def vx(s: VelocitySmoother, t: float) -> float:
    out = s.command(t)
    assert out is not None, f"no command at t = {t}"
    return float(out[0][0])


def two_chunks(mode: str, **kw) -> VelocitySmoother:
    """A (0.1 m/s) covers [0, 0.5), B (0.2 m/s) covers [0.2, 0.7): they overlap on [0.2, 0.5)."""
    s = VelocitySmoother(SmootherConfig(mode=mode, **FREE, **kw))
    s.add_chunk(chunk(0.0, 0.01))
    s.add_chunk(chunk(0.2, 0.02, gripper=1.0))
    return s


def test_temporal_ensemble_weights_the_oldest_chunk_most() -> None:
    m = 0.5
    s = two_chunks("temporal_ensemble", ensemble_m=m)
    w = np.exp(-m)
    assert vx(s, 0.25) == pytest.approx((0.1 + w * 0.2) / (1 + w))  # ACT: w_0 for the oldest
    assert vx(s, 0.1) == pytest.approx(0.1), "only A covers 0.1"
    assert vx(s, 0.65) == pytest.approx(0.2), "only B covers 0.65"


@pytest.mark.parametrize(("mode", "old_weight"), [("weighted_average", 0.3), ("average", 0.5)])
def test_averaging_modes_blend_old_and_new_where_they_overlap(mode: str, old_weight: float) -> None:
    s = two_chunks(mode, alpha=0.3)
    assert vx(s, 0.25) == pytest.approx(old_weight * 0.1 + (1 - old_weight) * 0.2)
    assert vx(s, 0.65) == pytest.approx(0.2), "beyond the old plan: the new chunk alone"


def test_latest_only_replaces_the_plan() -> None:
    s = two_chunks("latest_only")
    assert vx(s, 0.25) == pytest.approx(0.2)
    assert s.command(0.25)[1] == 1.0, "the gripper target comes from the newest chunk"


@pytest.mark.parametrize("mode", ["temporal_ensemble", "weighted_average", "average", "latest_only"])
def test_no_command_where_no_chunk_covers_the_present(mode: str) -> None:
    s = VelocitySmoother(SmootherConfig(mode=mode))
    assert s.command(0.0) is None, "before any chunk"
    s.add_chunk(chunk(1.0, 0.01))
    assert s.command(0.95) is None, "before the chunk starts"
    assert s.command(1.2) is not None
    assert s.command(1.5) is None, "after its last step ends (k = 5 steps of 0.1 s)"
    s.reset()
    assert s.command(1.2) is None, "a reset forgets the chunks"


def test_speed_cap_is_the_safety_filters() -> None:
    """One function caps speed in both places: the smoother's output is exactly what the
    filter's speed rules make of the same velocity, direction kept."""
    s = VelocitySmoother(SmootherConfig(**FREE, max_linear_speed=0.25, max_angular_speed=1.0))
    actions = np.zeros((5, 7))
    actions[:, :6] = [0.06, 0.08, 0.0, 0.0, 0.0, 0.3]  # 1 m/s, 3 rad/s
    s.add_chunk(ActionChunk(actions=actions, stamp=0.0, dt=DT))
    vel, _ = s.command(0.05)
    np.testing.assert_allclose(vel, [0.15, 0.2, 0.0, 0.0, 0.0, 1.0])
    safety = SafetyFilter(SafetyConfig(rules=["non_finite", "linear_speed", "angular_speed"]))
    safe = safety.filter(actions[0, :3] / DT, actions[0, 3:6] / DT, 0.0, None)
    np.testing.assert_array_equal(vel, np.r_[safe.linear, safe.angular])


def test_acceleration_is_rate_limited_between_commands() -> None:
    s = VelocitySmoother(SmootherConfig(interpolate=False, max_linear_accel=1.0, mode="latest_only"))
    actions = np.zeros((4, 7))
    actions[1:, 0] = 0.02  # still for one step, then 0.2 m/s
    s.add_chunk(ActionChunk(actions=actions, stamp=0.0, dt=DT))
    assert vx(s, 0.05) == 0.0
    assert vx(s, 0.15) == pytest.approx(0.1), "1 m/s^2 for 0.1 s"
    assert vx(s, 0.25) == pytest.approx(0.2)
    s.stop(0.3)  # stopped from outside: the ramp starts again from rest
    assert vx(s, 0.35) == pytest.approx(0.05)


def test_interpolation_between_step_centres() -> None:
    s = VelocitySmoother(SmootherConfig(max_linear_accel=1e9, max_angular_accel=1e9, mode="latest_only"))
    actions = np.zeros((3, 7))
    actions[:, 0] = [0.0, 0.01, 0.02]  # 0, 0.1, 0.2 m/s at the step centres 0.05, 0.15, 0.25
    s.add_chunk(ActionChunk(actions=actions, stamp=0.0, dt=DT))
    assert vx(s, 0.15) == pytest.approx(0.1)
    assert vx(s, 0.2) == pytest.approx(0.15), "half way between two centres"
    assert vx(s, 0.28) == pytest.approx(0.2), "the last step's value is held at the end"
