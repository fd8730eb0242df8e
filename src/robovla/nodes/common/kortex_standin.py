"""The ros2_kortex driver stand-in's ROS side: controller_manager and fault_controller interfaces
over a robovla.sim.kortex_driver.KortexDriverModel. The sim node serves them, and so does the
test peer that stands in for the arm in the graph tests: one stand-in, so both fail as the real
stack would (a Twist to an inactive twist_controller moves nothing; Jazzy's JTC rejects a
trajectory that ends moving)."""

from __future__ import annotations

import threading
import time
from typing import Callable

from controller_manager_msgs.msg import ControllerState
from controller_manager_msgs.srv import ListControllers, SwitchController
from example_interfaces.msg import Bool
from example_interfaces.srv import Trigger
from rclpy.node import Node

from robovla.nodes.common import qos, topics
from robovla.sim.kortex_driver import KortexDriverModel


class DriverInterfaces:
    """Serves `driver` on `node`; `on_change` runs (under `lock`) after every state change, so the
    owner can make its arm do what the driver now sends."""

    def __init__(self, node: Node, driver: KortexDriverModel, lock: threading.Lock,
                 on_change: Callable[[], None] = lambda: None, inject_fault_service: bool = True) -> None:
        self.node, self.driver, self.lock, self.on_change = node, driver, lock, on_change
        node.create_service(ListControllers, topics.LIST_CONTROLLERS, self._list)
        node.create_service(SwitchController, topics.SWITCH_CONTROLLER, self._switch)
        node.create_service(Trigger, topics.RESET_FAULT, self._reset_fault)
        if inject_fault_service:
            node.create_service(Trigger, topics.SIM_INJECT_FAULT, self._inject_fault)
        self.fault_pub = node.create_publisher(Bool, topics.INTERNAL_FAULT, qos.COMMAND)
        self.switches: list[tuple[list[str], list[str], bool]] = []  # (activate, deactivate, ok), for tests

    def publish_fault_state(self) -> None:
        self.fault_pub.publish(Bool(data=self.driver.faulted))

    def _list(self, _request, response):
        with self.lock:
            response.controller = [ControllerState(name=c.name, type=c.type, state=c.state)
                                   for c in self.driver.controllers.values()]
        return response

    def _switch(self, request, response):
        activate, deactivate = list(request.activate_controllers), list(request.deactivate_controllers)
        with self.lock:
            response.ok, response.message = self.driver.switch(activate, deactivate, int(request.strictness))
            if response.ok:
                self.on_change()
        self.switches.append((activate, deactivate, bool(response.ok)))
        text = f"switch_controller activate={activate} deactivate={deactivate}: {response.message}"
        # one call site per severity: rclpy refuses a call site whose severity changes
        if response.ok:
            self.node.get_logger().info(text)
        else:
            self.node.get_logger().error(text)
        return response

    def _reset_fault(self, _request, response):
        with self.lock:
            response.success, response.message = self.driver.reset_fault()
            self.on_change()  # as on the arm: a twist latched before the fault resumes
        return response

    def _inject_fault(self, _request, response):
        with self.lock:
            self.driver.inject_fault("injected through sim/inject_fault")
            self.on_change()
        self.node.get_logger().warning("fault injected: the arm stops until fault_controller/reset_fault")
        response.success, response.message = True, "arm in fault"
        return response


def other_drivers(node: Node, wait_s: float = 0.0, period_s: float = 0.1, joint_states_own: int = 0,
                  naming_s: float = 2.0, settle_s: float = 1.0) -> list[str]:
    """Nodes other than `node` that publish its joint_states or serve its controller_manager/list_controllers:
    a real driver (or another stand-in) on the same graph. A stand-in next to one would publish a second
    /joint_states and answer controller switches meant for the arm. Polls the graph for up to `wait_s`
    (discovery takes a moment); once one is seen, `settle_s` more so that the refusal names every driver
    and not just the endpoint DDS announced first (a driver's publisher and service arrive one by one;
    seen apart under load), and up to `naming_s` until their node names are known (DDS shows an
    endpoint before its node's name). `joint_states_own`: `node`'s own publishers."""
    joint_states = node.resolve_topic_name(topics.JOINT_STATES)
    service = node.resolve_service_name(topics.LIST_CONTROLLERS)
    own = (node.get_name(), node.get_namespace())
    deadline = time.monotonic() + wait_s
    named_by: float | None = None
    settled_by: float | None = None
    seen: set[str] = set()
    while True:
        found: list[str] = []
        publishers = [(i.node_name, i.node_namespace) for i in node.get_publishers_info_by_topic(joint_states)]
        for _ in range(joint_states_own):
            if own in publishers:
                publishers.remove(own)
        found += [f"{_full_name(n, ns)} (publishes {joint_states})" for n, ns in publishers]
        if any(name == service for name, _ in node.get_service_names_and_types()):
            for name, ns in node.get_node_names_and_namespaces():
                if (name, ns) == own:
                    continue
                try:
                    served = node.get_service_names_and_types_by_node(name, ns)
                except Exception:  # the node left the graph in between
                    continue
                if any(s == service for s, _ in served):
                    found.append(f"{_full_name(name, ns)} (serves {service})")
        now = time.monotonic()
        if found:  # a name that was unknown is replaced by the name it has now
            seen = {f for f in seen if "_UNKNOWN_" not in f} | set(found)
        if seen:
            named_by = now + naming_s if named_by is None else named_by
            settled_by = now + settle_s if settled_by is None else settled_by
            if now >= settled_by and (not any("_UNKNOWN_" in f for f in seen) or now >= named_by):
                return sorted(seen)
        elif now >= deadline:
            return []
        time.sleep(period_s)


def _full_name(name: str, namespace: str) -> str:
    return f"{namespace.rstrip('/')}/{name}"
