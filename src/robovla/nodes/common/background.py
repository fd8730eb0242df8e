"""Spinning an executor on a background thread, and ending it so the process exits cleanly.

A thread still inside rclpy's wait (a pybind11 call that released the GIL) when the interpreter
finalizes is torn down by pthread_exit, whose forced unwind through that C++ frame calls
std::terminate: "terminate called without an active exception", exit code 134, after the work
was done. Seen on `robovla goal` (4 runs in 7) and on every node with a side executor (the
task_manager aborted on 9 SIGINT/SIGTERM of 12). So a background spin is a loop of spin_once
that `stop()` ends and joins, before the executor, the nodes and the context go.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.task import Future

log = logging.getLogger(__name__)


def wait_future(fut: Future, timeout: float | None = None) -> Any:
    """Block (off the executor thread) until an rclpy future is done; TimeoutError otherwise."""
    done = threading.Event()
    fut.add_done_callback(lambda _f: done.set())
    if not done.wait(timeout):
        raise TimeoutError(f"no answer within {timeout} s")
    return fut.result()


class SpinThread:
    """executor.spin_once in a loop on a thread of its own, until stop()."""

    def __init__(self, executor: Executor, name: str, period_s: float = 0.05) -> None:
        self.executor = executor
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.errors: list[Exception] = []  # what callbacks raised, oldest first

    def start(self) -> SpinThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        context = self.executor.context
        while not self._stop.is_set() and context.ok():
            try:
                self.executor.spin_once(timeout_sec=self.period_s)
            except Exception as exc:
                if self._stop.is_set() or not context.ok():
                    return  # the context went away under us: nothing left to serve
                # a failing callback must not end the thread: every other timer, subscription and
                # service of the executor would go silent with it, with nothing to show why
                self.errors.append(exc)
                log.exception("%s: a callback raised; spinning on", self._thread.name)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """End the loop and join the thread; False if it is still inside a callback after timeout_s."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("%s still running %.1f s after stop", self._thread.name, timeout_s)
            return False
        return True


class BackgroundSpinner:
    """A client's own rclpy context, with its nodes spun on a background thread until close()."""

    def __init__(self, name: str = "spin") -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        # SingleThreadedExecutor: a MultiThreadedExecutor on a stream starves the GIL (robovla.nodes.common.runner)
        self.executor: Executor = SingleThreadedExecutor(context=self.context)
        self._nodes: list[Node] = []
        self._spin = SpinThread(self.executor, name)
        self._closed = False

    def add(self, node: Node) -> Node:
        self._nodes.append(node)
        self.executor.add_node(node)
        return node

    def start(self) -> None:
        self._spin.start()

    @property
    def errors(self) -> list[Exception]:
        """What the nodes' callbacks raised so far (each also logged with its traceback)."""
        return self._spin.errors

    def is_alive(self) -> bool:
        return self._spin.is_alive()

    def close(self) -> None:
        """Join the spin thread, then tear down executor, nodes and context. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._spin.stop()
        self.executor.shutdown(timeout_sec=1.0)
        for node in reversed(self._nodes):
            node.destroy_node()
        rclpy.try_shutdown(context=self.context)
