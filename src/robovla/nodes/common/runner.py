"""Start, spin and stop a node the same way in every executable.

Executor choice (measured with rclpy Kilted on 2 cores): a MultiThreadedExecutor that waits on a
subscription fed at 100 Hz spins a core at 100 %, starves the other Python threads of the GIL and
drops most messages (5 s of 100 Hz JointState: 30-110 of 500 received). A SingleThreadedExecutor
receives all 500 at a tenth of the CPU. So every node spins its topics on a SingleThreadedExecutor;
what blocks for long (action goals that last an episode, service calls made from a service) lives
on a *side node* in the same process, spun by a small MultiThreadedExecutor that sees no streams.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node

SIDE_THREADS = 4


def side_node(parent: Node, suffix: str = "actions") -> Node:
    """A node for `parent`'s long-running actions/services; `run` spins it on its own executor."""
    node = Node(f"{parent.get_name()}_{suffix}", namespace=parent.get_namespace(), context=parent.context)
    sides = getattr(parent, "side_nodes", None)
    if sides is None:
        sides = []
        parent.side_nodes = sides  # type: ignore[attr-defined]
    sides.append(node)
    return node


def run(make_node: Callable[[], Node], args: list[str] | None = None) -> int:
    """rclpy init -> node (+ its side nodes) -> spin; on exit call node.on_shutdown() if it has one."""
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    side_executors: list[MultiThreadedExecutor] = []
    try:
        node = make_node()
        for side in getattr(node, "side_nodes", []):
            ex = MultiThreadedExecutor(num_threads=SIDE_THREADS)
            ex.add_node(side)
            threading.Thread(target=ex.spin, name=f"spin-{side.get_name()}", daemon=True).start()
            side_executors.append(ex)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            hook = getattr(node, "on_shutdown", None)
            if hook is not None and rclpy.ok():
                hook()
            for ex in side_executors:
                ex.shutdown(timeout_sec=1.0)
            for side in getattr(node, "side_nodes", []):
                side.destroy_node()
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
    return 0
