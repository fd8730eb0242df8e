"""The rclpy side of `robovla teleop`: operator inputs -> robovla/arm_command, episodes recorded.

Commands take the policy's path: ArmCommand on robovla/arm_command (what action_smoother
publishes), so kinova_control applies the same safety rules, watchdog and fingertip workspace,
and the recorder writes the same topics an expert demonstration has. Each command answers the
scene as it is now (observation_stamp = its own stamp): the operator looks at the arm, not at a
camera frame. While an episode runs, commands go out at rate_hz, zeros included, so letting go
holds the arm; if this process dies or hangs, kinova_control's watchdog stops the arm.

An episode, as `robovla collect` records one: RecordEpisode goal, a moment of the scene at rest,
an ExecuteInstruction goal (the task manager makes the instruction the graph's episode: active,
latched), the operator's motion, the verdict key, the goal canceled (the arm stops), a moment
after, then robovla/finish_episode with the verdict (keep as success / failure, or discard).
A goal that the graph ends by itself (the sim's checker fired, the timeout, a fault) finishes the
recording with its outcome.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from rclpy.clock import Clock, ClockType
from rclpy.parameter import Parameter
from sensor_msgs.msg import Joy

from robovla.action import ExecuteInstruction
from robovla.data.episode_writer import new_episode_id
from robovla.msg import ArmCommand, Instruction
from robovla.nodes.common import qos, topics
from robovla.nodes.common.background import wait_future
from robovla.nodes.common.service_calls import call_service
from robovla.nodes.common.episode_client import EpisodeClient
from robovla.srv import FinishEpisode
from robovla.teleop.controls import EpisodeControls, Event, Intent, Phase, TeleopConfig
from robovla.teleop.joy import JoyMapping, JoyTeleop
from robovla.teleop.keyboard import HELP, KeyboardTeleop

VERDICTS = {Event.KEEP_SUCCESS: FinishEpisode.Request.KEEP_SUCCESS,
            Event.KEEP_FAILURE: FinishEpisode.Request.KEEP_FAILURE,
            Event.DISCARD: FinishEpisode.Request.DISCARD}
JOY_LOST_S = 0.5  # no Joy message for this long: the pad's motion counts as zero


class Teleop:
    def __init__(self, config: TeleopConfig, instruction: str, *, task: str = "", sim_tasks: list[str] | None = None,
                 seed: int = 0, joy_topic: str = "", joy_mapping: JoyMapping | None = None,
                 say: Callable[[str], None] = print, use_sim_time: bool | None = None, notes: str = "",
                 settle_s: float = 0.3) -> None:
        self.config, self.fixed_instruction, self.task = config, instruction, task
        self.instruction = instruction  # the running episode's
        self.sim_tasks, self.seed, self.notes, self.settle_s = sim_tasks, seed, notes, settle_s
        self.say = say
        self.controls = EpisodeControls(config)
        self.keys = KeyboardTeleop(config.key_hold_s)
        self.joy = JoyTeleop(joy_mapping) if joy_topic else None
        self._joy_t = -1e9
        self._lock = threading.Lock()
        self.episode_id = ""  # the graph's (task manager's) episode id while ours runs
        self.recording_id = ""
        self._goal = None
        self._record = None
        self._intents: queue.Queue[tuple[Intent, object]] = queue.Queue()
        self.done = threading.Event()
        self.bags: list[tuple[str, str]] = []  # (verdict, bag path) per finished episode

        self.client = EpisodeClient(name="robovla_teleop")
        node = self.node = self.client.node
        if use_sim_time is None:  # a graph someone else started: the sim's if it publishes /clock
            use_sim_time = self._clock_published()
        if use_sim_time:  # stamps on the sim's clock, as kinova_control's
            node.set_parameters([Parameter("use_sim_time", Parameter.Type.BOOL, True)])
        self.use_sim_time = use_sim_time
        self.finish_client = node.create_client(FinishEpisode, topics.FINISH_EPISODE)
        self.pub = node.create_publisher(ArmCommand, topics.ARM_COMMAND, qos.COMMAND)
        node.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction, qos.LATCHED)
        if self.joy is not None:
            node.create_subscription(Joy, joy_topic, self._on_joy, qos.SENSOR)
        # steady: commands keep their rate whatever /clock does (kinova_control judges their age)
        node.create_timer(1.0 / config.rate_hz, self._tick, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._worker = threading.Thread(target=self._work, name="teleop-episodes", daemon=True)
        self._worker.start()

    def _clock_published(self, wait_s: float = 3.0) -> bool:
        """Whether a /clock publisher (the sim) is on the graph, after a moment of discovery."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.node.count_publishers(topics.CLOCK):
                return True
            time.sleep(0.1)
        return False

    # ------------------------------------------------------------------ inputs
    def on_keys(self, data: str) -> None:
        with self._lock:
            events = self.keys.feed(data, time.monotonic())
            unknown, self.keys.unknown = self.keys.unknown, []
        for key in unknown:
            self.say(HELP if key in ("h", "?") else f"key {key!r} does nothing (h: help)")
        for event in events:
            self.on_event(event)

    def on_event(self, event: Event) -> None:
        with self._lock:
            before = (self.controls.phase, self.config.speed_scale, self.controls.gripper)
            intents = self.controls.handle(event)
            after = (self.controls.phase, self.config.speed_scale, self.controls.gripper)
        if event in (Event.FASTER, Event.SLOWER):
            self.say(f"speed scale {self.config.speed_scale:.1f} "
                     f"({self.config.max_linear_speed * self.config.speed_scale:.3f} m/s)")
        elif event is Event.GRIPPER and before != after:
            self.say("gripper: close" if self.controls.gripper >= 0.5 else "gripper: open")
        elif event is Event.PAUSE and before != after:
            self.say("paused: the arm holds still, the recording goes on (p: resume)"
                     if self.controls.phase is Phase.PAUSED else "resumed")
        elif event is Event.HALT:
            self.say("stop")
        elif not intents and before == after and event not in (Event.GRIPPER, Event.PAUSE):
            self.say(f"{event.value}: nothing to do while {before[0].value}")
        for intent in intents:
            self._intents.put((intent, None))

    def _on_joy(self, msg: Joy) -> None:
        with self._lock:
            events = self.joy.update(list(msg.axes), list(msg.buttons))
            self._joy_t = time.monotonic()
            complaint = self.joy.complaint
        if complaint:
            self.node.get_logger().error(f"{topics.JOY}: {complaint}", throttle_duration_sec=2.0)
        for event in events:
            self.on_event(event)

    def _on_instruction(self, msg: Instruction) -> None:
        with self._lock:
            if msg.active and self.controls.phase is Phase.STARTING and msg.instruction == self.instruction:
                self.episode_id = msg.episode_id
                self.controls.started()
                started = True
            else:
                started = False
                if not msg.active and msg.episode_id == self.episode_id:
                    self.episode_id = ""
        if started:
            self.say(f"episode {self.recording_id} running: {self.instruction!r} "
                     "(move; y keep as success, n keep as failure, x discard)")

    # ------------------------------------------------------------------ commands
    def _tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            phase, episode = self.controls.phase, self.episode_id
            if phase not in (Phase.RUNNING, Phase.PAUSED) or not episode:
                return
            direction = self.keys.direction(now)
            if self.joy is not None:
                if now - self._joy_t > JOY_LOST_S:
                    self.joy.lost()
                direction = direction + self.joy.direction()
            if phase is Phase.PAUSED:
                direction = direction * 0.0
            lin, ang = self.config.scaled(direction)
            gripper = self.controls.gripper
        stamp = self.node.get_clock().now().to_msg()
        msg = ArmCommand(episode_id=episode, gripper=float(gripper))
        msg.header.stamp, msg.header.frame_id = stamp, "base_link"
        msg.observation_stamp = stamp
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(v) for v in lin)
        msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z = (float(v) for v in ang)
        self.pub.publish(msg)

    # ------------------------------------------------------------------ episodes
    def _work(self) -> None:
        while True:
            intent, payload = self._intents.get()
            try:
                if intent.kind == "start":
                    self._start()
                elif intent.kind == "finish":
                    self._finish(intent.verdict, str(payload or ""))
                elif intent.kind == "ended":
                    self._ended(payload)
                elif intent.kind == "quit":
                    self.done.set()
                    return
            except Exception as exc:  # the session goes on: the operator sees why
                self.say(f"error: {intent.kind}: {exc}")
                with self._lock:
                    if self.controls.phase is Phase.STARTING:
                        self.controls.finished(None)

    def _servers(self, timeout_s: float = 30.0) -> None:
        """A request sent before DDS discovery has matched its server is lost: wait for them."""
        c = self.client
        waits = [(c.record_client.wait_for_server, topics.RECORD_EPISODE, "the recorder (bringup --teleop)"),
                 (c.goal_client.wait_for_server, topics.EXECUTE_INSTRUCTION, "the task manager"),
                 (self.finish_client.wait_for_service, topics.FINISH_EPISODE, "the recorder")]
        if self.sim_tasks is not None:
            waits.append((c.reset_client.wait_for_service, topics.RESET_SIM, "the sim"))
        for wait, name, who in waits:
            if not wait(timeout_sec=timeout_s):
                raise RuntimeError(f"nothing answers {name} within {timeout_s:.0f} s: is {who} running?")

    def _start(self) -> None:
        self.say("starting an episode")  # the press registered: a sim reset and the servers take a moment
        self._servers()
        instruction, task = self.fixed_instruction, self.task
        if self.sim_tasks is not None:  # the sim: a fresh scene per episode (tasks rotate, seeds count up)
            task = self.sim_tasks[len(self.bags) % len(self.sim_tasks)] if self.sim_tasks else ""
            reset = self.client.reset(task, self.seed)
            if not reset.success:
                raise RuntimeError(f"sim reset failed: {reset.message}")
            self.seed += 1
            task, instruction = reset.task, self.fixed_instruction or reset.instruction
        instruction = instruction.strip()  # as the task manager latches it (_on_instruction compares)
        recording_id = new_episode_id("teleop" + (f"_{task}" if task else ""))
        handle = self.client.start_recording(instruction, recording_id, notes=self.notes or "teleoperated")
        with self._lock:
            self.recording_id, self._record, self.instruction = recording_id, handle, instruction
        time.sleep(self.settle_s)  # the scene at rest, as an expert demonstration begins
        gh = self.client.send_instruction(ExecuteInstruction.Goal(instruction=instruction, task=task,
                                                                  timeout_s=float(self.config.episode_timeout_s)))
        if not gh.accepted:
            self._intents.put((Intent("finish", Event.DISCARD), "the task manager rejected the goal"))
            raise RuntimeError("the task manager rejected the goal (is the arm ready? robovla doctor --graph)")
        with self._lock:
            self._goal = gh
        # the instruction shows up on robovla/instruction (latched) -> _on_instruction starts motion
        gh.get_result_async().add_done_callback(lambda f: self._intents.put((Intent("ended"), f.result())))

    def _ended(self, result) -> None:
        """The graph ended our goal (result) without a verdict from the operator."""
        with self._lock:
            phase = self.controls.phase
            ours = self._goal is not None and phase in (Phase.RUNNING, Phase.PAUSED, Phase.STARTING)
        if not ours:
            return
        res = result.result
        if phase is Phase.STARTING:  # it never ran (e.g. the arm was not ready): nothing to keep
            verdict = Event.DISCARD
        else:
            verdict = Event.KEEP_SUCCESS if res.success else Event.KEEP_FAILURE
        self.say(f"the graph ended the episode: {res.message}")
        with self._lock:
            self.controls.phase = Phase.FINISHING
        self._finish(verdict, f"ended by the graph: {res.message}")

    def _finish(self, verdict: Event, notes: str) -> None:
        with self._lock:
            goal, record, recording_id = self._goal, self._record, self.recording_id
            self._goal = None
        if goal is not None:  # the arm stops: the task manager ends the graph's episode
            try:
                wait_future(goal.cancel_goal_async(), 30.0)
                wait_future(goal.get_result_async(), 30.0)
            except TimeoutError:
                self.say("warning: the task manager did not answer the cancel in 30 s")
        if record is None:
            with self._lock:
                self.controls.finished(None)
            return
        time.sleep(self.settle_s)  # the arm at rest after the episode, as an expert demonstration ends
        req = FinishEpisode.Request(verdict=VERDICTS[verdict], episode_id=recording_id, notes=notes)
        if not self.finish_client.wait_for_service(timeout_sec=10.0):
            raise RuntimeError(f"no recorder answers {topics.FINISH_EPISODE}")
        res = call_service(self.finish_client, req, 30.0)
        if not res.success:
            self.say(f"recorder: {res.message}")
        recorded = wait_future(record.get_result_async(), 60.0).result
        with self._lock:
            self._record, self.episode_id = None, ""
            self.controls.finished(verdict if recorded.success else None)
        self.bags.append((verdict.value, recorded.bag_path))
        self.say(f"{recorded.message}" if recorded.success else f"recording failed: {recorded.message}")
        self.say("Enter: next episode, q: quit")

    def summary(self) -> str:
        kept = self.controls.kept
        return (f"{len(kept)} episode(s) kept ({sum(kept)} successful, {len(kept) - sum(kept)} failed), "
                f"{self.controls.discarded} discarded")

    def close(self) -> None:
        self.client.close()

