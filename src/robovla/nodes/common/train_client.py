"""A TrainPolicy client: a training job sent to a running trainer node (`robovla train --node`,
bench/bench_posttrain.py), which is how the robot PC hands post-training to the GPU box."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from rclpy.action import ActionClient
from rclpy.node import Node

from robovla.action import TrainPolicy
from robovla.nodes.common import topics
from robovla.nodes.common.action_goals import send_goal
from robovla.nodes.common.background import BackgroundSpinner, wait_future


def train_via_node(data_dirs: Sequence[str], out_dir: str, base_checkpoint: str = "", preset: str = "",
                   steps: int = 0, overrides: Sequence[str] = (), on_feedback: Callable[[Any], None] | None = None,
                   server_wait_s: float = 60.0, namespace: str = "") -> TrainPolicy.Result:
    """Send one TrainPolicy goal and block until its result. RuntimeError if no trainer answers."""
    spinner = BackgroundSpinner("train-client")
    try:
        node = spinner.add(Node("robovla_train_client", namespace=namespace, context=spinner.context))
        client = ActionClient(node, TrainPolicy, topics.TRAIN_POLICY)
        spinner.start()
        if not client.wait_for_server(timeout_sec=server_wait_s):
            raise RuntimeError(f"no trainer node answers {topics.TRAIN_POLICY} within {server_wait_s:.0f} s "
                               "(ros2 launch robovla train.launch.py, on this ROS_DOMAIN_ID)")
        goal = TrainPolicy.Goal(data_dirs=list(data_dirs), out_dir=out_dir, base_checkpoint=base_checkpoint,
                                preset=preset, steps=int(steps), overrides=list(overrides))
        handle = send_goal(client, goal, feedback_callback=(lambda m: on_feedback(m.feedback)) if on_feedback else None)
        if not handle.accepted:
            raise RuntimeError("the trainer node rejected the goal")
        return wait_future(handle.get_result_async(), None).result
    finally:
        spinner.close()
