"""Client side of `robovla record`: drives the recorder node's RecordEpisode action."""

from __future__ import annotations

import logging
import signal
import threading

import rclpy
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from robovla.action import RecordEpisode
from robovla.nodes.recorder import RECORD_EPISODE

log = logging.getLogger("robovla.record")


def record_episode(instruction: str, episode_id: str, duration_s: float, notes: str) -> int:
    """Record one episode through the recorder's action until it ends or Ctrl-C; exit code."""
    rclpy.init()
    node = Node("robovla_record_client")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    threading.Thread(target=ex.spin, daemon=True).start()
    try:
        client = ActionClient(node, RecordEpisode, RECORD_EPISODE)
        if not client.wait_for_server(timeout_sec=15):
            log.error("no recorder on %s: start `ros2 launch robovla record.launch.py`", RECORD_EPISODE)
            return 1
        goal = RecordEpisode.Goal(instruction=instruction, episode_id=episode_id,
                                  max_duration_s=duration_s, operator_notes=notes)
        accepted = threading.Event()
        fut = client.send_goal_async(goal, feedback_callback=lambda m: print(
            f"\rrecording {m.feedback.elapsed_s:6.1f} s  {m.feedback.frames} frames  "
            f"{m.feedback.message_count} messages", end="", flush=True))
        fut.add_done_callback(lambda _f: accepted.set())
        accepted.wait()
        handle = fut.result()
        if not handle.accepted:
            log.error("the recorder rejected the goal")
            return 1
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        res_fut = handle.get_result_async()
        res_fut.add_done_callback(lambda _f: stop.set())
        stop.wait()
        if not res_fut.done():
            handle.cancel_goal_async()
            finished = threading.Event()
            res_fut.add_done_callback(lambda _f: finished.set())
            finished.wait(30)
        print()
        res = res_fut.result().result
        (print if res.success else log.error)(res.message + (f" -> {res.bag_path}" if res.bag_path else ""))
        return 0 if res.success else 1
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
