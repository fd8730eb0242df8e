"""Publish a recorded episode (robovla.data.replay.BagReplay) into the graph with rclpy.

Each topic is offered with the QoS it was recorded with, so the latched /robovla/instruction
reaches transient-local subscribers that join late, as it does from the live task manager.
`robovla replay` (cli/replay.py) owns the arguments, the signals and the output.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from robovla.data.replay import BagReplay
from robovla.nodes.common.qos import profile

log = logging.getLogger(__name__)


def message_class(msgtype: str) -> Any:
    """`pkg/msg/Name` -> the rclpy message class; None if its package is not installed or sourced."""
    try:
        pkg, kind, name = msgtype.split("/")
        return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    except (ValueError, ImportError, AttributeError):
        return None


class BagPlayer:
    """One publisher per replayable topic, on a context of its own (no rclpy signal handlers)."""

    def __init__(self, replay: BagReplay) -> None:
        self.replay = replay
        self.context = Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.node = Node("robovla_replay", context=self.context)
        self.pubs = {}
        for t in replay.topics:
            cls = message_class(t.msgtype)
            if cls is None:  # as `ros2 bag play` does with a type it cannot load
                log.warning("skipping %s: message type %s is not installed (source its package)", t.topic, t.msgtype)
                continue
            self.pubs[t.topic] = self.node.create_publisher(cls, t.topic, profile(t.qos))
            log.info("%s [%s] %d messages, %s %s depth %d", t.topic, t.msgtype, t.count, t.qos.reliability,
                     t.qos.durability, t.qos.depth)
        self.total = sum(t.count for t in replay.topics if t.topic in self.pubs)

    def play(self, rate: float, stop: threading.Event) -> int:
        """Publish in recorded time order, spaced by the recorded intervals / rate; the count sent."""
        sent, t0 = 0, time.monotonic()
        for offset_ns, topic, raw in self.replay.messages():
            pub = self.pubs.get(topic)
            if pub is None:
                continue
            wait = t0 + offset_ns / 1e9 / rate - time.monotonic()
            if stop.wait(wait) if wait > 0 else stop.is_set():
                break
            pub.publish(raw)
            sent += 1
        return sent

    def flush(self, timeout_s: float, stop: threading.Event) -> None:
        """Reliable writers: let the last messages reach their readers."""
        deadline = time.monotonic() + timeout_s
        for pub in self.pubs.values():
            left = deadline - time.monotonic()
            if left <= 0 or stop.is_set():
                break
            pub.wait_for_all_acked(Duration(nanoseconds=int(left * 1e9)))

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
