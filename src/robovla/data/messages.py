"""Builders for the rosbags message objects an episode bag holds (numpy in, typestore objects out).

rosbags is strict about array dtypes (Image.data must be 1-D uint8, JointState arrays float64),
so these helpers are the one place that knows it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from robovla.data.typestore import typestore

#: Gen3 7-DoF joints then the Robotiq 2F-85 knuckle (0 = open .. 0.8 rad = closed).
ARM_JOINTS = tuple(f"joint_{i}" for i in range(1, 8))
GRIPPER_JOINT = "robotiq_85_left_knuckle_joint"
GRIPPER_CLOSED_RAD = 0.8

JOINT_STATES_TOPIC = "/joint_states"
TWIST_TOPIC = "/twist_controller/commands"
ARM_COMMAND_TOPIC = "/robovla/arm_command"
INSTRUCTION_TOPIC = "/robovla/instruction"
BAG_T0_NS = 1_700_000_000_000_000_000  # clock origin of bags written outside ROS (synthetic, offline sim)


def camera_topic(name: str, compressed: bool = False) -> str:
    return f"/camera/{name}/image_raw" + ("/compressed" if compressed else "")


def _t(name: str) -> Any:
    return typestore().types[name]


def stamp(ns: int) -> Any:
    return _t("builtin_interfaces/msg/Time")(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def header(ns: int, frame_id: str = "") -> Any:
    return _t("std_msgs/msg/Header")(stamp=stamp(ns), frame_id=frame_id)


def stamp_to_ns(t: Any) -> int:
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def image_msg(rgb: np.ndarray, ns: int, frame_id: str = "camera") -> Any:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {rgb.shape}")
    h, w, _ = rgb.shape
    return _t("sensor_msgs/msg/Image")(
        header=header(ns, frame_id), height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3,
        data=rgb.reshape(-1),
    )


def compressed_image_msg(rgb: np.ndarray, ns: int, frame_id: str = "camera", quality: int = 90) -> Any:
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return _t("sensor_msgs/msg/CompressedImage")(header=header(ns, frame_id), format="rgb8; jpeg compressed bgr8",
                                                 data=buf.reshape(-1).astype(np.uint8))


def joint_state_msg(arm_q: np.ndarray, gripper_rad: float, ns: int, arm_joints: tuple[str, ...] = ARM_JOINTS,
                    gripper_joint: str = GRIPPER_JOINT) -> Any:
    """Gen3 joints + Robotiq knuckle, as ros2_kortex publishes them (or another arm's names and gripper
    joint position: robovla.data.robots)."""
    pos = np.concatenate([np.asarray(arm_q, dtype=np.float64).reshape(7), [float(gripper_rad)]])
    return _t("sensor_msgs/msg/JointState")(
        header=header(ns, "base_link"), name=[*arm_joints, gripper_joint], position=pos,
        velocity=np.zeros(0, dtype=np.float64), effort=np.zeros(0, dtype=np.float64),
    )


def twist_msg(linear: np.ndarray, angular: np.ndarray) -> Any:
    v3 = _t("geometry_msgs/msg/Vector3")
    lx, ly, lz = (float(x) for x in linear)
    ax, ay, az = (float(x) for x in angular)
    return _t("geometry_msgs/msg/Twist")(linear=v3(x=lx, y=ly, z=lz), angular=v3(x=ax, y=ay, z=az))


def arm_command_msg(linear: np.ndarray, angular: np.ndarray, gripper: float, ns: int, episode_id: str = "") -> Any:
    return _t("robovla/msg/ArmCommand")(
        header=header(ns, "base_link"), observation_stamp=stamp(ns), episode_id=episode_id,
        twist=twist_msg(linear, angular), gripper=float(gripper),
    )


def instruction_msg(text: str, ns: int, episode_id: str = "", active: bool = True, task: str = "") -> Any:
    return _t("robovla/msg/Instruction")(header=header(ns), episode_id=episode_id, instruction=text, active=active,
                                         task=task)


def decode_image(msg: Any) -> np.ndarray:
    """sensor_msgs Image or CompressedImage -> HxWx3 uint8 RGB."""
    import cv2

    if hasattr(msg, "encoding"):
        enc = msg.encoding.lower()
        h, w = int(msg.height), int(msg.width)
        buf = np.asarray(msg.data, dtype=np.uint8)
        step = int(msg.step) or w * {"mono8": 1, "rgba8": 4, "bgra8": 4}.get(enc, 3)
        if enc in ("rgb8", "bgr8"):
            img = buf[: h * step].reshape(h, step)[:, : w * 3].reshape(h, w, 3)
            return img if enc == "rgb8" else img[..., ::-1]
        if enc in ("rgba8", "bgra8"):
            img = buf[: h * step].reshape(h, step)[:, : w * 4].reshape(h, w, 4)[..., :3]
            return img if enc == "rgba8" else img[..., ::-1]
        if enc == "mono8":
            img = buf[: h * step].reshape(h, step)[:, :w]
            return np.repeat(img[..., None], 3, axis=2)
        raise ValueError(f"unsupported image encoding {msg.encoding!r}")
    bgr = cv2.imdecode(np.asarray(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot decode compressed image (format {msg.format!r})")
    return bgr[..., ::-1]
