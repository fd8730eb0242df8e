"""Programmatic demonstrations: real episode bags of a known, smooth Gen3 motion.

Used by tests and benchmarks (and handy to smoke-test a training setup) when no robot or
simulator recording is at hand: the joint trajectory is known, so the action labels read back
from the bag can be checked against forward kinematics of the ground truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robovla.control.kinematics import HOME_POSITION
from robovla.data import messages as m
from robovla.data.episode_writer import EpisodeWriter
from robovla.data.metadata import GEN3_ROBOT, EpisodeMetadata


def joint_trajectory(t: np.ndarray, seed: int = 0) -> np.ndarray:
    """(n,) times (s) -> (n, 7) joint positions: a slow, smooth, seed-dependent sweep around home."""
    rng = np.random.default_rng(seed)
    amp = rng.uniform(0.05, 0.25, size=7)
    freq = rng.uniform(0.1, 0.4, size=7)
    phase = rng.uniform(0, 2 * np.pi, size=7)
    return HOME_POSITION[None, :] + amp * (np.sin(2 * np.pi * freq * t[:, None] + phase) - np.sin(phase))


def gripper_trajectory(t: np.ndarray, duration: float) -> np.ndarray:
    """Knuckle angle (rad): open, closes in the middle third, opens again."""
    return np.where((t > duration / 3) & (t < 2 * duration / 3), m.GRIPPER_CLOSED_RAD, 0.0)


def frame_image(i: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """A deterministic picture whose top-left pixel encodes the frame number (for alignment checks)."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 4 + i * 3) % 256, (yy * 4 + seed * 50) % 256, np.full_like(xx, (i * 7) % 256)], axis=-1)
    img = img.astype(np.uint8)
    img[0, 0] = (i % 256, (i // 256) % 256, seed % 256)
    return img


def write_synthetic_episode(root: str | Path, episode_id: str, *, duration_s: float = 3.0,
                            joint_rate_hz: float = 50.0, camera_rate_hz: float = 15.0,
                            cameras: tuple[str, ...] = ("front",), image_hw: tuple[int, int] = (96, 128),
                            compressed: bool = False, instruction: str = "move the arm", seed: int = 0,
                            success: bool = True, t0_ns: int = m.BAG_T0_NS,
                            with_commands: bool = True) -> Path:
    """Write one finished episode bag with every topic the recorder records; returns its directory."""
    meta = EpisodeMetadata(episode_id=episode_id, instruction=instruction, robot=GEN3_ROBOT,
                           camera_names=list(cameras), camera_rate_hz=camera_rate_hz,
                           control_rate_hz=joint_rate_hz, extra={"synthetic_seed": seed})
    w = EpisodeWriter(root, meta, fsync=False, clock=lambda: t0_ns)  # the data's clock starts at t0_ns
    events: list[tuple[int, int, str]] = []  # (ns, order, kind:index)
    n_j = int(duration_s * joint_rate_hz) + 1
    n_c = int(duration_s * camera_rate_hz) + 1
    events += [(t0_ns + int(i * 1e9 / joint_rate_hz), 0, f"j{i}") for i in range(n_j)]
    events += [(t0_ns + int(i * 1e9 / camera_rate_hz), 1, f"c{i}") for i in range(n_c)]
    events.sort()
    w.write(m.INSTRUCTION_TOPIC, "robovla/msg/Instruction", m.instruction_msg(instruction, t0_ns, episode_id), t0_ns)
    for ns, _, kind in events:
        i = int(kind[1:])
        t = (ns - t0_ns) * 1e-9
        if kind[0] == "j":
            q = joint_trajectory(np.array([t]), seed)[0]
            g = float(gripper_trajectory(np.array([t]), duration_s)[0])
            w.write(m.JOINT_STATES_TOPIC, "sensor_msgs/msg/JointState", m.joint_state_msg(q, g, ns), ns)
            if with_commands:
                w.write(m.TWIST_TOPIC, "geometry_msgs/msg/Twist", m.twist_msg(np.zeros(3), np.zeros(3)), ns)
                w.write(m.ARM_COMMAND_TOPIC, "robovla/msg/ArmCommand",
                        m.arm_command_msg(np.zeros(3), np.zeros(3), g / m.GRIPPER_CLOSED_RAD, ns, episode_id), ns)
        else:
            for c in cameras:
                img = frame_image(i, *image_hw, seed=seed)
                if compressed:
                    w.write(m.camera_topic(c, True), "sensor_msgs/msg/CompressedImage",
                            m.compressed_image_msg(img, ns, c), ns)
                else:
                    w.write(m.camera_topic(c), "sensor_msgs/msg/Image", m.image_msg(img, ns, c), ns)
    return w.finish(success)
