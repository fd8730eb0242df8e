"""camera_sync: N cameras + joint states -> one synchronized, model-sized Observation.

Approximate-time matching (message_filters' ApproximateTimeSynchronizer semantics: queue size
per input, slop) over every camera and /joint_states; images are decoded and resized only for
matched sets. Frames that never match, arrive out of order or cannot be decoded are counted
and logged, never forwarded. A camera's topic is the graph's camera/<name>/image_raw or its
driver's (`camera_preset`, `camera_topics`: topics.camera_topics), `<topic>/compressed` for a
compressed one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image, JointState

from robovla.control import kinematics
from robovla.control.image import ImageError, ResizeSpec, compressed_to_rgb, fit, raw_to_rgb
from robovla.control.sync import ApproximateTimeSync
from robovla.msg import Instruction, Observation
from robovla.nodes.common import qos, topics
from robovla.health.checks import Finding, Level
from robovla.nodes.common.convert import pose_to_msg, rgb_to_image, to_sec
from robovla.nodes.common.diagnostics import NodeDiagnostics
from robovla.nodes.common.intra_process import IntraProcessPublisher
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run


@dataclass
class CameraSyncParams:
    cameras: list[str] = field(default_factory=lambda: ["front", "wrist"])
    compressed: list[bool] = field(default_factory=lambda: [False, False])  # per camera: <topic>/compressed
    camera_preset: str = "sim"  # the drivers' topic names: sim | realsense | usb_cam (topics.CAMERA_PRESETS)
    camera_topics: list[str] = field(default_factory=list)  # NAME=TOPIC: a camera's raw topic, over the preset
    queue_size: int = 10  # per camera
    joint_queue_size: int = 200  # joint states come at 40 Hz - 1 kHz
    slop: float = 0.02  # s
    image_width: int = 224
    image_height: int = 224
    crop: bool = True
    joint_names: list[str] = field(default_factory=lambda: list(kinematics.GEN3_JOINT_NAMES))
    gripper_joint: str = "robotiq_85_left_knuckle_joint"
    gripper_closed_position: float = 0.8
    frame_id: str = "base_link"
    stats_period_s: float = 10.0
    # take images and joint states reliably, with a deep queue (qos.RELIABLE_SENSOR): a lock-stepped
    # sim waits for the answer to every frame, so none may be lost, and with a modelled latency this
    # node may be several joint states behind (SENSOR's depth of 5 lost about 1 frame in 100)
    reliable: bool = False
    silent_s: float = 0.5  # a camera or /joint_states silent this long is an error on /diagnostics


class CameraSync(Node):
    def __init__(self) -> None:
        super().__init__("camera_sync")
        self.p = declare_config(self, CameraSyncParams)
        p = self.p
        if len(p.compressed) not in (0, len(p.cameras)):
            raise ValueError(f"'compressed' has {len(p.compressed)} entries for {len(p.cameras)} cameras")
        compressed = p.compressed or [False] * len(p.cameras)
        sources = topics.camera_topics(p.cameras, p.camera_preset, p.camera_topics)
        unread = sorted(set(topics.parse_camera_topics(p.camera_topics)) - set(p.cameras))
        if unread:  # the launch refuses this; a hand-set parameter or a checkpoint's cameras get here
            self.get_logger().warning(f"camera_topics names {unread}, which are not among the cameras {p.cameras}")
        self.resize = ResizeSpec(p.image_width, p.image_height, p.crop)
        # One OpenCV thread: a 240x240 -> 224 resize took 89 us with OpenCV's default pool on
        # 2 cores and 59 us without it (/tmp microbenchmark, this VM); on a loaded machine
        # the pool also waits for a busy core. Process-wide, so it holds for composed nodes too.
        cv2.setNumThreads(1)
        self.sync: ApproximateTimeSync = ApproximateTimeSync(
            len(p.cameras) + 1, p.queue_size, p.slop, queue_sizes=[p.queue_size] * len(p.cameras) + [p.joint_queue_size]
        )
        self.decode_errors = 0
        self.episode_id = ""
        self.diag = NodeDiagnostics(self)
        self._inputs = [self.diag.stream(f"camera {name}", p.silent_s) for name in p.cameras]
        self._inputs.append(self.diag.stream("joint_states", p.silent_s))
        self._observations = self.diag.output("observation")
        self._reported_errors = 0
        self.diag.add(self._sync_health)
        self.pub = IntraProcessPublisher(self, Observation, topics.OBSERVATION, qos.COMMAND)
        subscribed = []
        sensor = qos.RELIABLE_SENSOR if p.reliable else qos.SENSOR
        for i, (name, is_compressed) in enumerate(zip(p.cameras, compressed)):
            msg_type = CompressedImage if is_compressed else Image
            sub = self.create_subscription(msg_type, topics.compressed_topic(sources[name], is_compressed),
                                           lambda m, i=i: self._on_input(i, m), sensor)
            subscribed.append(f"{name}={sub.topic_name}")
        self.joint_index = len(p.cameras)
        self.create_subscription(JointState, topics.JOINT_STATES, lambda m: self._on_input(self.joint_index, m), sensor)
        self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction, qos.LATCHED)
        self.create_timer(p.stats_period_s, self._log_stats)
        self.get_logger().info(
            f"syncing cameras {', '.join(subscribed)} + joint states (queue {p.queue_size}, slop {p.slop * 1e3:.0f} ms) "
            f"-> {p.image_width}x{p.image_height}"
        )

    def _on_instruction(self, msg: Instruction) -> None:
        self.episode_id = msg.episode_id if msg.active else ""

    def _on_input(self, index: int, msg: Image | CompressedImage | JointState) -> None:
        self._inputs[index].tick(self.diag.now())
        matched = self.sync.add(index, to_sec(msg.header.stamp), msg)
        if matched is not None:
            self._publish(matched[1])

    def _publish(self, msgs: list) -> None:
        joint_msg: JointState = msgs[-1]
        out = Observation()
        out.header.stamp = msgs[0].header.stamp  # reference camera
        out.header.frame_id = self.p.frame_id
        out.episode_id = self.episode_id
        out.camera_names = list(self.p.cameras)
        try:
            out.images = [
                rgb_to_image(fit(self._decode(name, m), self.resize), m.header.stamp, name)
                for name, m in zip(self.p.cameras, msgs[:-1])
            ]
            q, gripper = self._joints(joint_msg)
        except (ImageError, ValueError) as exc:
            self.decode_errors += 1
            self.get_logger().error(f"dropped a synchronized set: {exc}", throttle_duration_sec=2.0)
            return
        out.joint_names = list(self.p.joint_names)
        out.joint_positions = q.tolist()
        out.gripper = gripper
        out.ee_pose = pose_to_msg(kinematics.ee_pose(q))
        self.pub.publish(out)
        self._observations.tick(self.diag.now())

    def _decode(self, name: str, m: Image | CompressedImage) -> np.ndarray:
        try:
            if isinstance(m, CompressedImage):
                return compressed_to_rgb(m.data, m.format)
            return raw_to_rgb(m.data, m.height, m.width, m.encoding, m.step)
        except ImageError as exc:
            raise ImageError(f"camera '{name}': {exc}") from None

    def _joints(self, m: JointState) -> tuple[np.ndarray, float]:
        index = {n: i for i, n in enumerate(m.name)}
        missing = [n for n in self.p.joint_names if n not in index]
        if missing or len(m.position) != len(m.name):
            raise ValueError(f"joint_states lacks {missing or 'positions for its names'}")
        q = np.array([m.position[index[n]] for n in self.p.joint_names], dtype=np.float64)
        if not np.all(np.isfinite(q)):
            raise ValueError("joint_states holds non-finite positions")
        g = 0.0
        if self.p.gripper_joint in index:
            g = float(np.clip(m.position[index[self.p.gripper_joint]] / self.p.gripper_closed_position, 0.0, 1.0))
        return q, g

    def _sync_health(self, t: float) -> tuple[list[Finding], dict[str, str]]:
        s = self.sync.stats
        new_errors, self._reported_errors = self.decode_errors - self._reported_errors, self.decode_errors
        findings = [Finding(Level.WARN, f"{new_errors} synchronized sets dropped: undecodable images")] if new_errors else []
        n = len(self.p.cameras)
        return findings, {"synchronized sets": str(s.emitted), "camera frames unsynced": str(sum(s.dropped_per_input[:n])),
                          "joint_states skipped": str(s.dropped_per_input[n]), "undecodable": str(self.decode_errors)}

    def _log_stats(self) -> None:
        s = self.sync.stats
        unsynced = sum(s.dropped_per_input[: len(self.p.cameras)])  # joint states skipped by design are not news
        if unsynced or s.rejected_out_of_order or self.decode_errors:
            self.get_logger().warning(
                f"sync: {s.emitted} sets, camera frames unsynced {unsynced}, "
                f"out-of-order {s.rejected_out_of_order}, undecodable {self.decode_errors}"
            )


NODE = CameraSync  # the class robovla.nodes.container instantiates


def main() -> int:
    return run(NODE)
