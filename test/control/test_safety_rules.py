"""The safety rules one by one: each acts, names itself, and reads only its own fields; the rules in
force and their order come from SafetyConfig.rules (the YAML); a stop is a flag, not note text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from robovla.control.safety import (
    RULES, Action, SafetyConfig, SafetyFilter, clip_norm, clip_steps, clip_twist, step_speeds,
)

ROOT = Path(__file__).resolve().parents[2]
TOOL_DOWN = np.diag([1.0, -1.0, -1.0])  # end_effector_link z pointing at the table
TWO_F85 = [0.0, 0.0, 0.145]
ZERO = np.zeros(3)


def pose(position, rotation=TOOL_DOWN) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = rotation, position
    return t


def acted(safe) -> list[tuple[str, str]]:
    return [(a.rule, str(a.action)) for a in safe.applied]


def test_default_rules_are_all_of_them_in_order_and_the_yaml_lists_the_same() -> None:
    names = ["non_finite", "linear_speed", "angular_speed", "fingertip_speed", "flange_box", "fingertip_box",
             "gripper_range"]
    assert SafetyConfig().rules == list(RULES) == names
    params = yaml.safe_load((ROOT / "config" / "robovla.yaml").read_text())
    assert params["kinova_control"]["ros__parameters"]["safety"]["rules"] == SafetyConfig().rules


def test_non_finite_stops_on_velocity_and_pose_and_opens_on_a_bad_gripper_target() -> None:
    f = SafetyFilter(SafetyConfig())
    safe = f.filter(np.array([0.1, 0, 0]), np.array([0, np.nan, 0]), 1.0, pose([0.5, 0, 0.4]))
    assert safe.stopped and acted(safe) == [("non_finite", "stop")] and "velocity" in safe.applied[0].reason
    assert not safe.linear.any() and not safe.angular.any()
    broken = pose([0.5, 0, 0.4])
    broken[2, 3] = np.inf
    safe = f.filter(np.array([0.1, 0, 0]), ZERO, 0.0, broken)
    assert safe.stopped_by == "non_finite" and "pose" in safe.applied[0].reason
    safe = f.filter(np.array([0.1, 0, 0]), ZERO, np.nan, pose([0.5, 0, 0.4]))
    assert not safe.stopped and acted(safe) == [("non_finite", "clip")]
    assert safe.gripper == 0.0, "the gripper opens"
    assert safe.linear[0] == pytest.approx(0.1), "the arm still moves"


def test_linear_speed_scales_the_flange_velocity_to_the_cap_keeping_its_direction() -> None:
    f = SafetyFilter(SafetyConfig(max_linear_speed=0.2))
    safe = f.filter(np.array([0.3, -0.4, 0.0]), np.array([0, 0, 0.5]), 0.0, None)
    np.testing.assert_allclose(safe.linear, [0.12, -0.16, 0.0])
    np.testing.assert_array_equal(safe.angular, [0, 0, 0.5])
    assert acted(safe) == [("linear_speed", "clip")]
    assert safe.notes == ["linear_speed clip: linear speed 0.500 clipped to 0.200"]


def test_angular_speed_scales_omega_to_the_cap() -> None:
    f = SafetyFilter(SafetyConfig(max_angular_speed=0.5))
    safe = f.filter(np.array([0.1, 0, 0]), np.array([0.0, 3.0, 4.0]), 0.0, None)
    np.testing.assert_allclose(safe.angular, [0.0, 0.3, 0.4])
    np.testing.assert_array_equal(safe.linear, [0.1, 0, 0])
    assert acted(safe) == [("angular_speed", "clip")]


def test_fingertip_speed_counts_omega_x_r_and_needs_a_tool_offset() -> None:
    t = pose([0.5, 0.0, 0.4])
    omega = np.array([0.8, 0, 0])  # under the angular cap; moves the 2F-85 tips at 0.116 m/s
    f = SafetyFilter(SafetyConfig(tool_offset=TWO_F85, max_linear_speed=0.1))
    safe = f.filter(np.array([0.05, 0, 0]), omega, 0.0, t)
    v_tip = safe.linear + np.cross(safe.angular, t[:3, :3] @ TWO_F85)
    assert np.linalg.norm(v_tip) == pytest.approx(0.1) and acted(safe) == [("fingertip_speed", "clip")]
    np.testing.assert_allclose(safe.angular / np.linalg.norm(safe.angular), [1, 0, 0]), "scaled, not bent"
    flange_only = SafetyFilter(SafetyConfig(max_linear_speed=0.1, tool_offset=[0.0, 0.0, 0.0]))
    flange_only = flange_only.filter(np.array([0.05, 0, 0]), omega, 0.0, t)
    assert not flange_only.applied, "without a tool the fingertip is the flange"


def test_flange_box_slows_the_approach_to_the_edge_and_names_the_axis() -> None:
    f = SafetyFilter(SafetyConfig(tool_offset=[0.0, 0.0, 0.0]))  # tool at the flange: only flange_box holds the box
    safe = f.filter(np.array([0.2, 0.1, 0.0]), ZERO, 0.0, pose([0.84, 0.0, 0.4]))
    assert acted(safe) == [("flange_box", "clip")] and "along x" in safe.applied[0].reason
    assert safe.linear[0] == pytest.approx((0.85 - 0.84) / f.cfg.lookahead_s)
    assert safe.linear[1] == 0.1, "the axis not heading out is untouched"
    back = f.filter(np.array([-0.2, 0, 0]), ZERO, 0.0, pose([0.84, 0.0, 0.4]))
    assert not back.applied, "moving back inside is untouched"
    assert not f.filter(np.array([0.2, 0, 0]), ZERO, 0.0, None).applied, "no pose: no box"


def test_fingertip_box_holds_the_table_below_the_tips_while_the_flange_is_well_inside() -> None:
    f = SafetyFilter(SafetyConfig(tool_offset=TWO_F85))
    t = pose([0.5, 0.0, 0.16])  # flange 14 cm above the box floor, tips 1.5 cm above the table
    safe = f.filter(np.array([0, 0, -0.2]), ZERO, 0.0, t)
    assert acted(safe) == [("fingertip_box", "clip")] and "along z" in safe.applied[0].reason
    tip_z = 0.16 - 0.145
    assert safe.linear[2] == pytest.approx(-(tip_z - f.cfg.table_margin) / f.cfg.lookahead_s)
    # tool tilted 45 deg towards +x, tips 7 mm above the table: pitching further about y swings
    # them down (omega x r has -z) at 0.1 m/s, past the table within the lookahead: removed
    c = np.sqrt(0.5)
    tilted = np.array([[c, 0.0, -c], [0.0, 1.0, 0.0], [-c, 0.0, c]]) @ TOOL_DOWN
    flange = np.array([0.5, 0.0, 0.012 + 0.145 * c])
    assert (flange + tilted @ TWO_F85)[2] == pytest.approx(0.012)
    safe = f.filter(ZERO, np.array([0, 1.0, 0]), 0.0, pose(flange, tilted))
    assert acted(safe) == [("fingertip_box", "clip")] and "rotation limited" in safe.applied[0].reason
    r = tilted @ TWO_F85
    tip_speed_z = np.cross(safe.angular, r)[2]
    assert 0.012 + tip_speed_z * f.cfg.lookahead_s >= f.cfg.table_z + f.cfg.table_margin - 1e-9
    # a yaw at the same spot moves the tips sideways only: kept whole, even combined with the pitch
    yaw = f.filter(ZERO, np.array([0, 0, 0.8]), 0.0, pose(flange, tilted))
    np.testing.assert_allclose(yaw.angular, [0, 0, 0.8])
    both = f.filter(ZERO, np.array([0, 0.8, 0.5]), 0.0, pose(flange, tilted))  # under the speed caps
    assert both.angular[2] == pytest.approx(0.5) and both.angular[1] < 0.8
    up = f.filter(ZERO, np.array([0, -1.0, 0]), 0.0, pose(flange, tilted))
    assert not up.applied, "swinging the tips up is kept"
    # with the table lower, the same motions pass (table_z is this rule's field)
    low = SafetyFilter(SafetyConfig(tool_offset=TWO_F85, table_z=-0.5, workspace_min=[0.15, -0.55, -0.5]))
    assert not low.filter(np.array([0, 0, -0.2]), ZERO, 0.0, t).applied


def test_gripper_range_clips_the_target() -> None:
    f = SafetyFilter(SafetyConfig(max_gripper=0.8))
    safe = f.filter(np.array([0.1, 0, 0]), ZERO, 0.95, None)
    assert safe.gripper == 0.8 and acted(safe) == [("gripper_range", "clip")]
    assert f.filter(ZERO, ZERO, -0.2, None).gripper == 0.0
    assert not f.filter(ZERO, ZERO, 0.8, None).applied


def test_only_the_listed_rules_apply_in_the_listed_order() -> None:
    cmd = (np.array([0.5, 0, 0]), np.array([0, 0, 3.0]), 1.5, pose([0.84, 0, 0.4]))
    default = SafetyFilter(SafetyConfig()).filter(*cmd)
    assert [a.rule for a in default.applied] == ["linear_speed", "angular_speed", "flange_box",
                                                 "gripper_range"]
    f = SafetyFilter(SafetyConfig(rules=["non_finite", "gripper_range", "linear_speed"]))
    assert [r.name for r in f.rules] == ["non_finite", "gripper_range", "linear_speed"]
    safe = f.filter(*cmd)
    assert [a.rule for a in safe.applied] == ["gripper_range", "linear_speed"]
    assert safe.angular[2] == 3.0, "angular_speed is not in force"
    assert np.linalg.norm(safe.linear) == pytest.approx(0.25), "no box: only the cap slowed it"


@pytest.mark.parametrize(("rules", "message"), [
    (["non_finite", "speed_cap"], r"unknown safety rule\(s\) \['speed_cap'\]; known rules: \['non_finite', "),
    (["non_finite", "linear_speed", "linear_speed"], "listed twice"),
    (["linear_speed", "non_finite"], "must start with 'non_finite'"),
    ([], "must start with 'non_finite'"),
])
def test_bad_rule_lists_are_refused(rules: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SafetyConfig(rules=rules)


def test_a_command_clipped_to_nothing_is_not_a_stop() -> None:
    """The old string match took any zero twist with "stopped" in a note for a stop, so a gripper
    target sent while the arm pushed into a corner was dropped; now only a STOP verdict stops."""
    f = SafetyFilter(SafetyConfig(tool_offset=TWO_F85))
    corner = pose([0.86, 0.56, 0.149])  # flange past x and y max, tips 1 mm into the table margin
    safe = f.filter(np.array([0.1, 0.1, -0.1]), np.array([0, -1.0, 0]), 1.0, corner)
    assert not safe.linear.any() and not safe.angular.any()
    assert not safe.stopped and safe.stopped_by is None and safe.gripper == 1.0
    assert ("fingertip_box", "clip") in acted(safe) and all(a.action is Action.CLIP for a in safe.applied)


def test_norm_clipping_keeps_direction_and_the_input() -> None:
    v = np.array([3.0, 4.0, 0.0])
    out, n = clip_norm(v, 1.0)
    np.testing.assert_allclose(out, [0.6, 0.8, 0.0])
    assert n == 5.0 and v[0] == 3.0, "the input is not changed in place"
    same, n = clip_norm(v, 6.0)
    assert same is v and n == 5.0
    np.testing.assert_allclose(clip_twist(np.r_[v, 0, 0, 2.0], 1.0, 0.5), [0.6, 0.8, 0, 0, 0, 0.5])


def test_step_speeds_are_the_velocities_the_smoother_makes_of_a_chunk() -> None:
    actions = np.zeros((3, 7))
    actions[1, :3] = [0.03, 0.04, 0.0]  # 5 cm in one 0.1 s step: 0.5 m/s
    actions[2, 3:6] = [0.0, 0.0, -0.1]  # 1 rad/s
    actions[:, 6] = 1.0  # the gripper is not a speed
    lin, ang = step_speeds(actions, 0.1)
    assert lin == pytest.approx(0.5) and ang == pytest.approx(1.0)


def test_clip_steps_caps_each_steps_velocity_and_keeps_the_gripper() -> None:
    """vla_inference bounds a chunk this way before it leaves the node: delta / dt like the smoother."""
    actions = np.zeros((3, 7))
    actions[0, :3] = [0.3, 0.4, 0.0]  # 5 m/s in a 0.1 s step
    actions[1, 3:6] = [0.0, 0.0, 0.5]  # 5 rad/s
    actions[2, :3] = [0.01, 0.0, 0.0]  # 0.1 m/s: untouched
    actions[:, 6] = [1.0, 0.0, 1.0]
    out = clip_steps(actions, 0.1, 0.5, 1.74)
    np.testing.assert_allclose(out[0, :3], [0.03, 0.04, 0.0])
    np.testing.assert_allclose(out[1, 3:6], [0.0, 0.0, 0.174])
    np.testing.assert_array_equal(out[2], actions[2])
    np.testing.assert_array_equal(out[:, 6], actions[:, 6])
    assert step_speeds(out, 0.1) == pytest.approx((0.5, 1.74))
    assert actions[0, 0] == 0.3, "the policy's chunk is not changed in place"
