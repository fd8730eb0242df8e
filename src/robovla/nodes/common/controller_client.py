"""Blocking calls to the ros2_control controller manager, for a node's worker thread.

Call these only from a thread that no executor of `node` runs on (kinova_control's startup
thread, a shutdown hook): the replies are delivered by the executor spinning `node`.
"""

from __future__ import annotations

from rclpy.node import Node

from robovla.control.controllers import SwitchPlan
from robovla.nodes.common import topics
from robovla.nodes.common.service_calls import call_service


class ControllerManagerClient:
    def __init__(self, node: Node) -> None:
        from controller_manager_msgs.srv import ListControllers, SwitchController

        self._list_type, self._switch_type = ListControllers, SwitchController
        self.list_client = node.create_client(ListControllers, topics.LIST_CONTROLLERS)
        self.switch_client = node.create_client(SwitchController, topics.SWITCH_CONTROLLER)

    def wait(self, timeout_s: float) -> bool:
        return self.list_client.wait_for_service(timeout_sec=timeout_s) and \
            self.switch_client.wait_for_service(timeout_sec=timeout_s)

    def states(self, timeout_s: float = 5.0) -> dict[str, str]:
        """list_controllers: name -> state ('active', 'inactive', ...)."""
        res = call_service(self.list_client, self._list_type.Request(), timeout_s, resend_s=timeout_s / 2)
        return {c.name: c.state for c in res.controller}

    def switch(self, plan: SwitchPlan, timeout_s: float = 5.0) -> tuple[bool, str]:
        # sent once: a STRICT switch repeated after it took effect fails (already active)
        req = self._switch_type.Request(activate_controllers=list(plan.activate),
                                        deactivate_controllers=list(plan.deactivate),
                                        strictness=self._switch_type.Request.STRICT, activate_asap=True)
        res = call_service(self.switch_client, req, timeout_s)
        return bool(res.ok), str(getattr(res, "message", ""))

