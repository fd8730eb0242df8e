"""vla_inference: observation window + instruction -> action chunk, through the Policy interface.

The policy (a VLA checkpoint, or the ScriptedPolicy placeholder) runs on its own inference thread,
so a slow step never blocks the executor; the window callback only keeps the newest window, so a
policy slower than the window rate always answers the newest one and never works through a backlog. Each chunk carries the stamp of the
observation it answers and its compute latency. The predicted end-effector path and the
instruction are published as RViz markers.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, replace

import numpy as np
from geometry_msgs.msg import Point
from rclpy.node import Node
from visualization_msgs.msg import Marker, MarkerArray

from robovla.control.frame_cache import FrameCache
from robovla.control.intent import predicted_path
from robovla.control.safety import DRIVER_MAX_ANGULAR_SPEED, DRIVER_MAX_LINEAR_SPEED, clip_steps, step_speeds
from robovla.msg import ActionChunk, Instruction, ObservationWindow
from robovla.health.checks import Finding, Level
from robovla.nodes.common import qos, topics
from robovla.nodes.common.diagnostics import NodeDiagnostics
from robovla.nodes.common.convert import chunk_to_msg, msg_to_window
from robovla.nodes.common.deferred import DeferredLatest
from robovla.nodes.common.intra_process import IntraProcessPublisher, subscribe
from robovla.nodes.common.heartbeat import start_heartbeat
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run
from robovla.policy.registry import load_policy, set_cpu_threads
from robovla.policy.types import ObservationWindow as Window


@dataclass
class InferenceParams:
    policy: str = "scripted:hold"  # 'scripted[:pattern]', a checkpoint dir, or 'module:factory'
    device: str = "cpu"
    dt: float = 0.1  # policy step for policies that do not carry their own (scripted)
    horizon: int = 10
    max_abs_action: float = 0.5  # per-step delta sanity bound (m or rad); larger chunks are refused
    # below that, each step is scaled to what the arm can do (delta / dt, as the smoother converts
    # it): no chunk leaves this node faster; the smoother and kinova_control.safety cap it further
    max_action_linear_speed: float = DRIVER_MAX_LINEAR_SPEED  # m/s
    max_action_angular_speed: float = DRIVER_MAX_ANGULAR_SPEED  # rad/s
    publish_markers: bool = True
    marker_delay_s: float = 0.02  # markers go out after the chunk's way to the arm (nodes/common/deferred.py)
    frame_id: str = "base_link"
    # lock-step sim (robovla eval): answer every window, in order, instead of only the newest; the
    # sim waits for each answer, so no backlog builds up, and no frame is skipped by chance
    every_window: bool = False
    # torch intra-op threads for a CPU policy (0: torch's default, one per core); a sim graph sets a
    # quarter of the cores: the sim and control need the rest (graph.sim_policy_threads)
    cpu_threads: int = 0


class VlaInference(Node):
    def __init__(self) -> None:
        super().__init__("vla_inference")
        self.p = declare_config(self, InferenceParams)
        self.get_logger().info(f"loading policy {self.p.policy!r} on {self.p.device}")
        self.policy = load_policy(self.p.policy, dt=self.p.dt, horizon=self.p.horizon, device=self.p.device)
        if set_cpu_threads(self.p.cpu_threads):
            self.get_logger().info(f"torch runs on {self.p.cpu_threads} CPU threads")
        self.get_logger().info(f"policy ready: {self.policy.name}")
        self._lock = threading.Lock()
        self.instruction, self.episode_id, self.active = "", "", False
        self._reset_pending = False
        self.latencies: list[float] = []
        self.failures = 0
        self.pub = IntraProcessPublisher(self, ActionChunk, topics.ACTION_CHUNK, qos.COMMAND)
        self.marker_pub = self.create_publisher(MarkerArray, topics.INTENT_MARKERS, qos.COMMAND)
        self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction, qos.LATCHED)
        self.frames = FrameCache()
        self.diag = NodeDiagnostics(self)
        self._windows = self.diag.stream("window", 1.0, when=lambda: self.active)
        self._chunks = self.diag.output("action_chunk")
        self._step_time = self.diag.latency("policy step", self._keeps_up)
        self.diag.add(lambda t: ([], {"policy": self.policy.name, "episode": self.episode_id or "-",
                                       "failed steps": str(self.failures)}))
        self._missing_logged = 0
        subscribe(self, ObservationWindow, topics.WINDOW, self._on_window, qos.WINDOW)
        self._pending: Window | None = None
        self._queue: deque[Window] = deque()  # every_window: windows not started yet, oldest first
        self._past: deque[str] = deque(maxlen=16)  # episodes already over
        self._wake = threading.Condition(self._lock)
        self._running = True
        self._viz = DeferredLatest(self._publish_markers, self.p.marker_delay_s, "vla-markers",
                                   on_error=self._on_marker_error)
        self._thread = threading.Thread(target=self._inference_loop, name="vla-inference", daemon=True)
        self._thread.start()
        # from the executor, not the inference thread: a dead or stopped perception process holds
        # the arm within kinova_control's heartbeat timeout; a stalled model is caught by the
        # observation-age limit instead
        start_heartbeat(self)

    def _on_instruction(self, msg: Instruction) -> None:
        with self._lock:
            if msg.active and msg.episode_id != self.episode_id:
                self._reset_pending = True
            if msg.episode_id != self.episode_id:
                self._past.append(self.episode_id)
            self.instruction, self.episode_id, self.active = msg.instruction, msg.episode_id, bool(msg.active)
            self._wake.notify_all()  # an every_window loop may wait for this episode's instruction

    def _keeps_up(self, meter, t: float) -> Finding | None:
        """WARN when the policy's step takes longer than the interval between windows."""
        p95, rate = meter.quantile(0.95), self._windows.rate(t)
        if p95 is None or rate <= 0 or not self.active:
            return None
        period = 1.0 / rate
        if p95 > period:
            return Finding(Level.WARN, f"policy step p95 {p95 * 1e3:.0f} ms > the {period * 1e3:.0f} ms between windows: "
                                       "windows are skipped")
        return None

    def _on_window(self, msg: ObservationWindow) -> None:
        self._windows.tick(self.diag.now())
        # Every window passes here (cheap: only its newest frame carries images), so the frame
        # cache sees every frame even while a slow policy step skips windows.
        try:
            window = self.frames.complete(msg_to_window(msg, known=self.frames.get))
        except ValueError as exc:
            self.get_logger().error(f"window refused: {exc}", throttle_duration_sec=2.0)
            return
        if self.frames.missing > self._missing_logged:
            self._missing_logged = self.frames.missing
            self.get_logger().warning(f"{self.frames.missing} window frames were never received: padded and masked",
                                      throttle_duration_sec=5.0)
        with self._wake:
            if self.p.every_window:
                self._queue.append(window)
            else:
                self._pending = window  # an older window not yet started is superseded
            self._wake.notify()

    def _inference_loop(self) -> None:
        while True:
            with self._wake:
                while self._running and self._pending is None and not self._queue:
                    self._wake.wait()
                if not self._running:
                    return
                if self._queue:
                    msg = self._queue.popleft()
                else:
                    msg, self._pending = self._pending, None
            self._infer(msg)

    def on_shutdown(self) -> None:
        with self._wake:
            self._running = False
            self._wake.notify()
        self._thread.join(timeout=5.0)
        self._viz.close()

    def _infer(self, window: Window) -> None:
        with self._lock:
            if self.p.every_window and window.episode_id not in (self.episode_id, "", *self._past):
                # the window overtook its episode's instruction (another publisher): wait for it
                self._wake.wait_for(lambda: window.episode_id == self.episode_id or not self._running, 1.0)
            active, episode, instruction = self.active, self.episode_id, self.instruction
            reset, self._reset_pending = self._reset_pending, False
        if not active or window.episode_id != episode:
            return
        if reset:
            self.policy.reset()
        try:
            start = time.perf_counter()  # compute time (wall): what a lock-step latency model stands in for
            chunk = self.policy.step(window, instruction)
            latency = time.perf_counter() - start
            actions = np.asarray(chunk.actions)
            if not np.all(np.isfinite(actions)):
                raise ValueError("policy returned NaN or inf actions")
            worst = float(np.abs(actions[:, :6]).max())
            if worst > self.p.max_abs_action:
                raise ValueError(f"policy returned a per-step delta of {worst:.3f} > max_abs_action {self.p.max_abs_action}")
            lin, ang = step_speeds(actions, chunk.dt)
            if lin > self.p.max_action_linear_speed or ang > self.p.max_action_angular_speed:
                limits = (self.p.max_action_linear_speed, self.p.max_action_angular_speed)
                chunk = replace(chunk, actions=clip_steps(actions, chunk.dt, *limits).astype(actions.dtype))
                self.get_logger().warning(f"policy steps at {lin:.2f} m/s / {ang:.2f} rad/s scaled to "
                                          f"{limits[0]} m/s / {limits[1]} rad/s", throttle_duration_sec=2.0)
        except Exception as exc:  # a policy failure must not take the node down
            self.failures += 1
            self.get_logger().error(f"policy step failed ({self.failures} so far): {exc}", throttle_duration_sec=2.0)
            return
        out = chunk_to_msg(chunk, self.get_clock().now().to_msg(), self.policy.name)
        out.latency_s = latency
        out.episode_id = episode
        self.pub.publish(out)
        # Hand the GIL to the executor thread, which has this chunk to deliver when the smoother
        # shares the process (in-process hop from a busy thread: median 0.65-1.1 ms without,
        # 0.31-0.39 ms with, measured here).
        time.sleep(0)
        self.latencies.append(latency)
        self._step_time.add(latency)
        self._chunks.tick(self.diag.now())
        if self.p.publish_markers:
            self._viz.submit(chunk, window, instruction, out.header.stamp)

    def _publish_markers(self, chunk, window, instruction: str, stamp) -> None:
        self.marker_pub.publish(self._markers(chunk, window, instruction, stamp))

    def _on_marker_error(self, exc: Exception) -> None:
        self.get_logger().error(f"intent markers failed: {exc}", throttle_duration_sec=5.0)

    def _markers(self, chunk, window, instruction: str, stamp) -> MarkerArray:
        ee = window.latest.ee_pose
        path = Marker(ns="robovla_intent", id=0, type=Marker.LINE_STRIP, action=Marker.ADD)
        path.header.frame_id, path.header.stamp = self.p.frame_id, stamp
        path.scale.x = 0.005
        path.color.r, path.color.g, path.color.b, path.color.a = 0.1, 0.8, 0.2, 1.0
        path.pose.orientation.w = 1.0
        path.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in predicted_path(chunk, ee)]
        text = Marker(ns="robovla_intent", id=1, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD)
        text.header = path.header
        text.pose.position.x, text.pose.position.y, text.pose.position.z = float(ee[0]), float(ee[1]), float(ee[2]) + 0.15
        text.pose.orientation.w = 1.0
        text.scale.z = 0.04
        text.color.r = text.color.g = text.color.b = text.color.a = 1.0
        text.text = instruction
        return MarkerArray(markers=[path, text])


NODE = VlaInference  # the class robovla.nodes.container instantiates


def main() -> int:
    return run(NODE)
