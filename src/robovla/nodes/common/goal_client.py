"""A one-shot ExecuteInstruction client (used by `robovla goal` and the demo)."""

from __future__ import annotations

from typing import Callable

from robovla.nodes.common import topics
from robovla.nodes.common.episode_client import EpisodeClient, GoalOutcome


def send_goal(
    instruction: str,
    timeout_s: float = 0.0,
    on_feedback: Callable[[int, float, str], None] | None = None,
    server_wait_s: float = 30.0,
    namespace: str = "",
    task: str = "",
) -> GoalOutcome:
    """Send one goal and block until its result (timeout_s 0 = the task manager's default)."""
    client = EpisodeClient(namespace=namespace, name="robovla_goal_client")
    try:
        if not client.goal_client.wait_for_server(timeout_sec=server_wait_s):
            return GoalOutcome(False, message=f"no ExecuteInstruction server on {topics.EXECUTE_INSTRUCTION}")
        return client.execute(instruction, timeout_s, on_feedback, task=task)
    finally:
        client.close()
