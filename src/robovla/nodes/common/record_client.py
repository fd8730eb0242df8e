"""Client side of `robovla record`: drives the recorder node's RecordEpisode action."""

from __future__ import annotations

import logging
import signal
import threading

from robovla.nodes.common import topics
from robovla.nodes.common.episode_client import EpisodeClient

log = logging.getLogger("robovla.record")


def record_episode(instruction: str, episode_id: str, duration_s: float, notes: str) -> int:
    """Record one episode through the recorder's action until it ends or Ctrl-C; exit code."""
    client = EpisodeClient(name="robovla_record_client")
    try:
        if not client.record_client.wait_for_server(timeout_sec=15):
            log.error("no recorder on %s: start `ros2 launch robovla record.launch.py`", topics.RECORD_EPISODE)
            return 1

        def show(fb) -> None:
            print(f"\rrecording {fb.elapsed_s:6.1f} s  {fb.frames} frames  {fb.message_count} messages",
                  end="", flush=True)

        try:
            handle = client.start_recording(instruction, episode_id, notes, max_duration_s=duration_s,
                                            on_feedback=show)
        except RuntimeError as exc:
            log.error("%s", exc)
            return 1
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        result_future = handle.get_result_async()
        result_future.add_done_callback(lambda _f: stop.set())
        stop.wait()
        res = result_future.result().result if result_future.done() else client.stop_recording(handle)
        print()
        (print if res.success else log.error)(res.message + (f" -> {res.bag_path}" if res.bag_path else ""))
        return 0 if res.success else 1
    finally:
        client.close()
