"""action_smoother: overlapping action chunks -> smooth end-effector velocity at the control rate.

A new chunk is answered at once (no wait for the next tick), then a timer keeps interpolating
at `control_rate_hz`. When no chunk covers the present any more (policy stalled, episode over)
the node commands zero velocity instead of extrapolating.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rclpy.node import Node

from robovla.control.smoothing import SmootherConfig, VelocitySmoother
from robovla.msg import ActionChunk, ArmCommand, Instruction
from robovla.nodes.common import qos, topics
from robovla.nodes.common.convert import msg_to_chunk, to_time
from robovla.nodes.common.intra_process import IntraProcessPublisher, subscribe
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run


@dataclass
class SmootherNodeParams:
    control_rate_hz: float = 50.0
    frame_id: str = "base_link"


class ActionSmoother(Node):
    def __init__(self) -> None:
        super().__init__("action_smoother")
        self.p = declare_config(self, SmootherNodeParams)
        self.cfg = declare_config(self, SmootherConfig)
        self.smoother = VelocitySmoother(self.cfg)
        self.episode_id, self.active = "", False
        self.rejected = 0
        self._obs_stamp = to_time(0.0)
        self._holding = True
        self.pub = IntraProcessPublisher(self, ArmCommand, topics.ARM_COMMAND, qos.COMMAND)
        self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction, qos.LATCHED)
        subscribe(self, ActionChunk, topics.ACTION_CHUNK, self._on_chunk, qos.COMMAND)
        self.create_timer(1.0 / self.p.control_rate_hz, self._tick)
        self.get_logger().info(f"fusion {self.cfg.mode}, {self.p.control_rate_hz:.0f} Hz")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_instruction(self, msg: Instruction) -> None:
        if not msg.active or msg.episode_id != self.episode_id:
            self.smoother.reset()
        self.episode_id, self.active = msg.episode_id, bool(msg.active)

    def _on_chunk(self, msg: ActionChunk) -> None:
        if not self.active or msg.episode_id != self.episode_id:
            return
        try:
            self.smoother.add_chunk(msg_to_chunk(msg))
        except ValueError as exc:
            self.rejected += 1
            self.get_logger().error(f"rejected action chunk from {msg.policy!r}: {exc}", throttle_duration_sec=1.0)
            return
        self._obs_stamp = msg.observation_stamp
        self._tick()

    def _tick(self) -> None:
        if not self.active:
            return
        now = self._now()
        out = self.smoother.command(now)
        if out is None:
            if not self._holding:
                self.smoother.stop(now)
                self._publish(np.zeros(6), None)
                self._holding = True
            return
        self._holding = False
        self._publish(*out)

    def _publish(self, vel: np.ndarray, gripper: float | None) -> None:
        cmd = ArmCommand()
        cmd.header.stamp = self.get_clock().now().to_msg()
        cmd.header.frame_id = self.p.frame_id
        cmd.observation_stamp = self._obs_stamp
        cmd.episode_id = self.episode_id
        (cmd.twist.linear.x, cmd.twist.linear.y, cmd.twist.linear.z,
         cmd.twist.angular.x, cmd.twist.angular.y, cmd.twist.angular.z) = (float(v) for v in vel)
        cmd.gripper = float(gripper) if gripper is not None else -1.0  # negative: leave the gripper as it is
        self.pub.publish(cmd)


NODE = ActionSmoother  # the class robovla.nodes.container instantiates


def main() -> int:
    return run(NODE)
