"""Reading one episode bag back into time-stamped numpy streams (the input of alignment).

Images are decoded and resized to the training size on arrival so a long episode of large
frames never sits in memory at full resolution.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from rosbags.rosbag2 import Reader

from robovla.data.messages import (
    ARM_COMMAND_TOPIC,
    ARM_JOINTS,
    GRIPPER_JOINT,
    INSTRUCTION_TOPIC,
    JOINT_STATES_TOPIC,
    TWIST_TOPIC,
    decode_image,
)
from robovla.data.metadata import CUSTOM_DATA_KEY, METADATA_TOPIC, EpisodeMetadata
from robovla.data.robots import GEN3, RobotSignature, signature_for_joints
from robovla.data.typestore import bag_typestore

log = logging.getLogger(__name__)


class EpisodeError(ValueError):
    """A bag that cannot be used as an episode; the message names the bag and the reason."""


@dataclass
class RawEpisode:
    """Streams of one bag: every array is indexed by its own receive-time vector (seconds)."""

    path: Path
    metadata: EpisodeMetadata
    incomplete: bool
    joint_t: np.ndarray  # (n,)
    joint_q: np.ndarray  # (n, 7) rad
    gripper: np.ndarray  # (n,) normalised 0 open .. 1 closed
    camera_t: dict[str, np.ndarray] = field(default_factory=dict)
    camera_frames: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (m, H, W, 3)
    command_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    command_gripper: np.ndarray = field(default_factory=lambda: np.zeros(0))
    twist_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    twist: np.ndarray = field(default_factory=lambda: np.zeros((0, 6)))
    instructions: list[tuple[float, str]] = field(default_factory=list)
    t0_ns: int = 0  # bag time of t = 0 (every *_t array is relative to it)

    @property
    def instruction(self) -> str:
        if self.metadata.instruction:
            return self.metadata.instruction
        return self.instructions[-1][1] if self.instructions else ""


def _camera_name(topic: str) -> str | None:
    parts = topic.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "camera" and parts[2] == "image_raw":
        return parts[1]
    return None


def _read_custom_data(bag: Path) -> dict[str, str]:
    meta = bag / "metadata.yaml"
    if not meta.is_file():
        return {}
    info = yaml.safe_load(meta.read_text()) or {}
    return (info.get("rosbag2_bagfile_information") or {}).get("custom_data") or {}


def read_episode_bag(bag: str | Path, image_size: tuple[int, int] | None = (224, 224),
                     cameras: list[str] | None = None) -> RawEpisode:
    """Read one episode bag directory; raises EpisodeError naming the bag for anything unusable.

    image_size: (H, W) every frame is resized to (None = keep). cameras: the camera names to
    keep (None = every /camera/<name>/image_raw[/compressed] topic in the bag).
    """
    from robovla.control.image import resize

    bag = Path(bag)
    custom = _read_custom_data(bag)
    try:
        reader = Reader(bag)
        reader.open()
    except Exception as exc:  # rosbags raises several types for corrupt/truncated files
        raise EpisodeError(f"episode bag {bag}: corrupt or truncated, cannot open ({type(exc).__name__}: {exc})") from exc
    store = bag_typestore(reader.connections)  # older bags: their own message definitions
    metadata = EpisodeMetadata(episode_id=bag.name)
    if CUSTOM_DATA_KEY in custom:
        import json

        try:
            metadata = EpisodeMetadata.from_dict(json.loads(custom[CUSTOM_DATA_KEY]))
        except (ValueError, TypeError):
            log.warning("episode bag %s: unreadable custom_data %s", bag, CUSTOM_DATA_KEY)
    joint_t: list[float] = []
    joint_q: list[np.ndarray] = []
    grip: list[float] = []
    cam_t: dict[str, list[float]] = {}
    cam_f: dict[str, list[np.ndarray]] = {}
    cmd_t: list[float] = []
    cmd_g: list[float] = []
    tw_t: list[float] = []
    tw: list[list[float]] = []
    instr: list[tuple[float, str]] = []
    joint_index: np.ndarray | None = None
    sig: RobotSignature = GEN3
    t0_ns: int | None = None
    try:
        try:
            topics = {c.topic for c in reader.connections}
            if not topics - {METADATA_TOPIC, INSTRUCTION_TOPIC}:
                raise EpisodeError(f"episode bag {bag}: zero-length episode (no data messages, "
                                   f"no {JOINT_STATES_TOPIC})")
            if JOINT_STATES_TOPIC not in topics:
                raise EpisodeError(f"episode bag {bag}: missing topic {JOINT_STATES_TOPIC} (has {sorted(topics)})")
            for conn, ns, raw in reader.messages():
                if t0_ns is None:
                    t0_ns = ns
                t = (ns - t0_ns) * 1e-9  # relative: float64 seconds since 1970 lose sub-microsecond precision
                topic = conn.topic
                if topic == JOINT_STATES_TOPIC:
                    msg = store.deserialize_cdr(raw, conn.msgtype)
                    if joint_index is None or len(msg.name) != len(joint_index):
                        names = list(msg.name)
                        sig = signature_for_joints(names)  # the Gen3, or another arm the project knows
                        if sig is None:
                            missing = [j for j in (*ARM_JOINTS, GRIPPER_JOINT) if j not in names]
                            raise EpisodeError(f"episode bag {bag}: /joint_states lacks joints {missing}")
                        joint_index = np.array([names.index(j) for j in (*sig.arm_joints, sig.gripper_joint)])
                    pos = np.asarray(msg.position, dtype=np.float64)[joint_index]
                    joint_t.append(t)
                    joint_q.append(pos[:7])
                    grip.append(float(np.clip(sig.closure(pos[7]), 0.0, 1.0)))
                elif (name := _camera_name(topic)) is not None:
                    if cameras is not None and name not in cameras:
                        continue
                    img = decode_image(store.deserialize_cdr(raw, conn.msgtype))
                    if image_size is not None and img.shape[:2] != tuple(image_size):
                        img = resize(img, image_size[1], image_size[0])
                    cam_t.setdefault(name, []).append(t)
                    cam_f.setdefault(name, []).append(np.ascontiguousarray(img))
                elif topic == ARM_COMMAND_TOPIC:
                    msg = store.deserialize_cdr(raw, conn.msgtype)
                    cmd_t.append(t)
                    cmd_g.append(float(msg.gripper))
                elif topic == TWIST_TOPIC:
                    msg = store.deserialize_cdr(raw, conn.msgtype)
                    tw_t.append(t)
                    tw.append([msg.linear.x, msg.linear.y, msg.linear.z, msg.angular.x, msg.angular.y, msg.angular.z])
                elif topic == INSTRUCTION_TOPIC:
                    msg = store.deserialize_cdr(raw, conn.msgtype)
                    instr.append((t, msg.instruction))
                elif topic == METADATA_TOPIC:
                    metadata = EpisodeMetadata.from_msg(store.deserialize_cdr(raw, conn.msgtype))
        finally:
            reader.close()
    except EpisodeError:
        raise
    except Exception as exc:
        raise EpisodeError(f"episode bag {bag}: corrupt or truncated ({type(exc).__name__}: {exc})") from exc
    if cameras is not None:
        absent = [c for c in cameras if c not in cam_t]
        if absent:
            present = sorted(n for c in topics if (n := _camera_name(c)) is not None)
            raise EpisodeError(f"episode bag {bag}: no camera topic for {absent}; the bag has cameras {present} "
                               f"(choose them with data.cameras / model.cameras)")
    if not joint_t:
        raise EpisodeError(f"episode bag {bag}: zero-length episode (no /joint_states messages)")
    incomplete = custom.get("robovla.incomplete") == "true" or not metadata.finished
    return RawEpisode(
        path=bag,
        metadata=metadata,
        incomplete=incomplete,
        joint_t=np.asarray(joint_t),
        joint_q=np.stack(joint_q),
        gripper=np.asarray(grip),
        camera_t={k: np.asarray(v) for k, v in cam_t.items()},
        camera_frames={k: np.stack(v) for k, v in cam_f.items()},
        command_t=np.asarray(cmd_t),
        command_gripper=np.asarray(cmd_g),
        twist_t=np.asarray(tw_t),
        twist=np.asarray(tw, dtype=np.float64).reshape(-1, 6),
        instructions=instr,
        t0_ns=t0_ns or 0,
    )


def find_episode_bags(root: str | Path) -> list[Path]:
    """Episode bag directories under root (root itself if it is one); skips _incomplete/ with a warning."""
    root = Path(root)
    if (root / "metadata.yaml").is_file() or any(root.glob("*.mcap")):
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {root} does not exist")
    bags = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")) and
                  ((p / "metadata.yaml").is_file() or any(p.glob("*.mcap"))))
    inc = root / "_incomplete"
    if inc.is_dir() and any(p for p in inc.iterdir() if not p.name.startswith(".")):
        log.warning("%s holds interrupted recordings; run `robovla record --recover %s` to salvage them",
                    inc, root)
    return bags


