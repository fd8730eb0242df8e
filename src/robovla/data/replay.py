"""What a replay publishes, and when: a bag's topics with their offered QoS, its messages in time order.

ROS-free (the rclpy side is robovla.nodes.common.bag_player), so the schedule is testable without a graph and
the same reading serves any other player.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rosbags.rosbag2 import Reader

from robovla.data.bagfile import from_rosbags_qos
from robovla.data.qos_profiles import QosSpec
from robovla.data.typestore import bag_typestore, upgrade_cdr

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayTopic:
    topic: str
    msgtype: str  # e.g. "sensor_msgs/msg/Image"
    qos: QosSpec  # as recorded (the graph's profile for bags without QoS)
    count: int


class BagReplay:
    """One bag opened for replay; use as a context manager."""

    def __init__(self, bag: str | Path, topics: list[str] | None = None) -> None:
        self.path = Path(bag)
        self._reader = Reader(self.path)
        self._reader.open()
        try:
            by_topic: dict[str, list] = {}
            for conn in self._reader.connections:
                by_topic.setdefault(conn.topic, []).append(conn)
            if topics:
                wanted = ["/" + t.lstrip("/") for t in topics]
                missing = [t for t in wanted if t not in by_topic]
                if missing:
                    raise ValueError(f"{self.path}: no topic {missing} (the bag has {sorted(by_topic)})")
                by_topic = {t: by_topic[t] for t in wanted}
            self._conns = [c for conns in by_topic.values() for c in conns]
            self.topics: list[ReplayTopic] = []
            for topic, conns in by_topic.items():
                types = {c.msgtype for c in conns}
                if len(types) > 1:
                    raise ValueError(f"{self.path}: topic {topic} holds several types {sorted(types)}")
                recorded = [q for c in conns for q in getattr(c.ext, "offered_qos_profiles", [])]
                if not recorded:
                    log.info("%s: %s has no recorded QoS; offering the graph's profile for it", self.path, topic)
                self.topics.append(ReplayTopic(topic, conns[0].msgtype, from_rosbags_qos(topic, recorded),
                                               sum(c.msgcount for c in conns)))
        except BaseException:
            self._reader.close()
            raise

    @property
    def start_ns(self) -> int:
        return self._reader.start_time

    @property
    def duration_ns(self) -> int:
        return self._reader.duration

    def messages(self) -> Iterator[tuple[int, str, bytes]]:
        """(ns since the bag's first message, topic, serialized CDR) in recorded time order."""
        start = self.start_ns
        store = bag_typestore(self._conns)  # a bag of older definitions plays in today's layout
        for conn, ns, raw in self._reader.messages(connections=self._conns):
            yield ns - start, conn.topic, upgrade_cdr(bytes(raw), conn.msgtype, store)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> BagReplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
