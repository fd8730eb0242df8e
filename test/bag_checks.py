"""Checks of an episode bag as rosbag2's own tools read it (shared by the data and graph tests).

metadata.yaml is what `ros2 bag info` and the player read; the MCAP channels' offered_qos_profiles
and the MCAP `rosbag2` metadata record are what the MCAP storage plugin reads.
"""

from __future__ import annotations

import importlib.metadata
import os
import struct
from pathlib import Path

import yaml
from rosbags.rosbag2 import Reader

from robovla.data.metadata import METADATA_TOPIC

#: (reliability, durability, depth) each recorded topic is offered with in the live graph
EXPECTED_QOS = {
    "/camera/front/image_raw": ("best_effort", "volatile", 5),
    "/camera/wrist/image_raw": ("best_effort", "volatile", 5),
    "/joint_states": ("reliable", "volatile", 10),
    "/twist_controller/commands": ("reliable", "volatile", 10),
    "/robovla/arm_command": ("reliable", "volatile", 10),
    "/robovla/instruction": ("reliable", "transient_local", 1),
    "/robovla/episode_metadata": ("reliable", "transient_local", 1),
}
#: rmw's string forms, which rosbag2 (metadata version 9) parses
RMW_NAMES = {"history": {"keep_last", "keep_all"}, "reliability": {"reliable", "best_effort"},
             "durability": {"volatile", "transient_local"}, "liveliness": {"system_default", "automatic"}}


def installed_distro() -> str:
    """What the install is: $ROS_DISTRO, else the rclpy wheel's distro (Jazzy 7.x, Kilted 9.x)."""
    if os.environ.get("ROS_DISTRO"):
        return os.environ["ROS_DISTRO"]
    return {7: "jazzy", 9: "kilted"}[int(importlib.metadata.version("rclpy").split(".")[0])]


def _string(buf: bytes, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<I", buf, pos)
    return buf[pos + 4: pos + 4 + n].decode(), pos + 4 + n


def mcap_rosbag2_record(mcap: Path) -> dict[str, str]:
    """The MCAP file's `rosbag2` metadata record (opcode 0x0C), read from the bytes."""
    buf = mcap.read_bytes()
    pos = 8  # magic
    while pos + 9 <= len(buf):
        op = buf[pos]
        (length,) = struct.unpack_from("<Q", buf, pos + 1)
        body = buf[pos + 9: pos + 9 + length]
        pos += 9 + length
        if op == 0x0C:
            name, p = _string(body, 0)
            if name != "rosbag2":
                continue
            (size,) = struct.unpack_from("<I", body, p)
            p, end, out = p + 4, p + 4 + size, {}
            while p < end:
                key, p = _string(body, p)
                out[key], p = _string(body, p)
            return out
    raise AssertionError(f"{mcap}: no rosbag2 metadata record")


def stamps(bag: Path) -> tuple[list[int], list[int]]:
    """(data stamps, episode-metadata stamps) of every message in the bag."""
    data, meta = [], []
    with Reader(bag) as reader:
        for conn, ns, _ in reader.messages():
            (meta if conn.topic == METADATA_TOPIC else data).append(ns)
    return data, meta


def check_bag(bag: Path, distro: str) -> dict:
    """One time base, QoS on every topic in both places rosbag2 reads it, the distro; returns the info."""
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    data, meta = stamps(bag)
    span = max(data) - min(data)
    assert span > 0
    assert abs(info["duration"]["nanoseconds"] - span) <= 1_000_000, (info["duration"], span)
    assert info["starting_time"]["nanoseconds_since_epoch"] == min(data)
    assert meta == [min(data), max(data)]  # start and end markers on the data's own clock
    assert info["version"] == 9 and info["ros_distro"] == distro
    assert f"ros_distro: {distro}" in mcap_rosbag2_record(bag / f"{bag.name}.mcap")["serialized_metadata"]
    topics = {t["topic_metadata"]["name"]: t["topic_metadata"] for t in info["topics_with_message_count"]}
    assert set(topics) <= set(EXPECTED_QOS) and {"/joint_states", "/robovla/instruction", METADATA_TOPIC} <= set(topics)
    for name, meta_topic in topics.items():
        profiles = meta_topic["offered_qos_profiles"]
        assert isinstance(profiles, list) and len(profiles) == 1, (name, profiles)  # v9: a YAML list
        (q,) = profiles
        assert (q["reliability"], q["durability"], q["depth"]) == EXPECTED_QOS[name], name
        for key, names in RMW_NAMES.items():
            assert q[key] in names, (name, key, q[key])
        assert q["deadline"] == {"sec": 0, "nsec": 0}
    # the MCAP channels carry the same profiles (the storage plugin reads them from there)
    with Reader(bag / f"{bag.name}.mcap") as reader:
        for conn in reader.connections:
            (q,) = conn.ext.offered_qos_profiles
            expected = EXPECTED_QOS[conn.topic]
            assert (q.reliability.name.lower(), q.durability.name.lower(), q.depth) == expected, conn.topic
    return info
