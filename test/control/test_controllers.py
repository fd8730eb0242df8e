"""Controller switching plans for each control mode (the real manager's answers come from the stand-in)."""

from __future__ import annotations

import pytest

from robovla.control.controllers import SwitchPlan, required_switch, restore_switch

BRINGUP = {"joint_state_broadcaster": "active", "joint_trajectory_controller": "active",
           "twist_controller": "inactive", "robotiq_gripper_controller": "active"}


def test_twist_mode_from_kortex_bringup_swaps_the_arm_controllers() -> None:
    assert required_switch("twist", BRINGUP) == SwitchPlan(("twist_controller",), ("joint_trajectory_controller",))
    assert required_switch("joint_trajectory", BRINGUP).empty
    done = {**BRINGUP, "twist_controller": "active", "joint_trajectory_controller": "inactive"}
    assert required_switch("twist", done).empty


def test_missing_controller_is_named() -> None:
    with pytest.raises(ValueError, match="no 'twist_controller'"):
        required_switch("twist", {"joint_trajectory_controller": "active"})
    with pytest.raises(ValueError, match="unknown control mode"):
        required_switch("servo", BRINGUP)


def test_restore_on_shutdown() -> None:
    running = {**BRINGUP, "twist_controller": "active", "joint_trajectory_controller": "inactive"}
    assert restore_switch("twist", running, "joint_trajectory_controller") == SwitchPlan(
        ("joint_trajectory_controller",), ("twist_controller",))
    assert restore_switch("twist", running, "") == SwitchPlan((), ("twist_controller",))
