"""recorder: one rosbag2 (MCAP) episode per demonstration, started/stopped by the RecordEpisode action.

Messages are taken as serialized CDR (raw subscriptions) and written unchanged, stamped with the
receive time like `ros2 bag record`. Cancel — or the `robovla/stop_recording` service
(example_interfaces/Trigger) — finishes the episode. Its success flag is the operator's verdict when
`robovla/finish_episode` (robovla/srv/FinishEpisode: keep as success, keep as failure, discard)
ended it, else the last TaskOutcome (simulator checker / operator) received during the episode for
this recording's episode id or for the graph's running instruction, else `default_success`. A
discarded episode is written like the others and moved under <output_dir>/_discarded/, where
training does not look (nothing recorded is deleted). It is then published
atomically by robovla.data.EpisodeWriter, so a killed recorder never damages a finished episode,
and the interrupted one stays under <output_dir>/_incomplete/ for `robovla record --recover`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from example_interfaces.srv import Trigger
from geometry_msgs.msg import Twist
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image, JointState

from robovla.action import RecordEpisode
from robovla.data.episode_writer import EpisodeWriter, new_episode_id
from robovla.data.metadata import GEN3_ROBOT, EpisodeMetadata
from robovla.data.typestore import typestore
from robovla.msg import ArmCommand, Instruction, TaskOutcome
from robovla.srv import FinishEpisode
from robovla.nodes.common import qos, topics
from robovla.nodes.common.diagnostics import NodeDiagnostics
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run, side_node


@dataclass
class RecorderParams:
    output_dir: str = "~/robovla_demos"
    cameras: list[str] = field(default_factory=lambda: ["front"])
    compressed: bool = False  # record each camera's <topic>/compressed instead of raw images
    camera_preset: str = "sim"  # as camera_sync's: the drivers' topic names (topics.CAMERA_PRESETS)
    camera_topics: list[str] = field(default_factory=list)  # as camera_sync's: NAME=TOPIC over the preset
    robot: str = GEN3_ROBOT
    camera_rate_hz: float = 30.0
    control_rate_hz: float = 100.0
    flush_interval_s: float = 1.0
    default_success: bool = True  # outcome recorded when an episode is ended by cancel
    feedback_rate_hz: float = 2.0
    clock_wait_s: float = 5.0  # use_sim_time: how long an episode start waits for the first /clock (wall s)


class Recorder(Node):
    def __init__(self) -> None:
        super().__init__("recorder")
        self.p = declare_config(self, RecorderParams)
        self.root = Path(self.p.output_dir).expanduser()
        self._lock = threading.Lock()
        self._writer: EpisodeWriter | None = None
        self.diag = NodeDiagnostics(self)
        self.diag.add(self._health)
        self._frames = 0
        self._stop = threading.Event()
        self._stop_success: bool | None = None
        self._verdict: tuple[int, str] | None = None  # FinishEpisode's (verdict, notes) for this episode
        self._graph_episode = ""  # episode id of the latched robovla/instruction (the task manager's)
        typestore()  # builds rosbags' type tables (seconds) now, not when the first episode starts
        streams = [(topics.JOINT_STATES, JointState, "sensor_msgs/msg/JointState", qos.SENSOR),
                   (topics.TWIST_COMMANDS, Twist, "geometry_msgs/msg/Twist", qos.COMMAND),
                   (topics.ARM_COMMAND, ArmCommand, "robovla/msg/ArmCommand", qos.COMMAND),
                   (topics.INSTRUCTION, Instruction, "robovla/msg/Instruction", qos.LATCHED)]
        cam_cls, cam_type = ((CompressedImage, "sensor_msgs/msg/CompressedImage") if self.p.compressed
                             else (Image, "sensor_msgs/msg/Image"))
        # a camera is written under the graph's name for it (/camera/<name>/image_raw[/compressed]),
        # whichever driver topic it came from: the episode reader finds cameras by that name
        self.camera_sources = topics.camera_topics(self.p.cameras, self.p.camera_preset, self.p.camera_topics)
        for name, source in self.camera_sources.items():
            sub = self.create_subscription(cam_cls, topics.compressed_topic(source, self.p.compressed),
                                           self._make_cb("/" + topics.camera_topic(name, self.p.compressed),
                                                         cam_type, camera=True), qos.SENSOR, raw=True)
            self.camera_sources[name] = sub.topic_name
        for topic, cls, type_name, profile in streams:
            self.create_subscription(cls, topic, self._make_cb("/" + topic.lstrip("/"), type_name), profile,
                                     raw=True)
        self.create_service(Trigger, topics.STOP_RECORDING, self._on_stop)
        self.create_service(FinishEpisode, topics.FINISH_EPISODE, self._on_finish)
        self.create_subscription(TaskOutcome, topics.TASK_OUTCOME, self._on_outcome, qos.COMMAND)
        self.server = ActionServer(side_node(self), RecordEpisode, topics.RECORD_EPISODE, execute_callback=self._execute,
                                   goal_callback=lambda _g: GoalResponse.ACCEPT,
                                   cancel_callback=lambda _h: CancelResponse.ACCEPT,
                                   callback_group=ReentrantCallbackGroup())
        cams = ", ".join(f"{n}={t}" for n, t in self.camera_sources.items())
        self.get_logger().info(f"ready: {topics.RECORD_EPISODE} -> {self.root} (cameras {cams})")

    def _make_cb(self, topic: str, type_name: str, camera: bool = False):
        is_instruction = type_name == "robovla/msg/Instruction"

        def cb(raw: bytes) -> None:
            if is_instruction:  # the graph's own episode id: its TaskOutcome counts for this recording
                self._graph_episode = deserialize_message(raw, Instruction).episode_id
            with self._lock:
                if self._writer is None:
                    return
                self._writer.write_raw(topic, type_name, raw, self.get_clock().now().nanoseconds)
                if camera:
                    self._frames += 1
        return cb

    def _on_outcome(self, msg: TaskOutcome) -> None:
        with self._lock:
            ours = ("", self._writer.metadata.episode_id, self._graph_episode) if self._writer is not None else ()
            if msg.episode_id in ours:
                self._stop_success = bool(msg.success)

    def _on_stop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            recording = self._writer is not None
        if recording:
            self._stop.set()
        response.success = recording
        response.message = "stopping" if recording else "not recording"
        return response

    def _on_finish(self, request: FinishEpisode.Request, response: FinishEpisode.Response) -> FinishEpisode.Response:
        verdicts = (FinishEpisode.Request.KEEP_SUCCESS, FinishEpisode.Request.KEEP_FAILURE, FinishEpisode.Request.DISCARD)
        with self._lock:
            current = self._writer.metadata.episode_id if self._writer is not None else ""
            if request.verdict not in verdicts:
                response.success, response.message = False, f"unknown verdict {request.verdict} (0 keep as success, " \
                                                            "1 keep as failure, 2 discard)"
            elif not current:
                response.success, response.message = False, "not recording"
            elif request.episode_id and request.episode_id != current:
                response.success, response.message = False, f"recording {current}, not {request.episode_id}"
            elif self._verdict is not None or self._stop.is_set():
                response.success, response.message = False, f"episode {current} is already being finished"
            else:
                self._verdict = (int(request.verdict), request.notes)
                self._stop.set()
                word = {0: "keep as success", 1: "keep as failure", 2: "discard"}[int(request.verdict)]
                response.success, response.message = True, f"finishing episode {current}: {word}"
        if response.success:
            self.get_logger().info(response.message)
        else:
            self.get_logger().warning(f"{topics.FINISH_EPISODE}: {response.message}")
        return response

    def _health(self, t: float) -> tuple[list, dict[str, str]]:
        with self._lock:
            writer = self._writer
            return [], {"recording": writer.metadata.episode_id if writer is not None else "-",
                        "messages": str(writer.message_count) if writer is not None else "-",
                        "frames": str(self._frames), "output_dir": str(self.root)}

    def _execute(self, handle) -> RecordEpisode.Result:
        goal = handle.request
        result = RecordEpisode.Result()
        episode_id = goal.episode_id.strip() or new_episode_id()
        meta = EpisodeMetadata(episode_id=episode_id, instruction=goal.instruction, robot=self.p.robot,
                               operator_notes=goal.operator_notes, camera_names=list(self.p.cameras),
                               camera_rate_hz=self.p.camera_rate_hz, control_rate_hz=self.p.control_rate_hz,
                               extra={"camera_topics": dict(self.camera_sources)})
        # use_sim_time before the sim's first /clock: the bag would begin at time 0, a different
        # time base from its data (and from its metadata). The time source takes /clock on this
        # node's executor, which a busy camera stream can hold up: wait a moment before refusing.
        deadline = time.monotonic() + self.p.clock_wait_s
        while self.get_clock().now().nanoseconds == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.get_clock().now().nanoseconds == 0:
            result.success, result.message = False, ("rejected: use_sim_time is set but no /clock has arrived "
                                                     f"within {self.p.clock_wait_s:.1f} s (is the sim running?)")
            self.get_logger().error(f"episode {episode_id}: {result.message}")
            handle.abort()
            return result
        with self._lock:
            if self._writer is not None:
                result.success, result.message = False, "rejected: an episode is already being recorded"
                handle.abort()
                return result
            try:
                # the node clock stamps the data (sim time under use_sim_time): the metadata too
                self._writer = EpisodeWriter(self.root, meta, flush_interval_s=self.p.flush_interval_s,
                                             clock=lambda: self.get_clock().now().nanoseconds)
            except (OSError, ValueError) as exc:
                result.success, result.message = False, f"cannot start episode {episode_id}: {exc}"
                handle.abort()
                return result
            self._frames = 0
            self._stop.clear()
            self._stop_success = None
            self._verdict = None
        self.get_logger().info(f"recording episode {episode_id}: {goal.instruction!r}")
        start = time.monotonic()
        fb = RecordEpisode.Feedback()
        while not handle.is_cancel_requested and not self._stop.wait(1.0 / self.p.feedback_rate_hz):
            elapsed = time.monotonic() - start
            if goal.max_duration_s > 0 and elapsed >= goal.max_duration_s:
                break
            with self._lock:
                fb.elapsed_s, fb.message_count, fb.frames = float(elapsed), self._writer.message_count, self._frames
            handle.publish_feedback(fb)
        verdict, extra_notes = self._verdict if self._verdict is not None else (None, "")
        if verdict is not None:
            success = verdict == FinishEpisode.Request.KEEP_SUCCESS
        else:
            success = self._stop_success if self._stop_success is not None else self.p.default_success
        notes = " ".join(n for n in (goal.operator_notes, extra_notes) if n) if extra_notes else None
        with self._lock:
            writer, self._writer = self._writer, None
            try:
                path = writer.finish(success, operator_notes=notes)
                if verdict == FinishEpisode.Request.DISCARD:
                    path = self._discard(path)
            except Exception as exc:  # keep the node alive; the data stays recoverable
                if not writer.closed:
                    writer.abort()
                result.success, result.message = False, f"episode {episode_id} could not be finalised: {exc}"
                handle.abort()
                return result
        result.success, result.bag_path = True, str(path)
        result.message_count, result.duration_s = writer.message_count, float(time.monotonic() - start)
        kept = "discarded to" if verdict == FinishEpisode.Request.DISCARD else ("written, success" if success
                                                                              else "written, failure")
        result.message = (f"episode {episode_id} {kept} {path} ({writer.message_count} messages, "
                          f"{self._frames} frames)")
        self.get_logger().info(result.message)
        if handle.is_cancel_requested:
            handle.canceled()
        else:
            handle.succeed()
        return result

    def _discard(self, path: Path) -> Path:
        """Out of training's way, not deleted: an operator's discard is sometimes a mistake."""
        target = self.root / "_discarded" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target = target.with_name(f"{path.name}.{time.time_ns()}")
        path.rename(target)
        return target

    def on_shutdown(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.abort()  # stays recoverable under _incomplete/
                self._writer = None


NODE = Recorder  # the class robovla.nodes.container instantiates


def main() -> int:
    return run(NODE)


if __name__ == "__main__":
    raise SystemExit(main())
