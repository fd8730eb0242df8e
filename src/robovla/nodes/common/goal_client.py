"""A one-shot ExecuteInstruction client (used by `robovla goal`, the demo and tests)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import rclpy
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from robovla.action import ExecuteInstruction
from robovla.nodes.common import topics


@dataclass
class GoalOutcome:
    accepted: bool
    success: bool = False
    message: str = ""
    steps: int = 0
    duration_s: float = 0.0
    status: int = 0
    feedback: list[tuple[int, float, str]] = field(default_factory=list)


def send_goal(
    instruction: str,
    timeout_s: float = 0.0,
    on_feedback: Callable[[int, float, str], None] | None = None,
    server_wait_s: float = 30.0,
    namespace: str = "",
) -> GoalOutcome:
    """Send one goal and block until its result. rclpy must not be initialised by the caller."""
    rclpy.init()
    node = Node("robovla_goal_client", namespace=namespace)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        client = ActionClient(node, ExecuteInstruction, topics.EXECUTE_INSTRUCTION)
        if not client.wait_for_server(timeout_sec=server_wait_s):
            return GoalOutcome(False, message=f"no ExecuteInstruction server on {topics.EXECUTE_INSTRUCTION}")
        outcome = GoalOutcome(True)

        def feedback_cb(msg) -> None:
            fb = msg.feedback
            outcome.feedback.append((fb.step, fb.elapsed_s, fb.state))
            if on_feedback:
                on_feedback(fb.step, fb.elapsed_s, fb.state)

        goal = ExecuteInstruction.Goal(instruction=instruction, timeout_s=float(timeout_s))
        handle = client.send_goal_async(goal, feedback_callback=feedback_cb)
        done = threading.Event()
        handle.add_done_callback(lambda _f: done.set())
        done.wait()
        goal_handle = handle.result()
        if not goal_handle.accepted:
            return GoalOutcome(False, message="goal rejected")
        result_future = goal_handle.get_result_async()
        done.clear()
        result_future.add_done_callback(lambda _f: done.set())
        done.wait()
        res = result_future.result()
        outcome.status = res.status
        outcome.success, outcome.message = res.result.success, res.result.message
        outcome.steps, outcome.duration_s = res.result.steps, res.result.duration_s
        return outcome
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
