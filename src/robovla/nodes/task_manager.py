"""task_manager: the ExecuteInstruction action server that runs one language goal at a time.

A goal becomes an episode: a fresh episode id and the instruction are latched on
robovla/instruction, which resets the history, the policy and the smoother, and arms the
controller. The episode ends on success (a TaskOutcome from the simulator's checker or an
operator's ReportOutcome call), on timeout (success=false, saying so), on cancel, or when a
newer goal preempts it (documented: the newest goal wins, the old one is aborted with a message).
Every ending latches active=false, which stops the arm.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from robovla.action import ExecuteInstruction
from robovla.msg import ActionChunk, ControlStatus, Instruction, TaskOutcome
from robovla.nodes.common import qos, topics
from robovla.nodes.common.heartbeat import start_heartbeat
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run, side_node
from robovla.srv import ReportOutcome

SUCCESS_SOURCES = ("topic", "operator", "any", "none")


@dataclass
class TaskManagerParams:
    default_timeout_s: float = 60.0
    max_timeout_s: float = 3600.0
    feedback_rate_hz: float = 2.0
    success_source: str = "any"  # 'topic' (simulator checker), 'operator' (service), 'any', 'none'
    max_instruction_chars: int = 500
    # kinova_control's robovla/control_status: a goal waits this long for ready=true (it is false
    # while the controllers are being switched at start), then is aborted with its message
    control_ready_timeout_s: float = 15.0
    # the graph has an arm (kinova_control): a goal waits for its ready status even before
    # kinova_control is discovered; false only for arm-less rigs (a policy test graph)
    require_arm: bool = True

    def __post_init__(self) -> None:
        if self.success_source not in SUCCESS_SOURCES:
            raise ValueError(f"unknown success_source {self.success_source!r}; choose one of {SUCCESS_SOURCES}")
        if not self.feedback_rate_hz >= 1.0:
            raise ValueError("feedback_rate_hz must be >= 1")


class _Episode:
    def __init__(self, episode_id: str, instruction: str, timeout_s: float) -> None:
        self.id, self.instruction, self.timeout_s = episode_id, instruction, timeout_s
        self.start = time.monotonic()
        self.steps = 0
        self.done = threading.Event()
        self.outcome: tuple[bool, str] | None = None  # (success, message)

    def finish(self, success: bool, message: str) -> None:
        if self.outcome is None:
            self.outcome = (success, message)
        self.done.set()


class TaskManager(Node):
    def __init__(self) -> None:
        super().__init__("task_manager")
        self.p = declare_config(self, TaskManagerParams)
        self._lock = threading.Lock()
        self.episode: _Episode | None = None
        self.instruction_pub = self.create_publisher(Instruction, topics.INSTRUCTION, qos.LATCHED)
        self.create_subscription(ActionChunk, topics.ACTION_CHUNK, self._on_chunk, qos.COMMAND)
        self.control_status: ControlStatus | None = None
        self._control_ready = threading.Event()
        self.create_subscription(ControlStatus, topics.CONTROL_STATUS, self._on_control_status, qos.LATCHED)
        if self.p.success_source in ("topic", "any"):
            self.create_subscription(TaskOutcome, topics.TASK_OUTCOME, self._on_outcome, qos.COMMAND)
        if self.p.success_source in ("operator", "any"):
            self.create_service(ReportOutcome, topics.REPORT_OUTCOME, self._on_report)
        self.server = ActionServer(
            side_node(self),  # execute blocks for the whole episode: its own executor (see runner)
            ExecuteInstruction,
            topics.EXECUTE_INSTRUCTION,
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            handle_accepted_callback=self._on_accepted,
            cancel_callback=self._on_cancel,
            callback_group=ReentrantCallbackGroup(),
        )
        self._latch("", "", active=False)
        # kinova_control pauses the arm when the beat is late and ends the episode when it stops
        start_heartbeat(self, episode=self._running_episode_id)
        self.get_logger().info(f"ready: {topics.EXECUTE_INSTRUCTION} (success from {self.p.success_source})")

    # ------------------------------------------------------------ goal lifecycle
    def _on_goal(self, goal: ExecuteInstruction.Goal) -> GoalResponse:
        # Bad goals are accepted and then aborted with a message saying why, so the client
        # learns the reason (a plain rejection carries none).
        return GoalResponse.ACCEPT

    def _on_accepted(self, handle) -> None:
        with self._lock:
            running = self.episode
        if running is not None and not running.done.is_set():
            running.finish(False, "preempted by a newer goal")
            self.get_logger().warning(f"episode {running.id} preempted by a newer goal")
        handle.execute()

    def _on_cancel(self, _handle) -> CancelResponse:
        # Wake the execute loop at once: the arm must stop within a control period, not a
        # feedback period.
        episode = self.episode
        if episode is not None:
            episode.finish(False, "canceled")
        return CancelResponse.ACCEPT

    def _validate(self, goal: ExecuteInstruction.Goal) -> str | None:
        text = goal.instruction.strip()
        if not text:
            return "rejected: the instruction is empty"
        if len(text) > self.p.max_instruction_chars:
            return f"rejected: the instruction has {len(text)} characters (max {self.p.max_instruction_chars})"
        if not (goal.timeout_s >= 0) or goal.timeout_s > self.p.max_timeout_s:
            return f"rejected: timeout_s {goal.timeout_s} is not in [0, {self.p.max_timeout_s}]"
        return None

    def _execute(self, handle) -> ExecuteInstruction.Result:
        goal = handle.request
        result = ExecuteInstruction.Result()
        problem = self._validate(goal) or self._control_problem()
        if problem is not None:
            self.get_logger().error(f"goal {goal.instruction[:60]!r}: {problem}")
            result.success, result.message = False, problem
            handle.abort()
            return result
        timeout = goal.timeout_s or self.p.default_timeout_s
        episode = _Episode(uuid.uuid4().hex[:12], goal.instruction.strip(), timeout)
        with self._lock:
            self.episode = episode
        self._latch(episode.id, episode.instruction, active=True)
        self.get_logger().info(f"episode {episode.id}: {episode.instruction!r} (timeout {timeout:.0f} s)")
        period = 1.0 / self.p.feedback_rate_hz
        feedback = ExecuteInstruction.Feedback()
        state = "running"
        while True:
            if episode.done.wait(period):
                break
            elapsed = time.monotonic() - episode.start
            if elapsed >= timeout:
                episode.finish(False, f"timed out after {timeout:.1f} s without success")
                state = "timed_out"
                break
            feedback.step, feedback.elapsed_s, feedback.state = episode.steps, float(elapsed), state
            handle.publish_feedback(feedback)
        success, message = episode.outcome or (False, "ended")
        with self._lock:
            if self.episode is episode:
                self.episode = None
                self._latch(episode.id, episode.instruction, active=False)
        feedback.step, feedback.elapsed_s = episode.steps, float(time.monotonic() - episode.start)
        feedback.state = "succeeded" if success else ("canceled" if message == "canceled" else state if state != "running" else "failed")
        handle.publish_feedback(feedback)
        result.success, result.message = success, message
        result.steps, result.duration_s = episode.steps, float(time.monotonic() - episode.start)
        if success:
            handle.succeed()
        elif message == "canceled" and self._cancel_confirmed(handle):
            handle.canceled()
        else:
            handle.abort()
        self.get_logger().info(f"episode {episode.id}: {'success' if success else 'failure'} ({message})")
        return result

    @staticmethod
    def _cancel_confirmed(handle, wait_s: float = 1.0) -> bool:
        # The cancel callback runs before the goal enters CANCELING; give rclpy that moment.
        deadline = time.monotonic() + wait_s
        while not handle.is_cancel_requested and time.monotonic() < deadline:
            time.sleep(0.005)
        return handle.is_cancel_requested

    # ------------------------------------------------------------ inputs
    def _on_control_status(self, msg: ControlStatus) -> None:
        self.control_status = msg
        if msg.ready:
            self._control_ready.set()
            return
        self._control_ready.clear()
        episode = self.episode
        if episode is not None and not episode.done.is_set():  # e.g. an arm fault mid-episode
            episode.finish(False, f"aborted: the arm is not ready ({msg.message})")
            self.get_logger().error(f"episode {episode.id} aborted: the arm is not ready ({msg.message})")

    def _control_problem(self) -> str | None:
        """Why the arm cannot run an episode now (None: it can). Whether the graph has an arm is
        declared (require_arm), not guessed from discovery: on a loaded PC kinova_control may not
        be discovered yet when the first goal comes."""
        if self._control_ready.is_set() or not self.p.require_arm:
            return None
        if self._control_ready.wait(self.p.control_ready_timeout_s):
            return None
        why = self.control_status.message if self.control_status is not None else "no control status received"
        return f"rejected: the arm is not ready ({why})"

    def _on_chunk(self, msg: ActionChunk) -> None:
        episode = self.episode
        if episode is not None and msg.episode_id == episode.id:
            episode.steps += 1

    def _on_outcome(self, msg: TaskOutcome) -> None:
        episode = self.episode
        if episode is None or (msg.episode_id and msg.episode_id != episode.id):
            return
        if msg.success:
            episode.finish(True, msg.message or f"success reported by {msg.source or 'task checker'}")
        elif msg.message:
            episode.finish(False, f"failure reported by {msg.source or 'task checker'}: {msg.message}")

    def _on_report(self, request: ReportOutcome.Request, response: ReportOutcome.Response):
        episode = self.episode
        if episode is None:
            response.accepted, response.message = False, "no episode is running"
            return response
        episode.finish(bool(request.success), request.message or ("operator: success" if request.success else "operator: failure"))
        response.accepted, response.message = True, f"episode {episode.id} ended"
        return response

    def _running_episode_id(self) -> str:
        episode = self.episode
        return episode.id if episode is not None and not episode.done.is_set() else ""

    def _latch(self, episode_id: str, instruction: str, active: bool) -> None:
        msg = Instruction()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.episode_id, msg.instruction, msg.active = episode_id, instruction, active
        self.instruction_pub.publish(msg)

    def on_shutdown(self) -> None:
        """End a running goal with a result saying why (its client is not left hanging), then
        tell the graph no episode is active."""
        episode = self.episode
        if episode is not None:
            episode.finish(False, "task_manager is shutting down")
            deadline = time.monotonic() + 1.0
            while self.episode is episode and time.monotonic() < deadline:
                time.sleep(0.01)
        self._latch("", "", active=False)


NODE = TaskManager  # the class robovla.nodes.container instantiates


def main() -> int:
    return run(NODE)
