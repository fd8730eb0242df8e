"""task_manager: the ExecuteInstruction action server that runs one language goal at a time.

A goal becomes an episode: a fresh episode id and the instruction are latched on
robovla/instruction, which resets the history, the policy and the smoother, and arms the
controller. The episode ends on success (a TaskOutcome from the simulator's checker or an
operator's ReportOutcome call), on timeout (success=false, saying so), on cancel, or when a
newer goal preempts it (documented: the newest goal wins, the old one is aborted with a message).
Every ending latches active=false, which stops the arm.

Episode time is the node clock (sim time in the sim graph, wall time on a robot): the timeout, the
elapsed time in feedback and the result's duration. An outcome stamped after the deadline does not
count, and `steps` counts the chunks whose observation stamp + `latency_model_s` is not after the
episode's end (arriving before or after that end: in lock-step the result waits for the chunk of the
last frame it counts), so a lock-stepped evaluation reports the same steps however loaded the machine is.
The sim says on robovla/task_checker whether it can judge the instruction; when it cannot, feedback
and result say so (the timeout or an operator decides).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.clock import Clock as RosClock
from rclpy.clock import ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock

from robovla.action import ExecuteInstruction
from robovla.health.summary import GraphSummary
from robovla.msg import ActionChunk, ControlStatus, GraphStatus, Instruction, TaskOutcome
from robovla.nodes.common import qos, topics
from robovla.nodes.common.diagnostics import PREFIX as DIAG_PREFIX
from robovla.nodes.common.diagnostics import NodeDiagnostics
from robovla.nodes.common.convert import to_sec, to_time
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
    status_rate_hz: float = 2.0  # robovla/status
    status_stale_s: float = 3.0  # a node silent on /diagnostics this long is STALE in robovla/status
    success_source: str = "any"  # 'topic' (simulator checker), 'operator' (service), 'any', 'none'
    max_instruction_chars: int = 500
    # kinova_control's robovla/control_status: a goal waits this long for ready=true (it is false
    # while the controllers are being switched at start), then is aborted with its message
    control_ready_timeout_s: float = 15.0
    # the graph has an arm (kinova_control): a goal waits for its ready status even before
    # kinova_control is discovered; false only for arm-less rigs (a policy test graph)
    require_arm: bool = True
    # a chunk counts as a step once observation stamp + this has come (action_smoother's latency_model_s)
    latency_model_s: float = 0.0
    # lock-step (robovla.graph.apply_sim_time): the period of the sim's frames, each answered by a
    # chunk; at an episode's end the result waits for the chunk of the last frame it counts
    lockstep_frame_period_s: float = 0.0

    def __post_init__(self) -> None:
        if self.success_source not in SUCCESS_SOURCES:
            raise ValueError(f"unknown success_source {self.success_source!r}; choose one of {SUCCESS_SOURCES}")
        if not self.feedback_rate_hz >= 1.0:
            raise ValueError("feedback_rate_hz must be >= 1")
        if not (self.status_rate_hz > 0 and self.status_stale_s > 0):
            raise ValueError("status_rate_hz and status_stale_s must be positive")


class _Episode:
    def __init__(self, episode_id: str, instruction: str, timeout_s: float, start: float, task: str = "") -> None:
        self.id, self.instruction, self.timeout_s, self.task = episode_id, instruction, timeout_s, task
        self.start = start  # node clock, s
        self.deadline = start + timeout_s
        self.steps = 0
        self.chunk_stamps: list[float] = []  # observation stamps of the episode's chunks
        self.end: float | None = None  # node clock at the outcome
        self.unjudged = ""  # why the sim cannot judge this instruction ("" = it can, or no sim)
        self.done = threading.Event()
        self.news = threading.Event()  # feedback is due now (the episode ended, or the sim judged it)
        self.chunk_came = threading.Event()
        self.outcome: tuple[bool, str] | None = None  # (success, message)

    def finish(self, success: bool, message: str, end: float) -> None:
        if self.outcome is None:
            self.outcome, self.end = (success, message), end
        self.done.set()
        self.news.set()

    def steps_by(self, latency_s: float) -> int:
        """Chunks the graph could have acted on by the end: observation stamp + latency <= end."""
        if self.end is None:
            return len(self.chunk_stamps)
        return sum(1 for t in self.chunk_stamps if t + latency_s <= self.end + 1e-9)


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
            self.create_subscription(TaskOutcome, topics.TASK_CHECKER, self._on_checker, qos.COMMAND)
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
        self.diag = NodeDiagnostics(self)
        self.diag.add(self._health)
        # robovla/status: the graph in one message, from every node's /diagnostics
        self.graph = GraphSummary(stale_s=self.p.status_stale_s)
        self.status_pub = self.create_publisher(GraphStatus, topics.GRAPH_STATUS, qos.COMMAND)
        self.create_subscription(DiagnosticArray, topics.DIAGNOSTICS, self._on_diagnostics, qos.COMMAND)
        self.create_timer(1.0 / self.p.status_rate_hz, self._publish_status,
                          clock=RosClock(clock_type=ClockType.STEADY_TIME))
        self._sim_time = bool(self.get_parameter("use_sim_time").value)
        self._clock_cv = threading.Condition()
        self._clock_msgs, self._clock_ns = 0, 0
        if self._sim_time:  # episode starts read a fresh /clock (_start_time); deadlines on every tick
            self.create_subscription(Clock, topics.CLOCK, self._on_clock, qos.LATEST)
        else:  # timeouts on the node clock, promptly
            self.create_timer(0.02, lambda: self._check_deadline())  # (rclpy passes a TimerInfo to a 1-arg callback)
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
            running.finish(False, "preempted by a newer goal", self._now())
            self.get_logger().warning(f"episode {running.id} preempted by a newer goal")
        handle.execute()

    def _on_cancel(self, _handle) -> CancelResponse:
        # Wake the execute loop at once: the arm must stop within a control period, not a
        # feedback period.
        episode = self.episode
        if episode is not None:
            episode.finish(False, "canceled", self._now())
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
        problem = self._validate(goal) or self._clock_problem() or self._control_problem()
        if problem is not None:
            self.get_logger().error(f"goal {goal.instruction[:60]!r}: {problem}")
            result.success, result.message = False, problem
            handle.abort()
            return result
        timeout = goal.timeout_s or self.p.default_timeout_s
        episode = _Episode(uuid.uuid4().hex[:12], goal.instruction.strip(), timeout, self._start_time(),
                           goal.task.strip())
        with self._lock:
            self.episode = episode
        self._latch(episode.id, episode.instruction, active=True, stamp=episode.start, task=episode.task)
        self.get_logger().info(f"episode {episode.id}: {episode.instruction!r} (timeout {timeout:.0f} s, "
                               f"from t={episode.start:.2f} s)")
        period = 1.0 / self.p.feedback_rate_hz
        feedback = ExecuteInstruction.Feedback()
        state = "running"
        while True:
            episode.news.wait(period)
            episode.news.clear()
            if episode.done.is_set() or self._check_deadline(episode):
                break
            elapsed = self._now() - episode.start
            live = "no_checker" if episode.unjudged else state
            feedback.step, feedback.elapsed_s, feedback.state = episode.steps, float(elapsed), live
            handle.publish_feedback(feedback)
        success, message = episode.outcome or (False, "ended")
        self._await_last_chunk(episode)
        if message.startswith("timed out"):
            state = "timed_out"
            if episode.unjudged:
                message += f" ({episode.unjudged})"
        with self._lock:
            if self.episode is episode:
                self.episode = None
                self._latch(episode.id, episode.instruction, active=False, task=episode.task)
        end = episode.end if episode.end is not None else self._now()
        feedback.step, feedback.elapsed_s = episode.steps_by(self.p.latency_model_s), float(end - episode.start)
        feedback.state = "succeeded" if success else ("canceled" if message == "canceled" else state if state != "running" else "failed")
        handle.publish_feedback(feedback)
        result.success, result.message = success, message
        result.steps, result.duration_s = feedback.step, float(end - episode.start)
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
        # The cancel callback runs before the goal enters CANCELING; give rclpy that moment (wall
        # time: an rclpy handshake, not an episode's time).
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
            episode.finish(False, f"aborted: the arm is not ready ({msg.message})", self._now())
            self.get_logger().error(f"episode {episode.id} aborted: the arm is not ready ({msg.message})")

    def _clock_problem(self) -> str | None:
        """With use_sim_time the node clock reads 0 until the sim's first /clock: wait for it, or
        the episode would start at time 0 and time out at the first tick."""
        deadline = time.monotonic() + self.p.control_ready_timeout_s
        while self.get_clock().now().nanoseconds == 0:
            if time.monotonic() > deadline:
                return "rejected: use_sim_time is set but no /clock has arrived (is the sim running?)"
            time.sleep(0.01)
        return None

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
        # taken after the end too, until the result is out: steps_by counts by stamp, not by arrival
        episode = self.episode
        if episode is not None and msg.episode_id == episode.id:
            if not episode.done.is_set():
                episode.steps += 1  # the live count in feedback
            episode.chunk_stamps.append(to_sec(msg.observation_stamp))
            episode.chunk_came.set()

    def _await_last_chunk(self, episode: _Episode) -> None:
        """Lock-step: wait (2 s at most, wall) for the chunk answering the last frame the result
        counts. The sim stepped past that frame only once kinova_control had acted on its chunk, but
        the chunk reaches this process by another path than the /clock or the outcome that ended the
        episode: on a loaded machine it came after them, and a timed-out episode counted 149 steps
        in one run and 150 in another."""
        period = self.p.lockstep_frame_period_s
        if period <= 0 or episode.end is None or not episode.chunk_stamps:
            return
        owed = episode.end - self.p.latency_model_s - period + 1e-6  # a frame lies in (owed, end - latency]
        limit = time.monotonic() + 2.0
        while max(episode.chunk_stamps) < owed:
            if time.monotonic() > limit:
                self.get_logger().warning(f"episode {episode.id}: no chunk for the frames after t={owed:.2f} s "
                                          "came within 2 s; steps counts the chunks received")
                return
            episode.chunk_came.wait(0.01)
            episode.chunk_came.clear()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_clock(self, msg: Clock) -> None:
        with self._clock_cv:
            self._clock_msgs += 1
            self._clock_ns = max(self._clock_ns, msg.clock.sec * 1_000_000_000 + msg.clock.nanosec)
            self._clock_cv.notify_all()
        self._check_deadline()

    def _start_time(self) -> float:
        """When an episode starts. With use_sim_time: the sim's time as of two /clock messages
        received from now on (the second was sent after the first arrived), not whatever this
        node's clock last took: a lock-stepped sim holds still between episodes and republishes
        its clock, so the start is the same in every run however busy this process is."""
        if not self._sim_time:
            return self._now()
        with self._clock_cv:
            seen = self._clock_msgs
            self._clock_cv.wait_for(lambda: self._clock_msgs >= seen + 2, 1.0)
            return max(self._clock_ns * 1e-9, self._now())

    def _check_deadline(self, episode: _Episode | None = None) -> bool:
        """End the episode once the node clock is past its deadline (True if it is over). Strictly
        past: a lock-stepped sim publishes the next /clock only after the graph has answered the
        last state, so every chunk due by the deadline has been counted by then."""
        episode = episode or self.episode
        if episode is None or episode.done.is_set():
            return episode is not None
        # On sim time, only the /clock this node's own subscription has handled counts, not the
        # node clock: rclpy's time source takes each /clock before any of our callbacks, and the
        # feedback thread reading the node clock could end the episode while the chunk answering
        # the last frame waits behind it in the executor (79 steps instead of 80 on a loaded
        # machine). Our /clock subscription was made after the chunk one, so a chunk that arrived
        # with or before the tick is counted first.
        now = self._clock_ns * 1e-9 if self._sim_time else self._now()
        if now > episode.deadline:
            episode.finish(False, f"timed out after {episode.timeout_s:.1f} s without success", episode.deadline)
            return True
        return False

    def _on_outcome(self, msg: TaskOutcome) -> None:
        episode = self.episode
        if episode is None or (msg.episode_id and msg.episode_id != episode.id):
            return
        stamp = to_sec(msg.header.stamp)
        if stamp > episode.deadline:
            return  # after the deadline: the timeout decides (_check_deadline)
        end = stamp if stamp > 0 else self._now()
        if msg.success:
            episode.finish(True, msg.message or f"success reported by {msg.source or 'task checker'}", end)
        elif msg.message:
            episode.finish(False, f"failure reported by {msg.source or 'task checker'}: {msg.message}", end)

    def _on_checker(self, msg: TaskOutcome) -> None:
        """The sim on robovla/task_checker: success=true, it judges this episode (message: with
        what); false, it cannot (message: why)."""
        episode = self.episode
        if episode is None or msg.episode_id != episode.id:
            return
        episode.unjudged = "" if msg.success else msg.message
        episode.news.set()  # say so in feedback at once
        if msg.success:  # one call site per severity (rclpy)
            self.get_logger().info(f"episode {episode.id}: {msg.message}")
        else:
            self.get_logger().warning(f"episode {episode.id}: {msg.message}")

    def _on_report(self, request: ReportOutcome.Request, response: ReportOutcome.Response):
        episode = self.episode
        if episode is None:
            response.accepted, response.message = False, "no episode is running"
            return response
        message = request.message or ("operator: success" if request.success else "operator: failure")
        episode.finish(bool(request.success), message, self._now())
        response.accepted, response.message = True, f"episode {episode.id} ended"
        return response

    def _health(self, t: float) -> tuple[list, dict[str, str]]:
        episode = self.episode
        running = episode is not None and not episode.done.is_set()
        arm = self.control_status
        return [], {"episode": episode.id if running else "-",
                    "instruction": episode.instruction[:80] if running else "-",
                    "elapsed s": f"{self._now() - episode.start:.1f}" if running else "-",
                    "arm ready": "-" if arm is None else str(arm.ready)}

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        now = time.monotonic()  # staleness in wall time: a process that hangs stops publishing in any clock
        for s in msg.status:
            if s.name.startswith(DIAG_PREFIX):
                level = s.level[0] if isinstance(s.level, bytes) else int(s.level)
                self.graph.update(s.name[len(DIAG_PREFIX):], level, s.message, now)

    def _publish_status(self) -> None:
        summary = self.graph.summary(time.monotonic())
        episode = self.episode
        running = episode is not None and not episode.done.is_set()
        arm = self.control_status
        msg = GraphStatus(level=int(summary.level), message=summary.message, nodes=summary.nodes,
                          levels=[int(v) for v in summary.levels], episode_id=episode.id if running else "",
                          instruction=episode.instruction if running else "",
                          elapsed_s=float(self._now() - episode.start) if running else 0.0,
                          arm_ready=bool(arm is not None and arm.ready))
        msg.header.stamp = self.get_clock().now().to_msg()
        self.status_pub.publish(msg)

    def _running_episode_id(self) -> str:
        episode = self.episode
        return episode.id if episode is not None and not episode.done.is_set() else ""

    def _latch(self, episode_id: str, instruction: str, active: bool, stamp: float | None = None,
               task: str = "") -> None:
        msg = Instruction()
        # an episode's instruction is stamped with its start: what is observed after it is the episode's
        msg.header.stamp = to_time(stamp) if stamp is not None else self.get_clock().now().to_msg()
        msg.episode_id, msg.instruction, msg.active, msg.task = episode_id, instruction, active, task
        self.instruction_pub.publish(msg)

    def on_shutdown(self) -> None:
        """End a running goal with a result saying why (its client is not left hanging), then
        tell the graph no episode is active."""
        episode = self.episode
        if episode is not None:
            episode.finish(False, "task_manager is shutting down", self._now())
            deadline = time.monotonic() + 1.0
            while self.episode is episode and time.monotonic() < deadline:
                time.sleep(0.01)
        self._latch("", "", active=False)


NODE = TaskManager  # the class robovla.nodes.container instantiates


def main() -> int:
    return run(NODE)
