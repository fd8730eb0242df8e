"""The rclpy side of `robovla status` and `robovla doctor --graph`: listen to /diagnostics, look at
the graph (nodes, endpoints and their QoS, controllers, clocks) and return plain data; the judging
is robovla.health.graph_checks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.srv import GetParameters
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from robovla.health.graph_checks import Endpoint, GraphSnapshot
from robovla.msg import GraphStatus
from robovla.nodes.common import qos, topics
from robovla.nodes.common.background import BackgroundSpinner, wait_future
from robovla.nodes.common.controller_client import ControllerManagerClient
from robovla.nodes.common.diagnostics import PREFIX

#: our topics whose endpoints doctor compares (the ones a QoS mismatch silently breaks)
CHECKED_TOPICS = (topics.JOINT_STATES, topics.INSTRUCTION, topics.OBSERVATION, topics.WINDOW, topics.ACTION_CHUNK,
                  topics.ARM_COMMAND, topics.SENT_COMMAND, topics.TWIST_COMMANDS, topics.CONTROL_STATUS,
                  topics.HEARTBEAT)


class GraphProbe:
    """A short-lived observer of a running graph (its own context; close() when done)."""

    def __init__(self, namespace: str = "") -> None:
        self._spinner = BackgroundSpinner("robovla-probe")
        self.node = self._spinner.add(Node("robovla_probe", namespace=namespace, context=self._spinner.context))
        self._lock = threading.Lock()
        self.statuses: dict[str, tuple[int, str, dict[str, str], float]] = {}  # name -> level, message, values, t
        self.clock_ns = 0  # the newest /clock heard (0: none); a live `robovla status` runs for hours
        self.node.create_subscription(DiagnosticArray, topics.DIAGNOSTICS, self._on_diagnostics, qos.COMMAND)
        self.node.create_subscription(Clock, topics.CLOCK, self._on_clock, qos.LATEST)
        self.graph_status: GraphStatus | None = None  # task_manager's robovla/status, newest
        self.node.create_subscription(GraphStatus, topics.GRAPH_STATUS, self._on_graph_status, qos.COMMAND)
        self.controllers = ControllerManagerClient(self.node)
        self._spinner.start()

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        now = time.monotonic()
        with self._lock:
            for s in msg.status:
                self.statuses[s.name] = (s.level[0] if isinstance(s.level, bytes) else int(s.level), s.message,
                                         {kv.key: kv.value for kv in s.values}, now)

    def _on_graph_status(self, msg: GraphStatus) -> None:
        with self._lock:
            self.graph_status = msg

    def _on_clock(self, msg: Clock) -> None:
        with self._lock:
            self.clock_ns = msg.clock.sec * 1_000_000_000 + msg.clock.nanosec

    def latest(self, max_age_s: float = 3.0) -> dict[str, tuple[int, str, dict[str, str]]]:
        """Our nodes' newest statuses, received within max_age_s."""
        now = time.monotonic()
        with self._lock:
            return {name[len(PREFIX):]: (level, message, values) for name, (level, message, values, t)
                    in self.statuses.items() if name.startswith(PREFIX) and now - t <= max_age_s}

    def settle(self, known: Iterable[str], timeout_s: float = 10.0, quiet_s: float = 1.2) -> None:
        """Wait until every node of the graph has sent its status and nothing new has come for
        quiet_s, at most timeout_s. A new process learns the graph through DDS discovery
        (participants, then endpoints, each on its own schedule: seconds on a loaded machine), so
        what it has discovered is no list of what runs. task_manager's robovla/status is: it names
        every node it has heard (alive ones are awaited). Without a task_manager (a partial graph)
        the nodes discovered by name among `known` are awaited, until timeout_s."""
        known = set(known)
        t0 = last_change = time.monotonic()
        state: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
        while (now := time.monotonic()) - t0 < timeout_s:
            with self._lock:
                graph = self.graph_status
            alive = {n for n, level in zip(graph.nodes, graph.levels) if level != 3} if graph is not None else set()
            expected = frozenset({n for n in self.node.get_node_names() if n in known} | alive)
            heard = frozenset(self.latest())
            if (expected, heard) != state:
                state, last_change = (expected, heard), now
            elif heard and expected <= heard and now - last_change >= quiet_s and graph is not None:
                return
            time.sleep(0.05)

    def _endpoints(self, topic: str) -> tuple[list[Endpoint], list[Endpoint]]:
        name = self.node.resolve_topic_name(topic)

        def conv(infos) -> list[Endpoint]:
            return [Endpoint(i.node_name, i.qos_profile.reliability == ReliabilityPolicy.RELIABLE,
                             i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL)
                    for i in infos if i.node_name != self.node.get_name()]
        return conv(self.node.get_publishers_info_by_topic(name)), conv(self.node.get_subscriptions_info_by_topic(name))

    def _sim_time(self, node_names: list[tuple[str, str]], timeout_s: float) -> dict[str, bool]:
        out: dict[str, bool] = {}
        for name, ns in node_names:
            client = self.node.create_client(GetParameters, f"{ns.rstrip('/')}/{name}/get_parameters")
            try:
                if not client.wait_for_service(timeout_sec=timeout_s):
                    continue
                res = wait_future(client.call_async(GetParameters.Request(names=["use_sim_time"])), timeout_s)
                if res is not None and res.values:
                    out[name] = bool(res.values[0].bool_value)
            except (TimeoutError, RuntimeError):
                continue
            finally:
                self.node.destroy_client(client)
        return out

    def snapshot(self, expected_nodes: list[str], required_controller: str, listen_s: float = 1.5) -> GraphSnapshot:
        self.settle(expected_nodes, quiet_s=listen_s)  # discovery, and a round of /diagnostics
        names = self.node.get_node_names_and_namespaces()
        ours = [(n, ns) for n, ns in names if n in expected_nodes]
        pubs, _ = self._endpoints(topics.JOINT_STATES)
        try:
            controllers = (self.controllers.states(timeout_s=2.0)
                           if self.controllers.list_client.wait_for_service(timeout_sec=1.0) else None)
        except (TimeoutError, RuntimeError):
            controllers = None
        clock_pubs, _ = self._endpoints(topics.CLOCK)
        return GraphSnapshot(
            nodes=[n for n, _ in names], expected_nodes=list(expected_nodes),
            statuses={n: (level, message) for n, (level, message, _) in self.latest().items()},
            heard=list(self.latest()),
            joint_state_publishers=sorted({p.node for p in pubs}),
            controllers=controllers, required_controller=required_controller,
            clock_publishers=sorted({p.node for p in clock_pubs}),
            sim_time=self._sim_time(ours, 1.0),
            endpoints={t: self._endpoints(t) for t in CHECKED_TOPICS})

    def close(self) -> None:
        self._spinner.close()
