"""1,000 random, huge and non-finite policy outputs through the real nodes and the MuJoCo sim:
no command beyond the limits reaches the driver, and no fingertip goes below the table plane.

The safety table plane is set 18 cm above the sim's table top, above every object of the scene:
the sim's physics (fingers resting on the table or a block) cannot hold the tips up in the
filter's place, and no contact moves the arm (a finger pressed on a block that slips away lets
the position servos drop the arm by their wind-up, with no command at all: measured 1 cm here
with the plane at 5 cm). The filter keeps the tips `table_margin` above the plane; the margin is
what absorbs the overshoot of a stop (measured about 4 mm), so the plane itself is never crossed.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from graph_helpers import wait_for
from robovla.action import ExecuteInstruction
from robovla.control import kinematics
from robovla.control.safety import SafetyConfig
from robovla.nodes.common.background import wait_future

pytestmark = pytest.mark.ros

TOOL = SafetyConfig().tool_offset  # the shipped default: 2F-85 pad ends in end_effector_link
TABLE_Z, MARGIN = 0.18, 0.005
MAX_LIN, MAX_ANG = 0.25, 1.0  # config/robovla.yaml kinova_control.safety


class DriverTap:
    """Every Twist the driver is sent and every joint state the sim publishes."""

    def __init__(self) -> None:
        from geometry_msgs.msg import Twist
        from rclpy.node import Node
        from sensor_msgs.msg import JointState

        from robovla.nodes.common import qos, topics
        from robovla.nodes.common.background import BackgroundSpinner

        self.spinner = BackgroundSpinner("fuzz-tap")
        node = self.spinner.add(Node("fuzz_tap", context=self.spinner.context))
        self.lock = threading.Lock()
        self.twists: list[np.ndarray] = []
        self.joints: list[np.ndarray] = []
        node.create_subscription(Twist, topics.TWIST_COMMANDS, self._twist, qos.COMMAND)
        node.create_subscription(JointState, topics.JOINT_STATES, self._joints, qos.SENSOR)
        self.spinner.start()

    def _twist(self, m) -> None:
        with self.lock:
            self.twists.append(np.array([m.linear.x, m.linear.y, m.linear.z, m.angular.x, m.angular.y, m.angular.z]))

    def _joints(self, m) -> None:
        with self.lock:
            self.joints.append(np.array(m.position[:7]))

    def close(self) -> None:
        self.spinner.close()


def test_fuzzed_policy_never_drives_past_the_limits_or_under_the_table(tmp_path: Path, monkeypatch) -> None:
    from robovla.cli.session import SimSession

    fuzz_log = tmp_path / "fuzz.log"
    here = str(Path(__file__).parent)
    monkeypatch.setenv("FUZZ_LOG", str(fuzz_log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p))
    overrides = {
        "vla_inference.policy": "fuzz_policy:FuzzPolicy",
        "task_manager.success_source": "none",
        "sim.task": "",
        "kinova_control.safety.table_z": TABLE_Z,
        "kinova_control.safety.table_margin": MARGIN,
    }
    tap = DriverTap()
    try:
        with SimSession(overrides, log_dir=tmp_path / "logs") as client:
            goal = ExecuteInstruction.Goal(instruction="fuzz the arm", timeout_s=120.0)
            handle = client.send_instruction(goal)
            assert handle.accepted
            steps = lambda: len(fuzz_log.read_text().split()) if fuzz_log.exists() else 0  # noqa: E731
            assert wait_for(lambda: steps() >= 100, 90.0), f"the policy ran {steps()} of 100 steps"
            time.sleep(1.0)  # the last chunk played out
            wait_future(handle.cancel_goal_async(), 10.0)
            result = wait_future(handle.get_result_async(), 10.0)
            assert not result.result.success and "cancel" in result.result.message, result.result.message
    finally:
        tap.close()
    kinds = Counter(fuzz_log.read_text().split())
    assert set(kinds) == {"random", "down", "spin", "huge", "nan", "inf"}, kinds
    with tap.lock:
        twists, joints = np.array(tap.twists), list(tap.joints)
    assert len(twists) > 200 and len(joints) > 200
    assert np.isfinite(twists).all(), "a non-finite twist reached the driver"
    lin = np.linalg.norm(twists[:, :3], axis=1)
    ang = np.linalg.norm(np.radians(twists[:, 3:]), axis=1)  # the driver takes deg/s
    assert lin.max() <= MAX_LIN + 1e-6, f"linear {lin.max():.3f} m/s beyond {MAX_LIN}"
    assert ang.max() <= MAX_ANG + 1e-6, f"angular {ang.max():.3f} rad/s beyond {MAX_ANG}"
    assert lin.max() > 0.5 * MAX_LIN, "the fuzz never pushed the speed limit: the test proved nothing"
    tips = []
    for q in joints:
        pose = kinematics.forward_kinematics(q)
        tips.append(pose[:3, 3] + pose[:3, :3] @ np.array(TOOL))
    tip_z = np.array(tips)[:, 2]
    assert tip_z.min() >= TABLE_Z, f"fingertip at z={tip_z.min():.4f} below the table plane {TABLE_Z:.3f}"
    assert tip_z.min() < TABLE_Z + MARGIN + 0.02, f"the fuzz never came near the plane (lowest tip {tip_z.min():.3f})"
