"""The recorder node records real episode bags from live topics; a SIGKILL never costs a finished episode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from rclpy.action import ActionClient
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState

from cli_helpers import install_env, interrupt, robovla, robovla_command
from robovla.nodes.common.action_goals import send_goal
from robovla.action import RecordEpisode
from robovla.control.kinematics import forward_kinematics
from robovla.data.actions import integrate_actions
from robovla.data.bag_reader import read_episode_bag
from robovla.data.dataset import DataConfig, WindowDataset, load_episodes
from robovla.data.episode_writer import INCOMPLETE_DIR, recover_incomplete
from robovla.data.messages import ARM_JOINTS, GRIPPER_JOINT
from robovla.data.synthetic import joint_trajectory
from robovla.nodes.common import qos, topics
from robovla.nodes.common.background import BackgroundSpinner

pytestmark = pytest.mark.ros



class Teleop(Node):
    """Publishes a moving arm (100 Hz joint states) and a 64x48 camera at 15 Hz, like ros2_kortex would."""

    def __init__(self, context) -> None:
        super().__init__("teleop_test_peer", context=context)
        self.t0 = time.monotonic()
        self.joints = self.create_publisher(JointState, topics.JOINT_STATES, qos.SENSOR)
        self.cam = self.create_publisher(Image, topics.camera_topic("front"), qos.SENSOR)
        self.create_timer(0.01, self._joints)
        self.create_timer(1 / 15, self._camera)
        self.n = 0

    def _joints(self) -> None:
        t = time.monotonic() - self.t0
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = [*ARM_JOINTS, GRIPPER_JOINT]
        msg.position = [*joint_trajectory(np.array([t]), seed=3)[0].tolist(), 0.8 if int(t) % 2 else 0.0]
        self.joints.publish(msg)

    def _camera(self) -> None:
        self.n += 1
        msg = Image()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.height, msg.width, msg.encoding, msg.step = 48, 64, "rgb8", 64 * 3
        msg.data = bytes([self.n % 256]) * (48 * 64 * 3)
        self.cam.publish(msg)


@pytest.fixture()
def setup(tmp_path: Path):
    env = install_env(PYTHONUNBUFFERED="1")
    log = tmp_path / "recorder.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "robovla.nodes.recorder", "--ros-args",
                                 "-p", f"output_dir:={tmp_path / 'demos'}", "-p", "cameras:=[front]",
                                 "-p", "flush_interval_s:=0.2"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    spinner = BackgroundSpinner("recorder-test")
    spinner.add(Teleop(spinner.context))
    client_node = spinner.add(Node("record_test_client", context=spinner.context))
    spinner.start()
    ac = ActionClient(client_node, RecordEpisode, "robovla/record_episode")
    try:
        assert ac.wait_for_server(timeout_sec=60), log.read_text()
        yield ac, proc, tmp_path / "demos", log
    finally:
        spinner.close()
        interrupt(proc)


def _start(ac: ActionClient, **goal):
    handle = send_goal(ac, RecordEpisode.Goal(**goal))
    assert handle.accepted
    return handle


def _wait(fut, timeout: float = 30):
    done = threading.Event()
    fut.add_done_callback(lambda f: done.set())
    assert done.wait(timeout)
    return fut.result()


def test_record_cancel_and_kill(setup) -> None:
    ac, proc, root, log = setup
    handle = _start(ac, instruction="wave slowly", episode_id="demo_1", operator_notes="test")
    time.sleep(3.0)
    _wait(handle.cancel_goal_async())
    res = _wait(handle.get_result_async()).result
    assert res.success, res.message
    assert res.bag_path == str(root / "demo_1") and res.message_count > 200

    raw = read_episode_bag(root / "demo_1", image_size=None)
    assert raw.metadata.finished and raw.metadata.success and raw.metadata.instruction == "wave slowly"
    assert raw.metadata.operator_notes == "test" and raw.metadata.camera_names == ["front"]
    assert len(raw.joint_t) > 150 and len(raw.camera_t["front"]) > 25
    assert raw.camera_frames["front"].shape[1:] == (48, 64, 3)
    # every recorded joint sample lies on the published trajectory
    q = raw.joint_q
    ts = np.linspace(0, 60, 60001)
    traj = joint_trajectory(ts, seed=3)
    for row in q[:: max(1, len(q) // 10)]:
        assert np.abs(traj - row).max(axis=1).min() < 2e-3

    # windows and chunks from the recorded bag: labels reproduce the recorded end-effector motion
    cfg = DataConfig(rate_hz=10, window=3, chunk=4, image_size=32, cameras=["front"], cache_dir=str(root / ".c"))
    (ep,) = load_episodes(root, cfg).episodes
    poses = np.stack([forward_kinematics(s[:7]) for s in ep.state])
    chained = integrate_actions(poses[0], ep.actions[ep.action_valid])
    np.testing.assert_allclose(chained[:, :3, 3], poses[:, :3, 3], atol=1e-5)
    assert np.abs(ep.actions[:-1, :3]).sum() > 1e-3
    grip = ep.actions[ep.action_valid, 6]
    assert set(np.unique(grip)) == {0.0, 1.0}  # the gripper closed every other second
    s = WindowDataset([ep], 3, 4)[5]
    np.testing.assert_array_equal(s["actions"][-1].numpy(), ep.actions[5:9])

    # second episode: SIGKILL the recorder mid-episode
    _start(ac, instruction="interrupted demo", episode_id="demo_2")
    time.sleep(2.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert read_episode_bag(root / "demo_1").metadata.finished  # the finished episode is intact
    assert (root / INCOMPLETE_DIR / "demo_2").is_dir() and not (root / "demo_2").exists()
    assert [e.episode_id for e in load_episodes(root, cfg).episodes] == ["demo_1"]
    assert recover_incomplete(root) == [root / "demo_2"]
    rec = read_episode_bag(root / "demo_2", image_size=None)
    assert rec.incomplete and rec.metadata.instruction == "interrupted demo"
    assert len(rec.joint_t) > 50  # flushed every 0.2 s: at most the last fraction of a second is lost


def test_robovla_record_exit_codes_and_ctrl_c_keeps_the_episode(setup) -> None:
    """`robovla record` as an operator runs it: by duration, by Ctrl-C, and with no recorder."""
    _, _, root, log = setup
    by_time = robovla("record", "--instruction", "wave", "--episode-id", "cli_timed", "--duration", "1.5", timeout=120)
    assert by_time.returncode == 0, by_time.stdout + by_time.stderr
    assert str(root / "cli_timed") in by_time.stdout
    proc = subprocess.Popen([robovla_command(), "record", "--instruction", "wave", "--episode-id", "cli_ctrl_c"],
                            env=install_env(PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        while not (root / INCOMPLETE_DIR / "cli_ctrl_c").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    raw = read_episode_bag(root / "cli_ctrl_c", image_size=None)
    assert raw.metadata.finished and raw.metadata.instruction == "wave" and len(raw.joint_t) > 50
    assert read_episode_bag(root / "cli_timed", image_size=None).metadata.finished


def test_robovla_record_without_a_recorder_fails_clearly(tmp_path: Path) -> None:
    proc = robovla("record", "--instruction", "wave", "--wait-server", "2", timeout=120)
    assert proc.returncode == 1 and "no recorder on robovla/record_episode" in proc.stderr



def test_recorder_on_sim_time_refuses_to_start_before_the_first_clock(tmp_path: Path) -> None:
    """Under use_sim_time the node clock reads 0 until /clock comes: a bag begun then would start
    at time 0, a different time base from its data. Refused, saying why; then it records."""
    from rosgraph_msgs.msg import Clock

    log = tmp_path / "recorder.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "robovla.nodes.recorder", "--ros-args",
                                 "-p", f"output_dir:={tmp_path / 'demos'}", "-p", "cameras:=[front]",
                                 "-p", "use_sim_time:=true"],
                                env=install_env(PYTHONUNBUFFERED="1"), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    spinner = BackgroundSpinner("recorder-clock-test")
    node = spinner.add(Node("record_clock_client", context=spinner.context))
    spinner.start()
    try:
        ac = ActionClient(node, RecordEpisode, "robovla/record_episode")
        assert ac.wait_for_server(timeout_sec=60), log.read_text()
        refused = _wait(_start(ac, instruction="wave", episode_id="too_early").get_result_async()).result
        assert not refused.success and "no /clock has arrived" in refused.message, refused.message
        assert not (tmp_path / "demos" / "too_early").exists()
        clock = node.create_publisher(Clock, topics.CLOCK, qos.LATEST)
        stamp = Clock()
        stamp.clock.sec = 1_000_000
        node.create_timer(0.01, lambda: clock.publish(stamp))
        deadline = time.monotonic() + 30
        while True:  # the recorder's clock follows once it has discovered this publisher
            handle = _start(ac, instruction="wave", episode_id="on_time")
            time.sleep(1.0)
            _wait(handle.cancel_goal_async())
            res = _wait(handle.get_result_async()).result
            if res.success or time.monotonic() > deadline:
                break
        assert res.success, res.message
        from rosbags.rosbag2 import Reader

        with Reader(tmp_path / "demos" / "on_time") as bag:  # no data here: the episode metadata only
            assert bag.message_count >= 2
            assert bag.start_time >= 1_000_000 * 10**9, "stamped on the sim clock, not at time 0"
    finally:
        spinner.close()
        interrupt(proc)


def test_finish_episode_verdicts_and_refusals(setup) -> None:
    """robovla/finish_episode, as a GUI calls it: a wrong verdict or episode is refused with why and
    the recording goes on; keep-as-failure flags the bag; discard moves it out of training's way."""
    from robovla.srv import FinishEpisode

    ac, proc, root, log = setup
    node = ac._node
    client = node.create_client(FinishEpisode, topics.FINISH_EPISODE)
    assert client.wait_for_service(timeout_sec=30)

    def finish(**kw):
        return _wait(client.call_async(FinishEpisode.Request(**kw)))

    res = finish(verdict=FinishEpisode.Request.KEEP_SUCCESS)
    assert not res.success and res.message == "not recording"
    handle = _start(ac, instruction="hand over the cup", episode_id="gui_1", operator_notes="gui")
    time.sleep(1.0)
    res = finish(verdict=7)
    assert not res.success and "unknown verdict 7" in res.message
    res = finish(verdict=FinishEpisode.Request.KEEP_SUCCESS, episode_id="someone_else")
    assert not res.success and "recording gui_1, not someone_else" in res.message
    res = finish(verdict=FinishEpisode.Request.KEEP_FAILURE, notes="dropped it")
    assert res.success, res.message
    out = _wait(handle.get_result_async()).result
    assert out.success and out.bag_path == str(root / "gui_1") and "written, failure" in out.message
    meta = read_episode_bag(root / "gui_1", image_size=None).metadata
    assert meta.finished and not meta.success and meta.operator_notes == "gui dropped it"

    handle = _start(ac, instruction="hand over the cup", episode_id="gui_2")
    time.sleep(1.0)
    assert finish(verdict=FinishEpisode.Request.DISCARD).success
    out = _wait(handle.get_result_async()).result
    assert out.success and out.bag_path == str(root / "_discarded" / "gui_2")
    assert read_episode_bag(root / "_discarded" / "gui_2", image_size=None).metadata.finished
    assert not (root / "gui_2").exists()
    cfg = DataConfig(rate_hz=10, window=3, chunk=4, image_size=32, cameras=["front"], cache_dir=str(root / ".c"),
                     only_successful=False)
    assert [e.episode_id for e in load_episodes(root, cfg).episodes] == ["gui_1"], "a discarded episode is not trained on"
    assert proc.poll() is None
