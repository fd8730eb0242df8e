"""The ros2_kortex stand-in behaves as the real stack does (robovla.sim.kortex_driver's sources)."""

from __future__ import annotations

import numpy as np
import pytest

from robovla.control.kinematics import GEN3_JOINT_NAMES
from robovla.sim.kortex_driver import (BEST_EFFORT, STRICT, TRAJECTORY_CONTROLLER, TWIST_CONTROLLER,
                                       KortexDriverModel)

JOINTS = list(GEN3_JOINT_NAMES)


def test_bringup_state_ignores_twists_until_the_twist_controller_is_switched_in() -> None:
    d = KortexDriverModel(tuple(JOINTS))
    assert d.is_active(TRAJECTORY_CONTROLLER) and not d.is_active(TWIST_CONTROLLER)
    assert not d.on_twist(np.array([0.05, 0, 0]), np.zeros(3)) and d.commanded_twist() is None
    ok, msg = d.switch([TWIST_CONTROLLER], [], STRICT)
    assert not ok and "cannot be active together" in msg and not d.is_active(TWIST_CONTROLLER)
    assert d.switch([TWIST_CONTROLLER], [TRAJECTORY_CONTROLLER], STRICT) == (True, "switched")
    assert d.on_twist(np.array([0.05, 0, 0]), np.zeros(3))
    np.testing.assert_allclose(d.commanded_twist(), [0.05, 0, 0, 0, 0, 0])


def test_the_twist_is_latched_without_timeout_and_cleared_only_by_a_switch() -> None:
    d = KortexDriverModel(tuple(JOINTS))
    d.switch([TWIST_CONTROLLER], [TRAJECTORY_CONTROLLER])
    d.on_twist(np.array([0.1, 0, 0]), np.array([0, 0, 5.0]))
    for _ in range(1000):  # a dead sender: the driver keeps sending the last twist
        np.testing.assert_allclose(d.commanded_twist(), [0.1, 0, 0, 0, 0, 5.0])
    d.switch([TRAJECTORY_CONTROLLER], [TWIST_CONTROLLER])
    d.switch([TWIST_CONTROLLER], [TRAJECTORY_CONTROLLER])
    np.testing.assert_allclose(d.commanded_twist(), np.zeros(6))


def test_fault_stops_the_arm_and_reset_resumes_the_latched_twist() -> None:
    d = KortexDriverModel(tuple(JOINTS))
    d.switch([TWIST_CONTROLLER], [TRAJECTORY_CONTROLLER])
    d.on_twist(np.array([0.1, 0, 0]), np.zeros(3))
    d.inject_fault("joint 4 following error")
    np.testing.assert_allclose(d.commanded_twist(), np.zeros(6))
    assert d.reset_fault()[0]
    np.testing.assert_allclose(d.commanded_twist(), [0.1, 0, 0, 0, 0, 0])


@pytest.mark.parametrize(("distro", "accepted"), [("jazzy", False), ("humble", True)])
def test_jtc_end_velocity_rule_by_distro(distro: str, accepted: bool) -> None:
    d = KortexDriverModel(tuple(JOINTS), distro=distro)
    q = [0.0] * 7
    moving_end = d.check_trajectory(JOINTS, [q], [[0.1] * 7], [0.1])
    assert (moving_end == "") is accepted
    if not accepted:
        assert "Velocity of last trajectory point is not zero" in moving_end
    assert d.check_trajectory(JOINTS, [q, q], [[0.1] * 7, [0.0] * 7], [0.1, 0.2]) == "", "ending at rest is fine"
    assert "increase" in d.check_trajectory(JOINTS, [q, q], [[], []], [0.2, 0.1])
    assert "do not match" in d.check_trajectory(JOINTS[:6], [q[:6]], [[]], [0.1])


def test_switch_strictness() -> None:
    d = KortexDriverModel(tuple(JOINTS))
    ok, msg = d.switch(["no_such_controller"], [], STRICT)
    assert not ok and "unknown" in msg
    assert d.switch(["no_such_controller"], [], BEST_EFFORT)[0]
    ok, msg = d.switch([TRAJECTORY_CONTROLLER], [], STRICT)
    assert not ok and "already" in msg
