"""A long-lived client of a running graph for tools that drive many episodes (`robovla eval`,
`robovla collect`): scene resets on the sim, ExecuteInstruction goals, RecordEpisode goals, and
camera frames for GIFs. It owns its rclpy context and spins it on a background thread.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from rclpy.action import ActionClient
from rclpy.node import Node
from sensor_msgs.msg import Image

from robovla.action import ExecuteInstruction, RecordEpisode
from robovla.control.image import raw_to_rgb
from robovla.nodes.common import qos, topics
from robovla.nodes.common.action_goals import send_goal, status_watch
from robovla.nodes.common.background import BackgroundSpinner, wait_future
from robovla.nodes.common.service_calls import call_service
from robovla.srv import ResetSim

log = logging.getLogger(__name__)


@dataclass
class GoalOutcome:
    accepted: bool
    success: bool = False
    message: str = ""
    steps: int = 0
    duration_s: float = 0.0
    status: int = 0
    feedback: list[tuple[int, float, str]] = field(default_factory=list)


class EpisodeClient:
    def __init__(self, namespace: str = "", camera: str | None = None, name: str = "robovla_episode_client") -> None:
        self._spinner = BackgroundSpinner(name="episode-client")
        self.context = self._spinner.context
        self.node = self._spinner.add(Node(name, namespace=namespace, context=self.context))
        self.goal_client = ActionClient(self.node, ExecuteInstruction, topics.EXECUTE_INSTRUCTION)
        self.record_client = ActionClient(self.node, RecordEpisode, topics.RECORD_EPISODE)
        for client in (self.goal_client, self.record_client):  # made now: their latched lists arrive early
            status_watch(client)
        self.reset_client = self.node.create_client(ResetSim, topics.RESET_SIM)
        self._lock = threading.Lock()
        self._capturing = False
        self._frames: list[np.ndarray] = []
        if camera:
            self.node.create_subscription(Image, topics.camera_topic(camera), self._on_image, qos.SENSOR)
        self._spinner.start()

    # ------------------------------------------------------------------ readiness
    def wait_ready(self, timeout: float, nodes: tuple[str, ...] = (), publishers: tuple[str, ...] = ()) -> str | None:
        """None when every named node is on the graph, every named topic has a publisher (a node
        that creates it only once it can serve, e.g. after loading a model) and the sim, goal and
        (with a recorder node) recording servers answer; else what is missing."""
        deadline = time.monotonic() + timeout
        while True:
            missing = set(nodes) - set(self.node.get_node_names())
            if not missing:
                break
            if time.monotonic() > deadline:
                return f"nodes never came up: {sorted(missing)}"
            time.sleep(0.1)
        for topic in publishers:
            while self.node.count_publishers(topic) == 0:
                if time.monotonic() > deadline:
                    return f"nothing ever published {topic}"
                time.sleep(0.1)
        if not self.reset_client.wait_for_service(timeout_sec=timeout):
            return f"no sim reset service on {topics.RESET_SIM}"
        if not self.goal_client.wait_for_server(timeout_sec=timeout):
            return f"no ExecuteInstruction server on {topics.EXECUTE_INSTRUCTION}"
        if "recorder" in nodes and not self.record_client.wait_for_server(timeout_sec=timeout):
            return f"no recorder on {topics.RECORD_EPISODE}"
        return None

    # ------------------------------------------------------------------ sim
    def reset(self, task: str = "", seed: int = -1, keep_scene: bool = False, timeout: float = 30.0):
        """sim/reset, sent again after 10 s without a reply (a lost request or reply) when the seed
        is explicit, as every caller gives it: then a repeat changes nothing ("next seed" would skip one)."""
        req = ResetSim.Request(task=task, seed=int(seed), keep_scene=bool(keep_scene))
        return call_service(self.reset_client, req, timeout, resend_s=10.0 if seed >= 0 else None)

    # ------------------------------------------------------------------ goals
    def execute(self, instruction: str, timeout_s: float,
                on_feedback: Callable[[int, float, str], None] | None = None,
                result_wait_s: float | None = None, task: str = "") -> GoalOutcome:
        """One ExecuteInstruction goal to its end (timeout_s 0: the task manager's default).
        timeout_s is on the graph's clock (sim seconds in the sim); result_wait_s bounds the wall
        time this waits for the result (default timeout_s + 30 s; a lock-stepped sim with a slow
        policy runs slower than real time). task: the goal's task label (the sim judges by it)."""
        outcome = GoalOutcome(True)

        def feedback_cb(msg) -> None:
            fb = msg.feedback
            outcome.feedback.append((fb.step, fb.elapsed_s, fb.state))
            if on_feedback:
                on_feedback(fb.step, fb.elapsed_s, fb.state)

        goal = ExecuteInstruction.Goal(instruction=instruction, timeout_s=float(timeout_s), task=task)
        handle = self.send_instruction(goal, feedback_cb)
        if not handle.accepted:
            return GoalOutcome(False, message="goal rejected")
        if result_wait_s is None:
            result_wait_s = timeout_s + 30.0 if timeout_s > 0 else None
        res = wait_future(handle.get_result_async(), result_wait_s)
        outcome.status = res.status
        outcome.success, outcome.message = res.result.success, res.result.message
        outcome.steps, outcome.duration_s = res.result.steps, res.result.duration_s
        return outcome

    def send_instruction(self, goal: ExecuteInstruction.Goal, feedback_cb: Callable[[Any], None] | None = None):
        """An ExecuteInstruction goal's handle once the task manager has it (action_goals.send_goal)."""
        return send_goal(self.goal_client, goal, feedback_callback=feedback_cb)

    def start_recording(self, instruction: str, episode_id: str, notes: str = "", max_duration_s: float = 0.0,
                        on_feedback: Callable[[Any], None] | None = None):
        """Start a RecordEpisode goal; its handle (RuntimeError if the recorder rejects it)."""
        goal = RecordEpisode.Goal(instruction=instruction, episode_id=episode_id, operator_notes=notes,
                                  max_duration_s=float(max_duration_s))
        cb = (lambda m: on_feedback(m.feedback)) if on_feedback else None
        handle = send_goal(self.record_client, goal, feedback_callback=cb)
        if not handle.accepted:
            raise RuntimeError(f"the recorder rejected episode {episode_id}")
        return handle

    def execute_recorded(self, instruction: str, episode_id: str, timeout_s: float, notes: str = "",
                         on_feedback: Callable[[int, float, str], None] | None = None, settle_s: float = 0.3):
        """One goal recorded as one episode bag: a moment of the scene at rest, the goal, a moment
        after; (GoalOutcome, RecordEpisode result)."""
        handle = self.start_recording(instruction, episode_id, notes=notes)
        time.sleep(settle_s)
        outcome = self.execute(instruction, timeout_s, on_feedback)
        time.sleep(settle_s)
        return outcome, self.stop_recording(handle)

    def stop_recording(self, handle, timeout: float = 60.0):
        """Cancel (= finish) a recording; the recorder's RecordEpisode result."""
        result_future = handle.get_result_async()
        wait_future(handle.cancel_goal_async(), 30.0)
        return wait_future(result_future, timeout).result

    # ------------------------------------------------------------------ frames
    def capture(self, on: bool) -> None:
        with self._lock:
            self._capturing = on
            if on:
                self._frames = []

    def take_frames(self) -> list[np.ndarray]:
        with self._lock:
            frames, self._frames = self._frames, []
            return frames

    def _on_image(self, msg: Image) -> None:
        with self._lock:
            if not self._capturing:
                return
        try:
            rgb = raw_to_rgb(msg.data, msg.height, msg.width, msg.encoding, msg.step)
        except ValueError:
            return
        with self._lock:
            self._frames.append(rgb)

    def close(self) -> None:
        self._spinner.close()

    def __enter__(self) -> EpisodeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
