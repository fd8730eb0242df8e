"""Start, spin and stop nodes the same way in every executable, one node or several per process.

Executor choice (measured with rclpy Kilted on 2 cores):
- A MultiThreadedExecutor that waits on a subscription fed at 100 Hz spins a core at 100 %,
  starves the other Python threads of the GIL and drops most messages (5 s of 100 Hz
  JointState: 30-110 of 500 received). Never used for streams.
- The SingleThreadedExecutor rebuilds its wait set in Python on every wake. rclpy's
  EventsExecutor (rclpy.experimental, C++) dispatches from a queue: a hop costs 20-40 % less
  (bench/results/hop_latency.md: ActionChunk in-process 0.35 -> 0.22 ms, an Observation with
  two images across processes 1.23 -> 0.97 ms). Its spin() delivered nothing in these wheels (and
  ignored SIGTERM); spin_once() in a loop works, so that is how `run` drives it.
So the streams of every node go to one EventsExecutor per process (SingleThreadedExecutor where
the distro lacks it, or with ROBOVLA_EXECUTOR=single). What blocks for long (action goals that
last an episode, service calls made from a service) lives on a *side node* in the same
process, spun by a small MultiThreadedExecutor that sees no streams.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Callable

import rclpy
from rclpy.context import Context
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from robovla.nodes.common.background import SpinThread

SIDE_THREADS = 4


def stream_executor(context: Context) -> Executor:
    """The executor for a process's topic streams and timers (module docstring says why)."""
    if os.environ.get("ROBOVLA_EXECUTOR", "events") == "events":
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError:  # distros before Kilted
            pass
        else:
            return EventsExecutor(context=context)
    return SingleThreadedExecutor(context=context)


def side_node(parent: Node, suffix: str = "actions") -> Node:
    """A node for `parent`'s long-running actions/services; `run` spins it on its own executor."""
    node = Node(f"{parent.get_name()}_{suffix}", namespace=parent.get_namespace(), context=parent.context)
    sides = getattr(parent, "side_nodes", None)
    if sides is None:
        sides = []
        parent.side_nodes = sides  # type: ignore[attr-defined]
    sides.append(node)
    return node


def run(*factories: Callable[[], Node], args: list[str] | None = None) -> int:
    """rclpy init -> the nodes (+ their side nodes) -> spin; on exit call each node's
    on_shutdown() if it has one. Several factories share one process and one executor
    (robovla.nodes.container); a message between them never leaves the process.

    SIGINT and SIGTERM end the spin loop while the context is still valid, so the shutdown hooks
    can still publish (kinova_control's zero Twist). rclpy's own handler would shut the context
    down first, and every publish from a hook would fail: measured, no zero Twist reached a
    listener after SIGINT before this."""
    rclpy.init(args=args if args is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()  # set by a signal; no exception is thrown through the C++ executor
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    context = rclpy.get_default_context()
    nodes: list[Node] = []
    side_spins: list[SpinThread] = []
    executor: Executor | None = None
    try:
        for make in factories:
            nodes.append(make())
        executor = stream_executor(context)
        for node in nodes:
            executor.add_node(node)
            for side in getattr(node, "side_nodes", []):
                ex = MultiThreadedExecutor(num_threads=SIDE_THREADS, context=context)
                ex.add_node(side)
                side_spins.append(SpinThread(ex, f"spin-{side.get_name()}", period_s=0.1).start())
        while context.ok() and not stop.is_set():
            executor.spin_once(timeout_sec=0.1)  # Python signal handlers run between calls
    except ExternalShutdownException:
        pass
    finally:
        for node in reversed(nodes):
            hook = getattr(node, "on_shutdown", None)
            if hook is not None and rclpy.ok():
                hook()
        # joined before anything is torn down: a thread left inside rclpy's wait at interpreter
        # exit aborts the process (robovla.nodes.common.background)
        for spin in side_spins:
            spin.stop()
        for spin in side_spins:
            spin.executor.shutdown(timeout_sec=1.0)
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        for node in reversed(nodes):
            for side in getattr(node, "side_nodes", []):
                side.destroy_node()
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
    return 0
