"""Bags through real DDS: the live recorder under sim time keeps one time base, and `robovla replay`
feeds an episode back with its QoS, so a latched subscriber that joins late still gets the instruction."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState

from bag_checks import check_bag, installed_distro, stamps
from cli_helpers import install_env, interrupt, robovla_command
from graph_helpers import wait_for
from robovla.nodes.common.action_goals import send_goal
from robovla.action import RecordEpisode
from robovla.data import qos_profiles
from robovla.data.messages import ARM_JOINTS, GRIPPER_JOINT
from robovla.data.synthetic import frame_image, joint_trajectory, write_synthetic_episode
from robovla.msg import Instruction
from robovla.nodes.common import qos, topics
from robovla.nodes.common.background import BackgroundSpinner, wait_future

pytestmark = pytest.mark.ros

SIM0_NS = 5_000_000_000_000  # the sim clock starts at 5000 s, far from the wall clock
SIM_SPEED = 0.5


def test_graph_profiles_are_the_recorded_ones() -> None:
    assert qos.SENSOR == qos_profile_sensor_data
    assert qos.LATCHED == qos.profile(qos_profiles.LATCHED)
    assert (qos.LATCHED.durability.name, qos.LATCHED.reliability.name, qos.LATCHED.depth) == \
        ("TRANSIENT_LOCAL", "RELIABLE", 1)


class SimTimePeer(Node):
    """A sim-time graph at half speed: /clock, joint states (50 Hz), a camera (10 Hz), the instruction."""

    def __init__(self, context) -> None:
        super().__init__("simtime_test_peer", context=context)
        self.t0 = time.monotonic()
        self.clock = self.create_publisher(Clock, "/clock", 10)
        self.joints = self.create_publisher(JointState, topics.JOINT_STATES, qos.JOINT_STATES)
        self.cam = self.create_publisher(Image, topics.camera_topic("front"), qos.SENSOR)
        self.instruction = self.create_publisher(Instruction, topics.INSTRUCTION, qos.LATCHED)
        self.create_timer(0.01, self._publish_clock)
        self.create_timer(0.02, self._joints)
        self.create_timer(0.1, self._camera)

    def sim_ns(self) -> int:
        return SIM0_NS + int((time.monotonic() - self.t0) * SIM_SPEED * 1e9)

    def _publish_clock(self) -> None:
        msg = Clock()
        ns = self.sim_ns()
        msg.clock.sec, msg.clock.nanosec = ns // 1_000_000_000, ns % 1_000_000_000
        self.clock.publish(msg)

    def _joints(self) -> None:
        msg = JointState()
        msg.name = [*ARM_JOINTS, GRIPPER_JOINT]
        msg.position = [*joint_trajectory(np.array([time.monotonic() - self.t0]), seed=2)[0].tolist(), 0.0]
        self.joints.publish(msg)

    def _camera(self) -> None:
        msg = Image()
        msg.height, msg.width, msg.encoding, msg.step = 16, 16, "rgb8", 16 * 3
        msg.data = bytes(16 * 16 * 3)
        self.cam.publish(msg)

    def say(self, text: str) -> None:
        self.instruction.publish(Instruction(instruction=text, active=True))


def test_live_recorder_under_sim_time_keeps_one_time_base(tmp_path: Path) -> None:
    log = tmp_path / "recorder.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "robovla.nodes.recorder", "--ros-args",
                                 "-p", f"output_dir:={tmp_path / 'demos'}", "-p", "cameras:=[front]",
                                 "-p", "flush_interval_s:=0.2", "-p", "use_sim_time:=true"],
                                env=install_env(PYTHONUNBUFFERED="1"), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    spinner = BackgroundSpinner("simtime-recorder-test")
    try:
        peer = spinner.add(SimTimePeer(spinner.context))
        client = spinner.add(Node("simtime_record_client", context=spinner.context))
        spinner.start()
        ac = ActionClient(client, RecordEpisode, topics.RECORD_EPISODE)
        assert ac.wait_for_server(timeout_sec=60), log.read_text()
        time.sleep(1.0)  # the recorder's clock follows /clock by now
        handle = send_goal(ac, RecordEpisode.Goal(instruction="wave", episode_id="sim_ep"))
        assert handle.accepted
        time.sleep(0.5)
        peer.say("wave")
        time.sleep(2.5)
        wait_future(handle.cancel_goal_async(), 20)
        res = wait_future(handle.get_result_async(), 30).result
        assert res.success, res.message + log.read_text()
    finally:
        spinner.close()
        interrupt(proc)
    bag = Path(res.bag_path)
    info = check_bag(bag, installed_distro())
    data, meta = stamps(bag)
    # every stamp is sim time, and the episode lasted about half its wall-clock time
    assert SIM0_NS <= min(data + meta) and max(data + meta) < SIM0_NS + 60_000_000_000
    assert 0.8e9 < info["duration"]["nanoseconds"] < 2.5e9, info["duration"]
    assert info["topics_with_message_count"] and "/robovla/instruction" in str(info["topics_with_message_count"])


class Listener:
    """Subscribers of the graph's kinds, collecting what they receive with the receive time."""

    def __init__(self, spinner: BackgroundSpinner) -> None:
        self.spinner = spinner
        self.lock = threading.Lock()
        self.got: dict[str, list[tuple[float, object]]] = defaultdict(list)
        node = Node("replay_listener", context=spinner.context)
        # deep queues: a test thread starved by a loaded machine must not drop what the replay sent
        node.create_subscription(JointState, topics.JOINT_STATES, self._cb("joints"), QoSProfile(depth=200))
        node.create_subscription(Image, topics.camera_topic("front"), self._cb("camera"),
                                 QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT))
        spinner.add(node)

    def _cb(self, name: str):
        def cb(msg) -> None:
            with self.lock:
                self.got[name].append((time.monotonic(), msg))
        return cb

    def join_late(self) -> None:
        """A latched subscriber to the instruction (as the graph's nodes have) and a volatile one."""
        node = Node("late_listener", context=self.spinner.context)
        node.create_subscription(Instruction, topics.INSTRUCTION, self._cb("latched"), qos.LATCHED)
        node.create_subscription(Instruction, topics.INSTRUCTION, self._cb("volatile"), qos.COMMAND)
        self.spinner.add(node)

    def take(self, name: str) -> list[tuple[float, object]]:
        with self.lock:
            return list(self.got[name])


def test_replay_feeds_an_episode_back_and_a_late_latched_subscriber_gets_the_instruction(tmp_path: Path) -> None:
    rate, duration = 2.0, 6.0
    bag = write_synthetic_episode(tmp_path, "ep", duration_s=duration, joint_rate_hz=20.0, camera_rate_hz=5.0,
                                  cameras=("front",), image_hw=(48, 64), instruction="stack the red block", seed=4)
    recorded_q = joint_trajectory(np.arange(121) / 20.0, seed=4)
    spinner = BackgroundSpinner("replay-test")
    listener = Listener(spinner)
    spinner.start()
    proc = subprocess.Popen([robovla_command(), "replay", str(bag), "--rate", str(rate), "--delay", "3", "--hold"],
                            env=install_env(PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        assert wait_for(lambda: listener.take("joints"), 60), "no joint states replayed"
        # the instruction went out with the first joint state; these subscribers join after it
        listener.join_late()
        latched = wait_for(lambda: listener.take("latched"), 15)
        assert latched, "the latched instruction did not reach a late transient-local subscriber"
        (_, msg), = latched
        assert msg.instruction == "stack the red block" and msg.episode_id == "ep" and msg.active
        # the end of the episode: 121 joint states over 3 s of wall time at x2
        wait_for(lambda: any(js.position[0] == recorded_q[-1][0] for _, js in listener.take("joints")), 30)
        time.sleep(0.5)
        assert listener.take("volatile") == []  # only durability delivered it: it was published once, earlier
        proc.send_signal(signal.SIGINT)  # --hold: Ctrl-C ends it
        out, _ = proc.communicate(timeout=30)
    finally:
        spinner.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    # everything in the bag went out: 2 metadata + 1 instruction + 121 x (joints, twist, arm command) + 31 frames
    assert "Traceback" not in out and "replayed 397 messages" in out, out
    joints = listener.take("joints")
    for _, js in joints:  # every received state is a recorded one
        assert np.abs(recorded_q - np.asarray(js.position[:7])).max(axis=1).min() < 1e-12
    # reliable: from the first one matched (discovery can outlast --delay on a loaded machine) to the
    # last, every recorded state, in recorded order
    order = [int(np.abs(recorded_q - np.asarray(js.position[:7])).max(axis=1).argmin()) for _, js in joints]
    assert order == list(range(order[0], 121)) and order[0] < 60, order
    # recorded intervals divided by the rate
    (w0, js0), (w1, js1) = joints[0], joints[-1]
    recorded_s = (js1.header.stamp.sec - js0.header.stamp.sec) + (js1.header.stamp.nanosec - js0.header.stamp.nanosec) / 1e9
    assert recorded_s > 3.0
    assert abs((w1 - w0) - recorded_s / rate) < 0.5, (w1 - w0, recorded_s / rate)
    frames = listener.take("camera")
    assert len(frames) >= 0.5 * 31, len(frames)  # best effort, and the first ones may precede discovery
    idx = []
    for _, img in frames:
        pixels = np.frombuffer(bytes(img.data), np.uint8).reshape(48, 64, 3)
        i = int(pixels[0, 0, 0])
        np.testing.assert_array_equal(pixels, frame_image(i, 48, 64, seed=4))
        idx.append(i)
    assert idx == sorted(idx)
