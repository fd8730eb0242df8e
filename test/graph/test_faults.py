"""Any process fault stops the arm, against the driver stand-in (which latches the twist forever).

- The control process killed or frozen mid-motion: the safety monitor (its own process) sends a
  zero twist and, as the silence lasts, deactivates twist_controller, which clears the latch.
- task_manager killed mid-episode: kinova_control pauses the arm when its heartbeat is late and
  ends the episode when the lease runs out.
- safety_monitor killed: kinova_control pauses the arm (nothing would stop it if control died
  now) and the goal is aborted naming the monitor.
- An arm fault mid-episode aborts the goal; the reset goes through only with no episode running,
  after a zero twist.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
from rclpy.action import ActionClient

from graph_helpers import GRAPH_NODES, PeerRunner, observation_failure, wait_for
from robovla.nodes.common.action_goals import send_goal
from robovla.action import ExecuteInstruction
from robovla.cli.bringup import stop_graph
from robovla.msg import ControlStatus
from robovla.nodes.common import qos, topics

pytestmark = pytest.mark.ros

NODES = GRAPH_NODES  # safety_monitor included
COMMAND_TIMEOUT = 0.1  # config/robovla.yaml safety_monitor.command_timeout_s
HEARTBEAT_TIMEOUT = 0.1  # kinova_control.heartbeat_timeout_s
LEASE = 1.0  # kinova_control.lease_s
SLACK = 1.0  # for a loaded 2-core machine; bench/bench_faults.py measures the real figures


def is_zero(twist) -> bool:
    return not any((twist.linear.x, twist.linear.y, twist.linear.z, twist.angular.x, twist.angular.y, twist.angular.z))


def _start_episode(peer, graph):
    """Start a goal and return its goal handle once the arm moves."""
    client = ActionClient(peer, ExecuteInstruction, topics.EXECUTE_INSTRUCTION)
    assert client.wait_for_server(timeout_sec=60)
    assert wait_for(lambda: set(NODES) <= set(peer.get_node_names()), 60), peer.get_node_names()
    assert wait_for(lambda: peer.driver.is_active("twist_controller"), 60), graph.log("kinova_control")[-2000:]
    assert wait_for(lambda: peer.take("observation"), 60), observation_failure(graph, peer)
    # the arm is ready once every watched process has beaten: its latched status says so
    status: list = []
    peer.create_subscription(ControlStatus, topics.CONTROL_STATUS, status.append, qos.LATCHED)
    assert wait_for(lambda: status and status[-1].ready, 60), graph.log("kinova_control")[-2000:]
    # task_manager waits for the arm's ready status even if it has not discovered kinova_control yet
    handle = send_goal(client, ExecuteInstruction.Goal(instruction="push the block forward", timeout_s=30.0))
    assert handle.accepted
    assert wait_for(lambda: any(not is_zero(m) for _, m in peer.take("twist")), 20), "the arm never moved"
    time.sleep(0.5)  # well into the motion
    return handle


def _result(peer, handle, timeout: float):
    done = threading.Event()
    future = handle.get_result_async()
    future.add_done_callback(lambda _f: done.set())
    assert done.wait(timeout), "no goal result"
    return future.result().result


def _stopped_after(peer, t0: float, timeout: float) -> float | None:
    """When the arm stopped for good after t0: the first zero twist of the run of zeros the twists
    sent since t0 end with (None if they do not end with one). A zero sent earlier and followed by
    motion (a command refused on a loaded machine, say) is not the stop."""
    ok = wait_for(lambda: (lambda tw: tw and tw[-1][0] > t0 and is_zero(tw[-1][1]))(peer.take("twist")), timeout)
    if not ok:
        return None
    twists = [(t, m) for t, m in peer.take("twist") if t > t0]
    k = len(twists)
    while k > 0 and is_zero(twists[k - 1][1]):
        k -= 1
    return twists[k][0]


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
            assert t_stop - t_fault < COMMAND_TIMEOUT + SLACK
            assert "TRIP" in graph.log("safety_monitor")
            if sig == signal.SIGSTOP:  # thawed, control finds its controller gone and says so
                control.send_signal(signal.SIGCONT)
                assert wait_for(lambda: "twist_controller is inactive" in graph.log("kinova_control"), 10), \
                    graph.log("kinova_control")[-2000:]
                assert peer.driver.commanded_twist() is None
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
    t_stop = _stopped_after(peer, t_kill, LEASE + 2.0)
    assert t_stop is not None, "the arm kept moving after task_manager died"
    assert t_stop - t_kill <= HEARTBEAT_TIMEOUT + SLACK, f"paused {t_stop - t_kill:.2f} s after the kill"
    assert wait_for(lambda: "ending it" in graph.log("kinova_control"), LEASE + 2.0), "the lease never ended"
    time.sleep(0.5)
    late = [m for t, m in peer.take("twist") if t > t_stop + 0.1 and not is_zero(m)]
    assert not late, f"{len(late)} motion commands after the pause"
    # the pause may already be on for another late beat (a loaded machine): the lease end is what counts
    log = graph.log("kinova_control")
    assert "no heartbeat from task_manager for" in log and "ending it" in log


def test_dead_monitor_pauses_the_arm_and_aborts_the_goal(graph_factory) -> None:
    with PeerRunner() as peer:
        graph = graph_factory({"vla_inference.policy": "scripted:forward"}, nodes=NODES)
        try:
            handle = _start_episode(peer, graph)
            t_kill = time.monotonic()
            _process(graph, "safety_monitor").send_signal(signal.SIGKILL)
            t_stop = _stopped_after(peer, t_kill, 3.0)
            assert t_stop is not None and t_stop - t_kill <= HEARTBEAT_TIMEOUT + SLACK, "the arm kept moving"
            result = _result(peer, handle, LEASE + 5.0)
            assert not result.success and "safety_monitor" in result.message, result.message
            time.sleep(0.3)
            late = [m for t, m in peer.take("twist") if t > t_stop + 0.1 and not is_zero(m)]
            assert not late, f"{len(late)} motion commands without a monitor"
        finally:
            stop_graph(graph.procs)


def test_arm_fault_aborts_the_goal_and_reset_needs_a_stopped_arm(graph_factory) -> None:
    from example_interfaces.srv import Trigger

    with PeerRunner() as peer:
        graph = graph_factory({"vla_inference.policy": "scripted:forward"}, nodes=NODES)
        try:
            reset = peer.create_client(Trigger, topics.CONTROL_RESET_FAULT)
            handle = _start_episode(peer, graph)
            refused = _call(reset)  # mid-episode: refused, and the arm keeps its episode
            assert not refused.success and "episode" in refused.message, refused.message
            with peer.lock:
                peer.driver.inject_fault("test: joint jump")
            t_fault = time.monotonic()
            peer.driver_interfaces.publish_fault_state()
            result = _result(peer, handle, 10.0)
            assert not result.success and "fault" in result.message, result.message
            t_stop = _stopped_after(peer, t_fault, 3.0)
            assert t_stop is not None, "no zero twist after the fault: the reset would resume the motion"
            latched_before_reset = peer.driver.commanded_twist()  # zeros while faulted
            # the episode's end reaches kinova_control on robovla/instruction, which may trail the
            # goal result on a loaded machine: until then the reset is (rightly) refused
            accepted = _call(reset)
            deadline = time.monotonic() + 10.0
            while not accepted.success and "is running" in accepted.message and time.monotonic() < deadline:
                time.sleep(0.2)
                accepted = _call(reset)
            assert accepted.success, accepted.message
            assert not peer.driver.faulted
            resumed = peer.driver.commanded_twist()
            assert resumed is not None and not resumed.any(), f"the driver resumed {resumed} after the reset"
            assert latched_before_reset is not None
            peer.driver_interfaces.publish_fault_state()
            assert wait_for(lambda: "arm fault cleared" in graph.log("kinova_control"), 5.0)
        finally:
            stop_graph(graph.procs)


def _call(client, timeout: float = 10.0):
    from example_interfaces.srv import Trigger

    assert client.wait_for_service(timeout_sec=timeout)
    done = threading.Event()
    future = client.call_async(Trigger.Request())
    future.add_done_callback(lambda _f: done.set())
    assert done.wait(timeout), "no reply"
    return future.result()
