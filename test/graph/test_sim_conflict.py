"""The sim never shares a ROS graph with a real driver: real rclpy, the sim node as its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from controller_manager_msgs.srv import ListControllers
from rclpy.node import Node
from sensor_msgs.msg import JointState

from cli_helpers import install_env
from graph_helpers import wait_for
from robovla.nodes.common import qos, topics
from robovla.nodes.common.background import BackgroundSpinner

pytestmark = pytest.mark.ros


@pytest.fixture()
def spinner():
    spin = BackgroundSpinner("fake-driver")
    yield spin
    spin.close()


def _sim(log: Path, *params: str) -> subprocess.Popen:
    env = install_env(PYTHONUNBUFFERED="1", MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    args = [a for p in ("task:=lift_block", *params) for a in ("-p", p)]
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "robovla.nodes.sim", "--ros-args", *args],
                                env=env, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_sim_refuses_to_start_next_to_a_driver(spinner, tmp_path: Path) -> None:
    """A driver already up (joint_state_broadcaster, controller_manager): the sim names both, serves nothing,
    exits 1."""
    broadcaster = spinner.add(Node("joint_state_broadcaster", context=spinner.context))
    broadcaster.create_publisher(JointState, topics.JOINT_STATES, qos.JOINT_STATES)
    manager = spinner.add(Node("controller_manager", context=spinner.context))
    manager.create_service(ListControllers, topics.LIST_CONTROLLERS, lambda _req, res: res)
    spinner.start()
    log = tmp_path / "sim.log"
    # discovery of a participant took 0.1-2.4 s on this 2-core VM (Fast DDS, localhost): a window that
    # always covers it, so that the start check (not the later watch) is what this test sees; the check
    # returns as soon as it sees a driver
    proc = _sim(log, "driver_check_s:=5.0")
    try:
        assert proc.wait(120) == 1, log.read_text()
    finally:
        _stop(proc)
    text = log.read_text()
    assert "another driver is on this ROS graph" in text
    assert "/joint_state_broadcaster (publishes /joint_states)" in text, text
    assert "/controller_manager (serves /controller_manager/list_controllers)" in text, text
    assert "sim ready" not in text and "Traceback" not in text, text
    assert [i.node_name for i in broadcaster.get_publishers_info_by_topic("/joint_states")] == [
        "joint_state_broadcaster"], "the sim never published joint_states"


def test_the_sim_stops_when_a_driver_appears(spinner, tmp_path: Path) -> None:
    """A driver started after the sim: the sim stops publishing and exits 1, naming it."""
    peer = spinner.add(Node("sim_conflict_test_peer", context=spinner.context))
    received: list[JointState] = []
    peer.create_subscription(JointState, topics.JOINT_STATES, received.append, qos.SENSOR)
    spinner.start()
    log = tmp_path / "sim.log"
    proc = _sim(log)
    try:
        assert wait_for(lambda: received or proc.poll() is not None, 120) and proc.poll() is None, log.read_text()
        late = spinner.add(Node("joint_state_broadcaster", context=spinner.context))
        late.create_publisher(JointState, topics.JOINT_STATES, qos.JOINT_STATES)
        assert proc.wait(30) == 1, log.read_text()
    finally:
        _stop(proc)
    text = log.read_text()
    assert "/joint_state_broadcaster (publishes /joint_states)" in text, text
    assert "Fatal Python error" not in text and "EGL" not in text, text
