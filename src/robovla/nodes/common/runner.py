"""Start, spin and stop a node the same way in every executable."""

from __future__ import annotations

import sys
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node


def run(make_node: Callable[[], Node], threads: int = 2, args: list[str] | None = None) -> int:
    """rclpy init -> node -> multithreaded spin; on exit call node.on_shutdown() if it has one."""
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    try:
        node = make_node()
        executor = MultiThreadedExecutor(num_threads=threads)
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            hook = getattr(node, "on_shutdown", None)
            if hook is not None and rclpy.ok():
                hook()
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
    return 0
