"""safety_monitor: stops the arm when kinova_control goes silent mid-motion (its own process).

  sub  robovla/sent_command (what kinova_control sent), joint_states (velocities)
  pub  twist_controller/commands: a zero Twist when it trips
       robovla/heartbeat (40 Hz): kinova_control holds the arm still while this process is silent
  srv  controller_manager/switch_controller: deactivate twist_controller (clears the latched twist)

robovla.control.monitor says when. The zero twist stops the arm at once if the driver takes it
(a control process that wakes up from a short stall resumes with fresh commands); a silence that
lasts deactivates twist_controller, which stops the arm even if the zero was lost. After a
deactivation, restart the graph: kinova_control activates the controller again at start. In joint_trajectory mode every trajectory ends at rest,
so silence already stops the arm; the monitor then only reports.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import Twist
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import JointState

from robovla.control.controllers import SwitchPlan, TWIST_CONTROLLER
from robovla.control.liveness import FaultClock
from robovla.control.monitor import CommandMonitor, MonitorConfig
from robovla.msg import ArmCommand, Instruction
from robovla.health.checks import Finding, Level
from robovla.nodes.common import qos, topics
from robovla.nodes.common.diagnostics import NodeDiagnostics
from robovla.nodes.common.controller_client import ControllerManagerClient
from robovla.nodes.common.heartbeat import start_heartbeat
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run, side_node


@dataclass
class SafetyMonitorParams:
    deactivate_controller: bool = True  # deactivate twist_controller when the silence lasts


class SafetyMonitor(Node):
    def __init__(self) -> None:
        super().__init__("safety_monitor")
        self.p = declare_config(self, SafetyMonitorParams)
        self.monitor = CommandMonitor(declare_config(self, MonitorConfig))
        self.twist_pub = self.create_publisher(Twist, topics.TWIST_COMMANDS, qos.COMMAND)
        self.controllers = ControllerManagerClient(side_node(self, "controllers"))
        self.trips: list[str] = []
        self.diag = NodeDiagnostics(self)
        self._joints = self.diag.stream("joint_states", 1.0)
        self.diag.add(lambda t: ([Finding(Level.ERROR, f"tripped {len(self.trips)}x, last: {self.trips[-1]}")]
                                 if self.trips else [], {"trips": str(len(self.trips))}))
        self.create_subscription(ArmCommand, topics.SENT_COMMAND, self._on_sent, qos.COMMAND)
        self.create_subscription(JointState, topics.JOINT_STATES, self._on_joints, qos.SENSOR)
        self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction, qos.LATCHED)
        # silence is judged on fault time (control.liveness.FaultClock): the steady wall clock, held
        # while a sim's clock stands still (a lock-stepped sim waiting for a slow policy moves
        # nothing); the check runs on a steady timer so a paused or fast sim cannot starve it
        self.fault_clock = FaultClock()
        self.create_timer(1.0 / self.monitor.cfg.rate_hz, self._check, clock=Clock(clock_type=ClockType.STEADY_TIME))
        start_heartbeat(self)
        self.get_logger().info(f"watching {topics.SENT_COMMAND}: trips after "
                               f"{self.monitor.cfg.command_timeout_s:.2f} s of silence while moving")

    def _now(self) -> float:
        return self.fault_clock.now(time.monotonic(), self.get_clock().now().nanoseconds * 1e-9)

    def _on_sent(self, msg: ArmCommand) -> None:
        t = msg.twist
        self.monitor.on_command(self._now(), np.array([t.linear.x, t.linear.y, t.linear.z]),
                                np.array([t.angular.x, t.angular.y, t.angular.z]))

    def _on_instruction(self, msg: Instruction) -> None:
        self.monitor.episode_active = bool(msg.active)

    def _on_joints(self, msg: JointState) -> None:
        self._joints.tick(self.diag.now())
        if len(msg.velocity) >= 7:
            self.monitor.on_joint_velocities(np.asarray(msg.velocity[:7]))

    def _check(self) -> None:
        now = self._now()
        why = self.monitor.check(now)
        if why is not None:
            self.trips.append(why)
            self.twist_pub.publish(Twist())
            self.get_logger().error(f"TRIP: {why}: zero twist sent")
        if self.p.deactivate_controller and self.monitor.should_deactivate(now):
            self.get_logger().error(f"still no command after {self.monitor.cfg.deactivate_after_s:.2f} s: "
                                    "deactivating twist_controller")
            threading.Thread(target=self._deactivate, name="trip", daemon=True).start()

    def _deactivate(self) -> None:
        """Off the executor thread: the reply comes through the side node's executor."""
        try:
            if self.controllers.states(timeout_s=1.0).get(TWIST_CONTROLLER) != "active":
                return
            ok, message = self.controllers.switch(SwitchPlan((), (TWIST_CONTROLLER,)), timeout_s=1.0)
        except (TimeoutError, RuntimeError) as exc:
            ok, message = False, str(exc)
        if ok:
            self.get_logger().error("twist_controller deactivated: restart the graph to drive the arm again")
        else:
            self.get_logger().error(f"could not deactivate twist_controller: {message}")


NODE = SafetyMonitor  # the class robovla.nodes.container instantiates


def main() -> int:
    return run(NODE)


if __name__ == "__main__":
    raise SystemExit(main())
