"""Any process fault stops the arm, against the driver stand-in (which latches the twist forever).

- The control process killed or frozen mid-motion: the safety monitor (its own process) sends a
  zero twist and deactivates twist_controller, which clears the latch.
- task_manager killed mid-episode: the episode is a lease; kinova_control ends it by itself.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
from rclpy.action import ActionClient

from graph_helpers import GRAPH_NODES, PeerRunner, wait_for
from robovla.action import ExecuteInstruction
from robovla.cli.bringup import stop_graph
from robovla.nodes.common import topics

pytestmark = pytest.mark.ros

NODES = (*GRAPH_NODES, "safety_monitor")
COMMAND_TIMEOUT = 0.25  # config/robovla.yaml safety_monitor.command_timeout_s
LEASE = 1.0  # kinova_control.lease_s default


def is_zero(twist) -> bool:
    return not any((twist.linear.x, twist.linear.y, twist.linear.z, twist.angular.x, twist.angular.y, twist.angular.z))


def _start_episode(peer, graph) -> None:
    client = ActionClient(peer, ExecuteInstruction, topics.EXECUTE_INSTRUCTION)
    assert client.wait_for_server(timeout_sec=60)
    assert wait_for(lambda: set(NODES) <= set(peer.get_node_names()), 60), peer.get_node_names()
    assert wait_for(lambda: peer.driver.is_active("twist_controller"), 60), graph.log("kinova_control")[-2000:]
    assert wait_for(lambda: peer.take("observation"), 30)
    done = threading.Event()
    future = client.send_goal_async(ExecuteInstruction.Goal(instruction="push the block forward", timeout_s=30.0))
    future.add_done_callback(lambda _f: done.set())
    assert done.wait(20) and future.result().accepted
    assert wait_for(lambda: any(not is_zero(m) for _, m in peer.take("twist")), 20), "the arm never moved"
    time.sleep(0.5)  # well into the motion


def _process(graph, name: str):
    return next(p for spec, p in graph.procs if spec.name == name)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "frozen"])
def test_dead_or_frozen_control_process_stops_the_arm(graph_factory, sig) -> None:
    with PeerRunner() as peer:
        graph = graph_factory({"vla_inference.policy": "scripted:forward"}, nodes=NODES)
        _start_episode(peer, graph)
        control = _process(graph, "control")
        t_fault = time.monotonic()
        control.send_signal(sig)
        try:
            stopped = wait_for(lambda: (lambda tw: tw and tw[-1][0] > t_fault and is_zero(tw[-1][1]))(
                peer.take("twist")), 3.0)
            t_stop = time.monotonic()
            assert stopped, "no zero twist after the control process stopped"
            latched = wait_for(lambda: not peer.driver.is_active("twist_controller"), 3.0)
            assert latched, "twist_controller still active: a resumed process could move the arm again"
            assert peer.driver.commanded_twist() is None
            # the zero came from the monitor, within its timeout plus a margin for a loaded machine
            assert t_stop - t_fault < COMMAND_TIMEOUT + 1.0
            assert "TRIP" in graph.log("safety_monitor")
        finally:
            if sig == signal.SIGSTOP:
                control.send_signal(signal.SIGCONT)
            stop_graph(graph.procs)  # one graph at a time on the test's domain


def test_dead_task_manager_ends_the_episode_within_the_lease(graph_factory) -> None:
    with PeerRunner() as peer:
        graph = graph_factory({"vla_inference.policy": "scripted:forward"}, nodes=NODES)
        try:
            _lease_run(peer, graph)
        finally:
            stop_graph(graph.procs)


def _lease_run(peer, graph) -> None:
    _start_episode(peer, graph)
    t_kill = time.monotonic()
    _process(graph, "task_manager").send_signal(signal.SIGKILL)
    assert wait_for(lambda: (lambda tw: tw and tw[-1][0] > t_kill and is_zero(tw[-1][1]))(
        peer.take("twist")), LEASE + 2.0), "the arm kept moving after task_manager died"
    t_stop = time.monotonic()
    assert t_stop - t_kill <= LEASE + 1.0, f"stopped {t_stop - t_kill:.2f} s after the kill"
    time.sleep(1.0)
    late = [m for t, m in peer.take("twist") if t > t_stop + 0.1 and not is_zero(m)]
    assert not late, f"{len(late)} motion commands after the lease ended"
    assert "no heartbeat from task_manager" in graph.log("kinova_control")
