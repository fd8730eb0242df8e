"""In-process hand-over between nodes composed into one process: rclcpp's intra-process comms,
which rclpy does not have.

Why: a message between two nodes of one rclpy process still goes publisher -> serialize -> DDS
-> deserialize -> executor, 0.2-0.5 ms a hop on 2 cores (bench/results/hop_latency.md), paid
three times on the camera -> Twist path. Through here it is a Python object handed to the
subscriber's executor.

How:
- `IntraProcessPublisher.publish(msg)` queues the message object for every subscription made by
  `subscribe()` in this process on the same topic, type and compatible QoS, and the subscriber's
  executor runs its callback as a task. DDS carries it only when a matched subscription did not
  get it that way (another process: a recorder, RViz, a test peer), so with no one else
  listening nothing is serialized at all.
- Those subscriptions still take messages from other processes over DDS. The DDS copy of a
  message one of them already got in-process is recognised by its serialized bytes and dropped:
  each message arrives once. (rclpy's MessageInfo carries the publisher gid, but the
  EventsExecutor of these wheels cannot call a callback that takes one.)
- As in DDS, KEEP_LAST `depth` bounds each subscription's queue (oldest dropped). Durability is
  volatile only (a late joiner gets nothing in-process, as with rclcpp's).
- A received message may be shared with other subscribers: read it, never modify it.
`ROBOVLA_INTRA_PROCESS=0` sends every message over DDS instead (bench/bench_graph.py compares).
"""

from __future__ import annotations

import os
import threading
import traceback
import weakref
from collections import deque
from typing import Any, Callable, Generic, TypeVar

from rclpy.context import Context
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSCompatibility, QoSProfile, qos_check_compatible
from rclpy.serialization import deserialize_message, serialize_message
from rclpy.subscription import Subscription

# Kilted's rclpy names the message TypeVar in rclpy.type_support; Jazzy's (7.1) has no such module
# member, and an equivalent TypeVar serves the annotations alike.
try:
    from rclpy.type_support import MsgT
except ImportError:
    MsgT = TypeVar("MsgT")


def enabled() -> bool:
    return os.environ.get("ROBOVLA_INTRA_PROCESS", "1") != "0"


class _LocalSubscription:
    """One `subscribe()` call: its in-process queue and the DDS copies it should skip."""

    def __init__(self, node: Node, msg_type: type, callback: Callable[[Any], None], qos: QoSProfile) -> None:
        self.node_ref = weakref.ref(node)
        self.msg_type = msg_type
        self.callback = callback
        self.qos = qos
        self.topic = ""
        self._lock = threading.Lock()
        self._queue: deque = deque(maxlen=max(qos.depth, 1))
        self._scheduled = False
        self._expected: deque[bytes] = deque(maxlen=max(qos.depth, 1) + 4)

    def push(self, msg: Any) -> bool:
        """Queue `msg` for the subscriber's executor; False if the node cannot take it now."""
        node = self.node_ref()
        executor = node.executor if node is not None else None
        if executor is None:
            return False
        with self._lock:
            self._queue.append(msg)
            if self._scheduled:
                return True
            self._scheduled = True
        executor.create_task(self._drain)
        return True

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._scheduled = False
                    return
                msg = self._queue.popleft()
            self._call(msg)

    def _call(self, msg: Any) -> None:
        try:
            self.callback(msg)
        except Exception:  # a task swallows exceptions: say what failed instead of losing it
            node = self.node_ref()
            if node is not None:
                node.get_logger().error(f"callback for {self.topic} failed:\n{traceback.format_exc()}")

    def expect(self, data: bytes) -> None:
        with self._lock:
            self._expected.append(data)

    def on_dds(self, data: bytes) -> None:
        """A DDS message: drop it if it is the copy of one delivered in-process, else deliver it."""
        with self._lock:
            for i, seen in enumerate(self._expected):
                if seen == data:
                    del self._expected[i]
                    return
        self._call(deserialize_message(data, self.msg_type))


class _Bus:
    """The in-process subscriptions of one context (one per process under `runner.run`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscriptions: dict[str, list[_LocalSubscription]] = {}

    def add(self, sub: _LocalSubscription) -> None:
        with self.lock:
            self.subscriptions.setdefault(sub.topic, []).append(sub)

    def remove(self, sub: _LocalSubscription) -> None:
        with self.lock:
            subs = self.subscriptions.get(sub.topic, [])
            if sub in subs:
                subs.remove(sub)

    def matching(self, topic: str, msg_type: type, qos: QoSProfile) -> list[_LocalSubscription]:
        with self.lock:
            subs = list(self.subscriptions.get(topic, ()))
        return [s for s in subs if s.msg_type is msg_type
                and qos_check_compatible(qos, s.qos)[0] != QoSCompatibility.ERROR]


_buses: weakref.WeakKeyDictionary[Context, _Bus] = weakref.WeakKeyDictionary()
_buses_lock = threading.Lock()


def _bus(context: Context) -> _Bus:
    with _buses_lock:
        bus = _buses.get(context)
        if bus is None:
            bus = _buses[context] = _Bus()
        return bus


def _volatile(qos: QoSProfile, what: str) -> None:
    if qos.durability == DurabilityPolicy.TRANSIENT_LOCAL:
        raise ValueError(f"{what}: in-process delivery is volatile only; use a plain publisher for latched topics")


class IntraProcessPublisher(Generic[MsgT]):
    """A publisher that hands messages to subscriptions in this process without DDS."""

    def __init__(self, node: Node, msg_type: type[MsgT], topic: str, qos: QoSProfile) -> None:
        _volatile(qos, f"publisher on {topic}")
        self.publisher = node.create_publisher(msg_type, topic, qos)
        self.msg_type = msg_type
        self.qos = qos
        self.topic_name = self.publisher.topic_name
        self._bus = _bus(node.context) if enabled() else None

    def publish(self, msg: MsgT) -> None:
        local = [s for s in self._bus.matching(self.topic_name, self.msg_type, self.qos) if s.push(msg)] \
            if self._bus is not None else []
        if self.publisher.get_subscription_count() <= len(local):
            return  # every matched subscription has it (local DDS matching is synchronous)
        if not local:
            self.publisher.publish(msg)
            return
        data = serialize_message(msg)  # once: these bytes go out and mark the copies to skip
        for sub in local:
            sub.expect(data)
        self.publisher.publish(data)

    def get_subscription_count(self) -> int:
        return self.publisher.get_subscription_count()


def subscribe(node: Node, msg_type: type[MsgT], topic: str, callback: Callable[[MsgT], None],
              qos: QoSProfile) -> Subscription:
    """`node.create_subscription` that also takes messages from an `IntraProcessPublisher` in
    this process in-process, each message once."""
    if not enabled():
        return node.create_subscription(msg_type, topic, callback, qos)
    _volatile(qos, f"subscription on {topic}")
    local = _LocalSubscription(node, msg_type, callback, qos)
    sub = node.create_subscription(msg_type, topic, local.on_dds, qos, raw=True)
    local.topic = sub.topic_name
    bus = _bus(node.context)
    bus.add(local)
    weakref.finalize(sub, bus.remove, local)
    return sub
