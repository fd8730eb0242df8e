"""A test peer on the real ros2_kortex topic names and types: synthetic cameras and joint
states in, every graph output recorded, the gripper action served. Real rclpy over DDS."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import numpy as np
import rclpy
from control_msgs.action import ParallelGripperCommand
from geometry_msgs.msg import Twist
from rclpy.action import ActionServer
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from robovla.control import kinematics
from robovla.msg import ActionChunk, ArmCommand, Instruction, Observation, ObservationWindow
from robovla.nodes.common import qos, topics
from robovla.nodes.common.background import BackgroundSpinner
from robovla.nodes.common.kortex_standin import DriverInterfaces
from robovla.sim.kortex_driver import KortexDriverModel

HOME = kinematics.HOME_POSITION


#: the robot-side graph the integration tests start (the sim is replaced by KortexPeer)
GRAPH_NODES = ("task_manager", "camera_sync", "history_buffer", "vla_inference", "action_smoother", "kinova_control",
               "safety_monitor")


class KortexPeer(Node):
    def __init__(self, context=None, cameras=("front", "wrist"), width=320, height=240, camera_hz=30.0,
                 joint_hz=100.0, record: tuple[str, ...] | None = None, driver_distro: str = "jazzy"):
        """`record` names the graph outputs to subscribe to (default: all); a benchmark leaves out the
        image-carrying streams so that the peer's own deserialization does not load the graph."""
        super().__init__("kortex_test_peer", context=context)
        self.lock = threading.Lock()
        self.received: dict[str, list[tuple[float, object]]] = defaultdict(list)
        self.q = HOME.copy()
        self.cameras_on = True
        self.silenced: set[int] = set()  # indices of cameras that stop publishing (a failed driver)
        self.bad_encoding = False
        self.image = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
        self._frames: list[Image] = []
        self._frames_encoding = ""
        self.cam_pubs = [self.create_publisher(Image, topics.camera_topic(c), qos.SENSOR) for c in cameras]
        self.joint_pub = self.create_publisher(JointState, topics.JOINT_STATES, qos.JOINT_STATES)
        self.last_camera_stamp = 0.0
        for name, (msg_type, topic, profile) in {
            "twist": (Twist, topics.TWIST_COMMANDS, qos.COMMAND),
            "trajectory": (JointTrajectory, topics.JOINT_TRAJECTORY, qos.COMMAND),
            "arm_command": (ArmCommand, topics.ARM_COMMAND, qos.COMMAND),
            "sent": (ArmCommand, topics.SENT_COMMAND, qos.COMMAND),
            "chunk": (ActionChunk, topics.ACTION_CHUNK, qos.COMMAND),
            "window": (ObservationWindow, topics.WINDOW, qos.LATEST),
            "observation": (Observation, topics.OBSERVATION, qos.COMMAND),
            "instruction": (Instruction, topics.INSTRUCTION, qos.LATCHED),
            "markers": (MarkerArray, topics.INTENT_MARKERS, qos.COMMAND),
        }.items():
            if record is None or name in record:
                self.create_subscription(msg_type, topic, lambda m, n=name: self._record(n, m), profile)
        self.gripper_goals: list[float] = []
        ActionServer(self, ParallelGripperCommand, topics.GRIPPER_ACTION, self._gripper)
        # the driver stand-in the sim node serves too: twist_controller inactive at start, exclusive
        # with the JTC, Jazzy's trajectory rules; what it did with each command is recorded
        self.driver = KortexDriverModel(tuple(kinematics.GEN3_JOINT_NAMES), distro=driver_distro)
        self.driver_interfaces = DriverInterfaces(self, self.driver, self.lock, inject_fault_service=False)
        self.twists_ignored = 0  # twists sent while twist_controller was inactive: lost on a real arm
        self.trajectories_rejected: list[str] = []  # why Jazzy's JTC refused each rejected trajectory
        self.create_subscription(Twist, topics.TWIST_COMMANDS, self._driver_twist, qos.COMMAND)
        self.create_subscription(JointTrajectory, topics.JOINT_TRAJECTORY, self._driver_trajectory, qos.COMMAND)
        self.create_timer(1.0 / camera_hz, self._publish_cameras)
        self.create_timer(1.0 / joint_hz, self._publish_joints)
        # publishers used by tests to inject bad input directly into the graph
        self.chunk_pub = self.create_publisher(ActionChunk, topics.ACTION_CHUNK, qos.COMMAND)
        self.arm_pub = self.create_publisher(ArmCommand, topics.ARM_COMMAND, qos.COMMAND)
        self.raw_cam_pub = self.cam_pubs[0]

    def _driver_twist(self, msg: Twist) -> None:
        with self.lock:
            if not self.driver.on_twist(np.array([msg.linear.x, msg.linear.y, msg.linear.z]),
                                        np.array([msg.angular.x, msg.angular.y, msg.angular.z])):
                self.twists_ignored += 1

    def _driver_trajectory(self, msg: JointTrajectory) -> None:
        names = list(msg.joint_names)
        why = self.driver.check_trajectory(
            names, [list(p.positions) for p in msg.points], [list(p.velocities) for p in msg.points],
            [p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points])
        if why:
            with self.lock:
                self.trajectories_rejected.append(why)

    def _record(self, name: str, msg) -> None:
        with self.lock:
            self.received[name].append((time.monotonic(), msg))

    def take(self, name: str) -> list[tuple[float, object]]:
        with self.lock:
            return list(self.received[name])

    def clear(self) -> None:
        with self.lock:
            self.received.clear()

    def now_stamp(self):
        return self.get_clock().now().to_msg()

    def _publish_cameras(self) -> None:
        if not self.cameras_on:
            return
        stamp = self.now_stamp()
        for i, (msg, pub) in enumerate(zip(self._camera_msgs(), self.cam_pubs)):
            if i in self.silenced:
                continue
            msg.header.stamp = stamp  # a driver stamps at exposure, then sends: the graph's clock starts here
            pub.publish(msg)
        self.last_camera_stamp = stamp.sec + stamp.nanosec * 1e-9

    def _camera_msgs(self) -> list[Image]:
        """Frames built once per encoding (a 230 KB copy each, not part of what the graph costs)."""
        encoding = "yuv422" if self.bad_encoding else "rgb8"
        if self._frames_encoding != encoding:
            self._frames = []
            for i in range(len(self.cam_pubs)):
                msg = Image()
                msg.header.frame_id = f"camera_{i}"
                msg.height, msg.width = self.image.shape[:2]
                msg.encoding = encoding
                msg.step = msg.width * 3
                msg.data = self.image.tobytes()
                self._frames.append(msg)
            self._frames_encoding = encoding
        return self._frames

    def _publish_joints(self) -> None:
        msg = JointState()
        msg.header.stamp = self.now_stamp()
        msg.name = list(kinematics.GEN3_JOINT_NAMES) + ["robotiq_85_left_knuckle_joint"]
        msg.position = [float(v) for v in self.q] + [0.0]
        self.joint_pub.publish(msg)

    def _gripper(self, handle):
        self.gripper_goals.append(float(handle.request.command.position[0]))
        handle.succeed()
        result = ParallelGripperCommand.Result()
        result.state.name = list(handle.request.command.name)
        result.state.position = list(handle.request.command.position)
        return result


class PeerRunner:
    """Spin a peer in a background thread with its own rclpy context (closed as the tools close theirs)."""

    def __init__(self, **kwargs) -> None:
        self.spinner = BackgroundSpinner(name="test-peer")
        self.context = self.spinner.context
        self._kwargs = kwargs

    def __enter__(self) -> KortexPeer:
        self.node = self.spinner.add(KortexPeer(context=self.context, **self._kwargs))
        self.node.spinner = self.spinner  # for failure reports: is the peer still spinning, what raised
        self.spinner.start()
        return self.node

    def __exit__(self, *exc) -> None:
        self.spinner.close()


def wait_for(predicate, timeout: float, period: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(period)
    return predicate()


def observation_failure(graph, peer: KortexPeer, node: str = "camera_sync") -> str:
    """Why no Observation reached the peer, as far as the peer and the graph's logs can tell."""
    spinner = getattr(peer, "spinner", None)
    lines = [f"no observations from {node}"]
    if spinner is not None:
        lines.append(f"peer spinning: {spinner.is_alive()}, callback errors: {spinner.errors!r}")
    lines.append(f"peer: {len(peer.take('observation'))} observations, {len(peer.take('window'))} windows; "
                 f"publishers of {topics.OBSERVATION}: {peer.count_publishers(topics.OBSERVATION)}")
    for pub in peer.cam_pubs + [peer.joint_pub]:
        lines.append(f"{pub.topic_name}: {pub.get_subscription_count()} matched subscriptions "
                     f"{[i.node_name for i in peer.get_subscriptions_info_by_topic(pub.topic_name)]}")
    lines.append(f"--- end of {node}'s process log ---\n{graph.log(node)[-4000:]}")
    return "\n".join(lines)
