"""rosbags' Writer completed with what rosbag2's own tools read from a bag: offered QoS, ROS distro.

rosbags (0.11) writes `offered_qos_profiles: []` unless told otherwise, and `ros_distro: rosbags`
in both metadata.yaml and the MCAP file's `rosbag2` metadata record. With no offered QoS,
`ros2 bag play` offers every topic reliable/volatile, which never reaches a transient-local
subscriber: the latched instruction would be lost on replay. So every topic is written with the
profile the live graph offers it with (:func:`offered_qos`, from robovla.data.qos_profiles), in
the version-9 format Jazzy and Kilted read (a YAML list of profiles with string policies), and the
distro is the one this install is built against.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Sequence
from io import StringIO
from pathlib import Path
from typing import Any

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer
from ruamel.yaml import YAML

from robovla.data import messages as m
from robovla.data import qos_profiles as profiles
from robovla.data.metadata import METADATA_TOPIC
from robovla.data.qos_profiles import QosSpec

log = logging.getLogger(__name__)

#: rosbag2 metadata version the bags are written in: Jazzy's, which Kilted reads as well
BAG_VERSION = 9
#: rclpy's major version per distro, for the PyPI-wheel installs that set no ROS_DISTRO
_RCLPY_MAJOR_DISTRO = {3: "humble", 7: "jazzy", 9: "kilted"}
#: the distro of the typestore the bags are written with (robovla.data.typestore)
_DEFAULT_DISTRO = "kilted"

#: the offered QoS of each recorded topic that is not a camera (cameras: profiles.SENSOR). The
#: episode metadata is not a graph topic; it is offered latched so a late joiner of a replay
#: learns which episode is playing, as it learns the instruction.
TOPIC_QOS: dict[str, QosSpec] = {
    m.JOINT_STATES_TOPIC: profiles.JOINT_STATES,
    m.TWIST_TOPIC: profiles.COMMAND,
    m.ARM_COMMAND_TOPIC: profiles.COMMAND,
    m.INSTRUCTION_TOPIC: profiles.LATCHED,
    METADATA_TOPIC: profiles.LATCHED,
}


def offered_qos(topic: str) -> QosSpec:
    """The profile the live graph offers `topic` with; rosbag2's default (reliable, volatile) otherwise."""
    topic = "/" + topic.lstrip("/")
    if topic in TOPIC_QOS:
        return TOPIC_QOS[topic]
    if topic.startswith("/camera/"):
        return profiles.SENSOR
    return profiles.COMMAND


def ros_distro() -> str:
    """The ROS 2 distro of this install: $ROS_DISTRO (a sourced /opt/ros), else the rclpy wheel's."""
    env = os.environ.get("ROS_DISTRO", "").strip()
    if env:
        return env
    try:  # distribution metadata only: robovla.data does not import rclpy
        major = int(importlib.metadata.version("rclpy").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        major = -1
    return _RCLPY_MAJOR_DISTRO.get(major, _DEFAULT_DISTRO)


def to_rosbags_qos(spec: QosSpec) -> Qos:
    """A plain profile as rosbags writes it; zero durations and system-default liveliness = rmw defaults."""
    zero = QosTime(0, 0)
    return Qos(
        QosHistory.KEEP_ALL if spec.history == "keep_all" else QosHistory.KEEP_LAST,
        spec.depth,
        QosReliability.BEST_EFFORT if spec.reliability == "best_effort" else QosReliability.RELIABLE,
        QosDurability.TRANSIENT_LOCAL if spec.durability == "transient_local" else QosDurability.VOLATILE,
        zero, zero, QosLiveliness.SYSTEM_DEFAULT, zero, False,
    )


def from_rosbags_qos(topic: str, recorded: Sequence[Qos]) -> QosSpec:
    """The profile to offer a recorded topic with on replay, as rosbag2's player chooses it.

    One recorded profile (or several that agree on reliability and durability): that one. None
    (a bag from an older writer): the graph's profile for the topic. Disagreeing publishers:
    rosbag2's fallback, reliable/volatile.
    """
    if not recorded:
        return offered_qos(topic)
    kinds = {(q.reliability, q.durability) for q in recorded}
    if len(kinds) > 1:
        log.warning("%s: recorded publishers offered different QoS %s; replaying reliable/volatile", topic, kinds)
        return profiles.COMMAND
    q = recorded[0]
    reliability = "best_effort" if q.reliability == QosReliability.BEST_EFFORT else "reliable"
    durability = "transient_local" if q.durability == QosDurability.TRANSIENT_LOCAL else "volatile"
    if q.history == QosHistory.KEEP_ALL:
        return QosSpec(reliability, max(q.depth, 1), durability, "keep_all")
    # endpoint info of some rmw reports depth 0: rosbag2 then replays with its default depth (10)
    return QosSpec(reliability, q.depth if q.depth > 0 else 10, durability)


def _yaml() -> YAML:
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False  # as rosbags and rosbag2 write metadata
    return yaml


def _with_distro(text: str, distro: str) -> str:
    info = _yaml().load(text)
    info["ros_distro"] = distro
    out = StringIO()
    _yaml().dump(info, out)
    return out.getvalue().strip()


class BagWriter(Writer):
    """An MCAP rosbag2 (version 9) writer whose topics carry offered QoS and whose distro is real."""

    def __init__(self, path: str | Path, *, distro: str | None = None) -> None:
        super().__init__(path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        self.ros_distro = distro or ros_distro()

    def add_connection(self, topic: str, msgtype: str, *, offered_qos_profiles: Sequence[Qos] | None = None,
                       **kwargs: Any) -> Any:
        """As rosbags', with the graph's profile for `topic` unless profiles are given."""
        if offered_qos_profiles is None:
            offered_qos_profiles = [to_rosbags_qos(offered_qos(topic))]
        return super().add_connection(topic, msgtype, offered_qos_profiles=offered_qos_profiles, **kwargs)

    def close(self) -> None:
        """Close, with the distro in the MCAP `rosbag2` metadata record and in metadata.yaml."""
        storage = self.storage
        if storage is not None:
            # rosbags hands the storage its serialized metadata (with ros_distro: rosbags) on close
            storage_close = storage.close
            storage.close = lambda version, metadata: storage_close(version, _with_distro(metadata, self.ros_distro))
        super().close()
        doc = _yaml().load(self.metapath.read_text("utf8"))
        doc["rosbag2_bagfile_information"]["ros_distro"] = self.ros_distro
        out = StringIO()
        _yaml().dump(doc, out)
        tmp = self.metapath.with_suffix(".yaml.tmp")
        tmp.write_text(out.getvalue(), "utf8")
        tmp.replace(self.metapath)
