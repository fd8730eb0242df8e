"""In-process hand-over (robovla.nodes.common.intra_process) over real rclpy and Fast DDS.

One context stands for the composed process; a second context (its own DDS participant) stands for
every other process: a recorder listening, a teleop node publishing.
"""

from __future__ import annotations

import threading
import time

import pytest
import rclpy
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from graph_helpers import wait_for
from robovla.nodes.common import qos
from robovla.nodes.common.intra_process import IntraProcessPublisher, subscribe
from robovla.nodes.common.runner import stream_executor


class Process:
    """A context with its own executor thread, like one graph process."""

    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = stream_executor(self.context)
        self.nodes: list[Node] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def node(self, name: str) -> Node:
        node = Node(name, context=self.context)
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def start(self) -> "Process":
        def spin() -> None:
            while not self._stop.is_set():
                self.executor.spin_once(timeout_sec=0.05)
        self._thread = threading.Thread(target=spin, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.executor.shutdown(timeout_sec=1.0)
        for node in self.nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def processes(monkeypatch):
    monkeypatch.setenv("ROBOVLA_INTRA_PROCESS", "1")
    made: list[Process] = []

    def make() -> Process:
        made.append(Process())
        return made[-1]

    yield make
    for p in made:
        p.close()


def _collector():
    got: list[str] = []
    lock = threading.Lock()

    def cb(msg: String) -> None:
        with lock:
            got.append(msg.data)
    return got, cb


def test_each_message_arrives_once_in_and_out_of_the_process(processes) -> None:
    composed, other = processes(), processes()
    local_got, local_cb = _collector()
    remote_got, remote_cb = _collector()
    pub = IntraProcessPublisher(composed.node("talker"), String, "chatter", qos.COMMAND)
    local_sub = subscribe(composed.node("local_listener"), String, "chatter", local_cb, qos.COMMAND)
    remote = other.node("remote")
    remote_sub = remote.create_subscription(String, "chatter", remote_cb, qos.COMMAND)
    teleop = remote.create_publisher(String, "chatter", qos.COMMAND)
    composed.start(), other.start()
    # both ends of every match, or a volatile message may go out before its reader knows the writer
    assert wait_for(lambda: pub.get_subscription_count() == 2 and teleop.get_subscription_count() == 2
                    and local_sub.get_publisher_count() == 2 and remote_sub.get_publisher_count() == 2, 10)

    for i in range(20):
        pub.publish(String(data=f"local {i}"))
        teleop.publish(String(data=f"teleop {i}"))
        time.sleep(0.005)
    expected_local = [f"local {i}" for i in range(20)]
    expected_teleop = [f"teleop {i}" for i in range(20)]
    assert wait_for(lambda: len(local_got) >= 40 and len(remote_got) >= 40, 10), (len(local_got), len(remote_got))
    time.sleep(0.3)  # a duplicate would arrive by now
    for got in (local_got, remote_got):
        assert sorted(got) == sorted(expected_local + expected_teleop), "every message exactly once"
        assert [m for m in got if m.startswith("local")] == expected_local, "in order"


def test_with_no_one_else_listening_only_the_process_gets_it(processes) -> None:
    composed = processes()
    got, cb = _collector()
    pub = IntraProcessPublisher(composed.node("talker"), String, "solo", qos.COMMAND)
    subscribe(composed.node("listener"), String, "solo", cb, qos.COMMAND)
    composed.start()
    assert pub.get_subscription_count() == 1, "the local match is synchronous"
    for i in range(5):
        pub.publish(String(data=str(i)))
    assert wait_for(lambda: len(got) == 5, 5)
    # a listener joining later (another process) gets what is published from then on, over DDS
    other = processes()
    late_got, late_cb = _collector()
    late = other.node("late").create_subscription(String, "solo", late_cb, qos.COMMAND)
    other.start()
    assert wait_for(lambda: pub.get_subscription_count() == 2 and late.get_publisher_count() == 1, 10)
    pub.publish(String(data="after"))
    assert wait_for(lambda: late_got == ["after"] and got[-1] == "after", 5), (late_got, got)
    time.sleep(0.2)
    assert got == ["0", "1", "2", "3", "4", "after"]


def test_keep_last_depth_holds_in_process(processes) -> None:
    composed = processes()  # not spinning: the messages queue
    got, cb = _collector()
    shallow = QoSProfile(depth=3, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
    pub = IntraProcessPublisher(composed.node("talker"), String, "burst", shallow)
    subscribe(composed.node("listener"), String, "burst", cb, shallow)
    for i in range(10):
        pub.publish(String(data=str(i)))
    composed.start()
    assert wait_for(lambda: len(got) >= 3, 5)
    time.sleep(0.2)
    assert got == ["7", "8", "9"], "like DDS KEEP_LAST: the newest `depth` messages"


def test_incompatible_qos_is_not_handed_over(processes) -> None:
    composed = processes()
    strings, string_cb = _collector()
    best_effort = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
    pub = IntraProcessPublisher(composed.node("talker"), String, "mixed", best_effort)
    subscribe(composed.node("reliable"), String, "mixed", string_cb, qos.COMMAND)  # DDS would not match it either
    composed.start()
    pub.publish(String(data="x"))
    time.sleep(0.3)
    assert strings == [] and pub.get_subscription_count() == 0


def test_latched_topics_are_refused_with_the_reason(processes) -> None:
    node = processes().node("talker")
    with pytest.raises(ValueError, match="robovla/instruction.*volatile only"):
        IntraProcessPublisher(node, String, "robovla/instruction", qos.LATCHED)
    with pytest.raises(ValueError, match="volatile only"):
        subscribe(node, String, "robovla/instruction", lambda m: None, qos.LATCHED)


def test_a_failing_callback_is_logged_and_the_next_message_still_arrives(processes, capfd) -> None:
    composed = processes()
    got: list[str] = []

    def fragile(msg: String) -> None:
        if msg.data == "bad":
            raise RuntimeError("cannot handle 'bad'")
        got.append(msg.data)

    pub = IntraProcessPublisher(composed.node("talker"), String, "fragile", qos.COMMAND)
    subscribe(composed.node("listener"), String, "fragile", fragile, qos.COMMAND)
    composed.start()
    pub.publish(String(data="bad"))
    pub.publish(String(data="good"))
    assert wait_for(lambda: got == ["good"], 5)
    assert "cannot handle 'bad'" in capfd.readouterr().err


def test_switched_off_everything_goes_over_dds(processes, monkeypatch) -> None:
    composed = processes()
    monkeypatch.setenv("ROBOVLA_INTRA_PROCESS", "0")
    got, cb = _collector()
    pub = IntraProcessPublisher(composed.node("talker"), String, "plain", qos.COMMAND)
    sub = subscribe(composed.node("listener"), String, "plain", cb, qos.COMMAND)
    assert not sub.raw, "a plain rclpy subscription"
    composed.start()
    for i in range(3):
        pub.publish(String(data=str(i)))
    assert wait_for(lambda: len(got) == 3, 5)
    time.sleep(0.2)
    assert got == ["0", "1", "2"]
