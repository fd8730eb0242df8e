"""ROS messages <-> the core's plain types (robovla.policy.types)."""

from __future__ import annotations

from typing import Callable

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose
from sensor_msgs.msg import Image

from robovla.control.image import raw_to_rgb
from robovla.msg import ActionChunk as ActionChunkMsg
from robovla.msg import Observation as ObservationMsg
from robovla.msg import ObservationWindow as ObservationWindowMsg
from robovla.policy.types import ACTION_DIM, ActionChunk, Observation, ObservationWindow


def to_sec(t: Time) -> float:
    return t.sec + t.nanosec * 1e-9


def to_time(seconds: float) -> Time:
    ns = int(round(seconds * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def rgb_to_image(rgb: np.ndarray, stamp: Time, frame_id: str = "") -> Image:
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return msg


def pose_to_msg(pose7: np.ndarray) -> Pose:
    p = Pose()
    p.position.x, p.position.y, p.position.z = (float(v) for v in pose7[:3])
    p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w = (float(v) for v in pose7[3:7])
    return p


def msg_to_pose(p: Pose) -> np.ndarray:
    o = p.orientation
    return np.array([p.position.x, p.position.y, p.position.z, o.x, o.y, o.z, o.w])


def observation_to_msg(obs: Observation, joint_names: list[str], frame_id: str = "base_link") -> ObservationMsg:
    msg = ObservationMsg()
    msg.header.stamp = to_time(obs.stamp)
    msg.header.frame_id = frame_id
    msg.episode_id = obs.episode_id
    msg.camera_names = list(obs.images)
    msg.images = [rgb_to_image(img, msg.header.stamp, name) for name, img in obs.images.items()]
    msg.joint_names = list(joint_names)
    msg.joint_positions = [float(v) for v in obs.joint_positions]
    msg.gripper = float(obs.gripper)
    msg.ee_pose = pose_to_msg(obs.ee_pose)
    return msg


def msg_to_observation(msg: ObservationMsg) -> Observation:
    images = {
        name: raw_to_rgb(img.data, img.height, img.width, img.encoding, img.step)
        for name, img in zip(msg.camera_names, msg.images)
    }
    return Observation(
        stamp=to_sec(msg.header.stamp),
        images=images,
        joint_positions=np.asarray(msg.joint_positions, dtype=np.float64),
        gripper=float(msg.gripper),
        ee_pose=msg_to_pose(msg.ee_pose),
        episode_id=msg.episode_id,
    )


def window_to_msg(window: ObservationWindow, observations: list[ObservationMsg]) -> ObservationWindowMsg:
    """Build a window message from already-converted observation messages (no re-encoding)."""
    msg = ObservationWindowMsg()
    msg.header = observations[-1].header
    msg.episode_id = window.episode_id
    msg.observations = observations
    msg.valid = [bool(v) for v in window.valid]
    return msg


def msg_to_window(msg: ObservationWindowMsg,
                  known: Callable[[float, str], Observation | None] | None = None) -> ObservationWindow:
    """`known(stamp, episode_id)` may return an already decoded frame for a message that carries
    no images (robovla.control.frame_cache says why): it is used instead of converting again."""
    if not msg.observations:
        raise ValueError("observation window message has no observations")

    def convert(o: ObservationMsg) -> Observation:
        if known is not None and not o.images:
            done = known(to_sec(o.header.stamp), msg.episode_id)
            if done is not None:
                return done
        return msg_to_observation(o)

    return ObservationWindow(
        observations=tuple(convert(o) for o in msg.observations),
        valid=np.asarray(msg.valid, dtype=bool),
        episode_id=msg.episode_id,
    )


def chunk_to_msg(chunk: ActionChunk, now: Time, policy: str) -> ActionChunkMsg:
    msg = ActionChunkMsg()
    msg.header.stamp = now
    msg.header.frame_id = chunk.frame
    msg.observation_stamp = to_time(chunk.stamp)
    msg.episode_id = chunk.episode_id
    msg.policy = policy
    msg.horizon, msg.action_dim = chunk.horizon, ACTION_DIM
    msg.dt = float(chunk.dt)
    msg.values = np.asarray(chunk.actions, dtype=np.float32).reshape(-1).tolist()
    msg.latency_s = float(chunk.latency_s)
    return msg


def msg_to_chunk(msg: ActionChunkMsg) -> ActionChunk:
    """Validate the wire layout; raises ValueError naming the problem."""
    if msg.action_dim != ACTION_DIM:
        raise ValueError(f"action chunk has action_dim {msg.action_dim}, expected {ACTION_DIM}")
    values = np.asarray(msg.values, dtype=np.float64)
    if msg.horizon == 0 or values.size != msg.horizon * msg.action_dim:
        raise ValueError(
            f"action chunk has {values.size} values for horizon {msg.horizon} x {msg.action_dim} dims"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("action chunk contains NaN or inf")
    return ActionChunk(
        actions=values.reshape(msg.horizon, msg.action_dim),
        stamp=to_sec(msg.observation_stamp),
        dt=float(msg.dt),
        frame=msg.header.frame_id or "base_link",
        episode_id=msg.episode_id,
        latency_s=float(msg.latency_s),
    )
