"""history_buffer: the last N observations of the running episode, at the policy rate.

Reset on every new episode (goal); before N frames exist the window is padded and `valid`
says which frames are real. Observations are forwarded as received (no re-encoding); with
`images: newest` (default) only the newest frame carries its images, the policy node has the
older ones already (robovla.control.frame_cache says why), which makes a window ~N times smaller.
An observation stamped after the instruction that starts an episode belongs to it even when it
arrives first (two publishers, two paths): the last few are kept while no episode runs and taken
in when it starts. A lock-stepped sim starts stepping the moment it sees the instruction, and its
first frame must become the episode's first window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rclpy.node import Node

from robovla.control.history import HistoryWindow
from robovla.msg import Instruction, Observation, ObservationWindow
from robovla.nodes.common import qos, topics
from robovla.nodes.common.diagnostics import NodeDiagnostics
from robovla.nodes.common.convert import to_sec
from robovla.nodes.common.intra_process import IntraProcessPublisher, subscribe
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run


@dataclass
class HistoryParams:
    window_size: int = 8
    period_s: float = 0.1  # policy step: frames in a window are this far apart
    tolerance: float = 0.25  # fraction of period_s a frame may come early
    images: str = "newest"  # newest: images on the newest frame only | all: on every frame

    def __post_init__(self) -> None:
        if self.images not in ("newest", "all"):
            raise ValueError(f"images must be 'newest' or 'all', got {self.images!r}")


class HistoryBuffer(Node):
    def __init__(self) -> None:
        super().__init__("history_buffer")
        self.p = declare_config(self, HistoryParams)
        self.history: HistoryWindow[Observation] = HistoryWindow(
            self.p.window_size, lambda m: to_sec(m.header.stamp), self.p.period_s, self.p.tolerance
        )
        self.active = False
        self.rejected = 0
        self._stripped: dict[float, Observation] = {}  # image-less copies of the window's older frames
        self._early: deque[Observation] = deque(maxlen=4)  # received while no episode ran (see above)
        self.pub = IntraProcessPublisher(self, ObservationWindow, topics.WINDOW, qos.WINDOW)
        self.diag = NodeDiagnostics(self)
        # observations must flow while an episode runs; between episodes a graph may hold still
        self._observations = self.diag.stream("observation", 1.0, when=lambda: self.active)
        self._windows = self.diag.output("window")
        self.diag.add(lambda t: ([], {"episode": self.history.episode_id or "-",
                                       "out-of-order observations": str(self.rejected)}))
        self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction, qos.LATCHED)
        subscribe(self, Observation, topics.OBSERVATION, self._on_observation, qos.COMMAND)
        self.get_logger().info(f"window of {self.p.window_size} frames every {self.p.period_s:.3f} s")

    def _on_instruction(self, msg: Instruction) -> None:
        started = msg.active and msg.episode_id != self.history.episode_id
        if started:
            self.history.reset(msg.episode_id)
            self.get_logger().info(f"episode {msg.episode_id}: history reset")
        elif not msg.active:
            self.history.reset("")
        self.active = bool(msg.active)
        if started:
            start = to_sec(msg.header.stamp)
            early, self._early = [o for o in self._early if to_sec(o.header.stamp) > start], deque(maxlen=4)
            for obs in early:
                self._on_observation(obs)

    def _on_observation(self, msg: Observation) -> None:
        self._observations.tick(self.diag.now())
        if not self.active:
            self._early.append(msg)
            return
        latest = self.history.latest
        if latest is not None and to_sec(msg.header.stamp) <= to_sec(latest.header.stamp):
            self.rejected += 1
            self.get_logger().warning(
                f"observation stamp {to_sec(msg.header.stamp):.3f} is not newer than the last one: dropped",
                throttle_duration_sec=2.0,
            )
            return
        if not self.history.push(msg):
            return  # within the policy period: not a new window frame
        frames, valid = self.history.window()
        if self.p.images == "newest":
            frames = self._strip_older(frames)
        out = ObservationWindow()
        out.header = frames[-1].header
        out.episode_id = self.history.episode_id
        out.observations = frames
        out.valid = valid.tolist()
        self.pub.publish(out)
        self._windows.tick(self.diag.now())

    def _strip_older(self, frames: list[Observation]) -> list[Observation]:
        """All but the newest frame without images; each copy is made once, not once per window
        (7 message constructions a window cost ~0.1 ms on the camera -> command path)."""
        stamps = [to_sec(f.header.stamp) for f in frames[:-1]]
        stripped = {t: self._stripped.get(t) or _without_images(f) for t, f in zip(stamps, frames)}
        self._stripped = stripped
        return [stripped[t] for t in stamps] + [frames[-1]]


def _without_images(msg: Observation) -> Observation:
    """The same observation minus its images (a few small fields, the arrays shared)."""
    return Observation(header=msg.header, episode_id=msg.episode_id, camera_names=msg.camera_names,
                       joint_names=msg.joint_names, joint_positions=msg.joint_positions,
                       joint_velocities=msg.joint_velocities, gripper=msg.gripper, ee_pose=msg.ee_pose)


NODE = HistoryBuffer  # the class robovla.nodes.container instantiates


def main() -> int:
    return run(NODE)
