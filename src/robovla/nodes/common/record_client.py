"""Client side of `robovla record`: drives the recorder node's RecordEpisode action.

It returns what happened and leaves the terminal to its caller: output and Ctrl-C handling live
in robovla.cli.record (nav2_simple_commander's split between a client and its tools)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from robovla.nodes.common import topics
from robovla.nodes.common.episode_client import EpisodeClient


@dataclass
class RecordingOutcome:
    success: bool
    message: str
    bag_path: str = ""


def record_episode(instruction: str, episode_id: str, duration_s: float, notes: str, stop: threading.Event,
                   on_feedback: Callable[[Any], None] | None = None, server_wait_s: float = 15.0) -> RecordingOutcome:
    """Record one episode through the recorder's action until it ends by itself (duration_s) or
    `stop` is set (then the episode is finished and kept, as a cancel asks the recorder to)."""
    client = EpisodeClient(name="robovla_record_client")
    try:
        if not client.record_client.wait_for_server(timeout_sec=server_wait_s):
            return RecordingOutcome(False, f"no recorder on {topics.RECORD_EPISODE}: start "
                                           "`ros2 launch robovla record.launch.py` or `robovla record --serve`")
        try:
            handle = client.start_recording(instruction, episode_id, notes, max_duration_s=duration_s,
                                            on_feedback=on_feedback)
        except RuntimeError as exc:
            return RecordingOutcome(False, str(exc))
        result_future = handle.get_result_async()
        result_future.add_done_callback(lambda _f: stop.set())
        stop.wait()
        res = result_future.result().result if result_future.done() else client.stop_recording(handle)
        return RecordingOutcome(bool(res.success), res.message, res.bag_path)
    finally:
        client.close()
