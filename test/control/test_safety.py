"""SafetyFilter: speed caps, non-finite input, and the workspace box and table at the fingertips."""

from __future__ import annotations

import numpy as np
import pytest

from robovla.control.safety import SafetyConfig, SafetyFilter

TOOL_DOWN = np.diag([1.0, -1.0, -1.0])  # end_effector_link z pointing at the table
TWO_F85 = [0.0, 0.0, 0.145]  # the 2F-85 fingertips as the sim models them


def gripper_config(**kw) -> SafetyConfig:
    return SafetyConfig(tool_offset=TWO_F85, **kw)


def pose(position, rotation=TOOL_DOWN) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = rotation, position
    return t


def tip(f: SafetyFilter, t: np.ndarray) -> np.ndarray:
    return t[:3, 3] + t[:3, :3] @ np.asarray(f.cfg.tool_offset)


def test_tool_down_descent_stops_the_fingertips_at_the_table_not_the_flange() -> None:
    """The reported failure: the flange stopped at z = 0.04 with the fingertips 9 cm into the table."""
    f = SafetyFilter(gripper_config())
    t, dt = pose([0.5, 0.0, 0.30]), 0.02
    lowest = np.inf
    for _ in range(400):  # 8 s of a policy pushing straight down at 0.2 m/s
        safe = f.filter(np.array([0, 0, -0.2]), np.zeros(3), 0.0, t)
        t[:3, 3] += safe.linear * dt
        lowest = min(lowest, tip(f, t)[2])
    floor = f.cfg.table_z + f.cfg.table_margin
    assert lowest >= floor - 1e-9, f"fingertips reached z = {lowest:.4f}"
    assert lowest < floor + 0.005, "the descent is slowed, not stopped centimetres early"
    assert t[2, 3] > 0.14, "the flange is a tool length above the tips"


def test_rotation_is_capped_by_the_speed_it_gives_the_fingertips() -> None:
    f = SafetyFilter(gripper_config(max_linear_speed=0.05))  # the conservative first-run profile
    t = pose([0.5, 0.0, 0.4])
    safe = f.filter(np.zeros(3), np.array([1.0, 0, 0]), 0.0, t)
    tip_speed = np.linalg.norm(safe.linear + np.cross(safe.angular, tip(f, t) - t[:3, 3]))
    assert tip_speed == pytest.approx(0.05, rel=1e-6)
    assert [a.rule for a in safe.applied] == ["fingertip_speed"]


def test_a_rotation_that_would_swing_the_tips_into_the_table_is_stopped() -> None:
    f = SafetyFilter(gripper_config())
    t = pose([0.5, 0.0, 0.16])  # fingertips 1.5 cm above the table
    safe = f.filter(np.zeros(3), np.array([0, 1.0, 0]), 0.0, t)
    v_tip = safe.linear + np.cross(safe.angular, tip(f, t) - t[:3, 3])
    assert tip(f, t)[2] + v_tip[2] * f.cfg.lookahead_s >= f.cfg.table_z + f.cfg.table_margin - 1e-9


def test_moving_away_from_the_edge_is_untouched() -> None:
    f = SafetyFilter(gripper_config())
    t = pose([0.5, 0.0, 0.152])  # tips 7 mm above the table
    safe = f.filter(np.array([0.0, 0.0, 0.1]), np.zeros(3), 0.0, t)
    np.testing.assert_allclose(safe.linear, [0, 0, 0.1])
    assert not safe.applied


def test_box_edges_in_x_and_y_hold_for_flange_and_tips() -> None:
    f = SafetyFilter(gripper_config())
    t = pose([0.845, 0.0, 0.4])
    safe = f.filter(np.array([0.2, 0, 0]), np.zeros(3), 0.0, t)
    assert t[0, 3] + safe.linear[0] * f.cfg.lookahead_s <= f.cfg.workspace_max[0] + 1e-9


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_commands_and_poses_stop(bad: float) -> None:
    f = SafetyFilter(SafetyConfig())
    safe = f.filter(np.array([bad, 0, 0]), np.zeros(3), 0.5, pose([0.5, 0, 0.4]))
    assert not np.any(safe.linear) and not np.any(safe.angular) and safe.stopped_by == "non_finite"
    broken = pose([0.5, 0, 0.4])
    broken[0, 0] = bad
    assert f.filter(np.array([0.1, 0, 0]), np.zeros(3), 0.0, broken).stopped_by == "non_finite"


def test_speed_caps_and_config_checks() -> None:
    assert SafetyConfig().tool_offset == [0.0, 0.0, 0.145], "the 2F-85 pad ends (robovla.sim.scene) by default"
    f = SafetyFilter(SafetyConfig())
    safe = f.filter(np.array([5.0, 0, 0]), np.array([0, 0, 9.0]), 3.0, None)
    assert np.linalg.norm(safe.linear) == pytest.approx(0.25) and np.linalg.norm(safe.angular) == pytest.approx(1.0)
    assert safe.gripper == 1.0
    with pytest.raises(ValueError, match="tool_offset"):
        SafetyConfig(tool_offset=[0.0, 0.1])
    with pytest.raises(ValueError, match="min < max"):
        SafetyConfig(workspace_min=[1, 0, 0], workspace_max=[0, 1, 1])


def test_yaw_about_the_tool_axis_near_the_table_is_kept() -> None:
    """The expert aligns its yaw while descending onto a block: that swings no fingertip down."""
    f = SafetyFilter(gripper_config())
    safe = f.filter(np.array([0, 0, -0.05]), np.array([0, 0, 0.5]), 0.0, pose([0.5, 0.0, 0.16]))
    assert safe.angular[2] == pytest.approx(0.5) and safe.linear[2] <= 0
