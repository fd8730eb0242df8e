"""camera_sync and the recorder on real camera drivers' topic names (camera_topics / camera_preset),
not the graph's camera/<name>/image_raw: the installed nodes, real rclpy over DDS."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from rclpy.action import ActionClient
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image, JointState

from cli_helpers import install_env
from graph_helpers import HOME, wait_for
from robovla.nodes.common.action_goals import send_goal
from robovla.action import RecordEpisode
from robovla.control import kinematics
from robovla.data.bag_reader import read_episode_bag
from robovla.msg import Observation
from robovla.nodes.common import qos, topics
from robovla.nodes.common.background import BackgroundSpinner

pytestmark = pytest.mark.ros

FRONT = "/camera/camera/color/image_raw"  # realsense2_camera with its default camera_namespace/camera_name
WRIST = "/wrist_cam/image_raw"  # usb_cam in namespace wrist_cam, read through image_transport's /compressed


class Drivers(Node):
    """realsense2_camera (raw), usb_cam (compressed) and joint_state_broadcaster, as far as names and types go."""

    def __init__(self, context) -> None:
        super().__init__("camera_drivers_test_peer", context=context)
        rgb = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
        self.raw = Image(height=48, width=64, encoding="rgb8", step=64 * 3, data=rgb.tobytes())
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        assert ok
        self.jpeg = CompressedImage(format="rgb8; jpeg compressed bgr8", data=jpeg.tobytes())
        self.front = self.create_publisher(Image, FRONT, qos.SENSOR)
        self.wrist = self.create_publisher(CompressedImage, WRIST + "/compressed", qos.SENSOR)
        self.joints = self.create_publisher(JointState, topics.JOINT_STATES, qos.JOINT_STATES)
        self.observations: list[Observation] = []
        self.create_subscription(Observation, topics.OBSERVATION, self.observations.append, qos.COMMAND)
        self.create_timer(1 / 15, self._cameras)
        self.create_timer(0.01, self._joints)

    def _cameras(self) -> None:
        stamp = self.get_clock().now().to_msg()
        self.raw.header.stamp = self.jpeg.header.stamp = stamp
        self.front.publish(self.raw)
        self.wrist.publish(self.jpeg)

    def _joints(self) -> None:
        msg = JointState(name=[*kinematics.GEN3_JOINT_NAMES, "robotiq_85_left_knuckle_joint"],
                         position=[float(v) for v in HOME] + [0.0])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.joints.publish(msg)

    def subscribers(self, topic: str) -> list[tuple[str, str]]:
        return [(i.node_name, i.topic_type) for i in self.get_subscriptions_info_by_topic(topic)]


@pytest.fixture()
def drivers():
    spinner = BackgroundSpinner("camera-drivers")
    node = spinner.add(Drivers(spinner.context))
    spinner.start()
    try:
        yield node
    finally:
        spinner.close()


def test_camera_sync_reads_a_remapped_raw_and_compressed_camera(graph_factory, drivers) -> None:
    graph = graph_factory({"camera_sync.cameras": ["front", "wrist"], "camera_sync.compressed": [False, True],
                           "camera_sync.camera_topics": [f"front={FRONT}", f"wrist={WRIST}"],
                           "camera_sync.image_width": 32, "camera_sync.image_height": 32}, nodes=("camera_sync",))
    assert wait_for(lambda: drivers.observations, 60), f"no observation from the remapped cameras:\n" \
                                                       f"{graph.log('camera_sync')}"
    obs = drivers.observations[-1]
    assert list(obs.camera_names) == ["front", "wrist"]
    assert [(im.width, im.height) for im in obs.images] == [(32, 32), (32, 32)]
    # DDS can announce an endpoint before its node's name (_NODE_NAME_UNKNOWN_ on a loaded machine)
    want = {FRONT: [("camera_sync", "sensor_msgs/msg/Image")],
            WRIST + "/compressed": [("camera_sync", "sensor_msgs/msg/CompressedImage")]}
    assert wait_for(lambda: all(drivers.subscribers(t) == w for t, w in want.items()), 20), \
        {t: drivers.subscribers(t) for t in want}
    assert not drivers.subscribers("/" + topics.camera_topic("front")), "the graph's default name is not read"
    assert f"front={FRONT}" in graph.log("camera_sync") and f"wrist={WRIST}/compressed" in graph.log("camera_sync")


def _wait(future, timeout: float = 30.0):
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    assert done.wait(timeout), "no answer"
    return future.result()


def test_the_recorder_records_the_remapped_camera_under_its_name(drivers, tmp_path: Path) -> None:
    log = tmp_path / "recorder.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "robovla.nodes.recorder", "--ros-args",
                                 "-p", f"output_dir:={tmp_path / 'demos'}", "-p", "cameras:=[front]",
                                 "-p", f"camera_topics:=[front={FRONT}]", "-p", "flush_interval_s:=0.2"],
                                env=install_env(PYTHONUNBUFFERED="1"), stdout=out, stderr=subprocess.STDOUT)
    try:
        client = ActionClient(drivers, RecordEpisode, topics.RECORD_EPISODE)
        assert client.wait_for_server(timeout_sec=60), log.read_text()
        handle = send_goal(client, RecordEpisode.Goal(instruction="look", episode_id="cam_1"))
        assert handle.accepted
        time.sleep(2.0)
        _wait(handle.cancel_goal_async())
        result = _wait(handle.get_result_async()).result
        assert result.success, result.message
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    raw = read_episode_bag(tmp_path / "demos" / "cam_1", image_size=None)
    assert len(raw.camera_t["front"]) >= 10, "the driver's frames were recorded as camera 'front'"
    assert raw.metadata.extra["camera_topics"] == {"front": FRONT}
