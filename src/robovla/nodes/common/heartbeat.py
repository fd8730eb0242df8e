"""robovla/heartbeat: "this process is alive", for kinova_control (robovla.control.liveness).

On the node's own executor: a process that dies, is stopped or whose executor hangs goes silent,
which is the one fault signal that needs no cooperation from the faulty process. The beat runs on
a steady wall-clock timer, not the node clock: liveness is a wall-clock matter, and with
use_sim_time a paused or lock-stepped sim would otherwise silence every healthy process.
"""

from __future__ import annotations

from typing import Callable

from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from robovla.msg import Heartbeat
from robovla.nodes.common import qos, topics

PERIOD_S = 0.025  # 40 Hz: kinova_control's heartbeat_timeout_s (0.1 s) is 4 beats


def start_heartbeat(node: Node, period_s: float = PERIOD_S, episode: Callable[[], str] = lambda: "") -> None:
    pub = node.create_publisher(Heartbeat, topics.HEARTBEAT, qos.HEARTBEAT)
    name = node.get_name()
    steady = Clock(clock_type=ClockType.STEADY_TIME)

    def beat() -> None:
        msg = Heartbeat(node=name, episode_id=episode(), sent_steady_ns=steady.now().nanoseconds)
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)

    node.create_timer(period_s, beat, clock=steady)
