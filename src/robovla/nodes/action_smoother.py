"""action_smoother: overlapping action chunks -> smooth end-effector velocity at the control rate.

A new chunk is answered at once (no wait for the next tick), then a timer keeps interpolating
at `control_rate_hz`. When no chunk covers the present any more (policy stalled, episode over)
the node commands zero velocity instead of extrapolating.

The timer runs on the node clock: with use_sim_time (the sim graph) it ticks on the sim's
/clock, once per control period of simulated time. `latency_model_s` > 0 holds each chunk back
until its observation stamp + that much on the node clock (`robovla eval --latency-ms`): in a
lock-stepped sim inference latency is then a modelled quantity, the same whatever the machine.
With `every_tick` (the lock-step graph) every tick publishes a command, a zero while nothing
covers the present: the sim steps only once the graph has answered. Those ticks are driven by the
/clock messages themselves, one per new control period of sim time and stamped with it, rather
than by a timer on the sim clock: the command for a step then never depends on whether this
node's clock or the timer was handled first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rclpy.node import Node
from rosgraph_msgs.msg import Clock

from robovla.control.smoothing import SmootherConfig, VelocitySmoother
from robovla.msg import ActionChunk, ArmCommand, Instruction
from robovla.nodes.common import qos, topics
from robovla.nodes.common.diagnostics import NodeDiagnostics
from robovla.nodes.common.convert import msg_to_chunk, to_sec, to_time
from robovla.nodes.common.intra_process import IntraProcessPublisher, subscribe
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run


@dataclass
class SmootherNodeParams:
    control_rate_hz: float = 50.0
    frame_id: str = "base_link"
    latency_model_s: float = 0.0  # > 0: use a chunk from observation stamp + this (node clock); 0: as it comes
    every_tick: bool = False  # publish on every tick, zeros while no chunk covers the present (lock-step)

    def __post_init__(self) -> None:
        if not self.latency_model_s >= 0:
            raise ValueError("latency_model_s must be >= 0")


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
        self._held: list[ActionChunk] = []  # chunks waiting for observation stamp + latency_model_s
        self.pub = IntraProcessPublisher(self, ArmCommand, topics.ARM_COMMAND, qos.COMMAND)
        self.diag = NodeDiagnostics(self)
        self._chunks = self.diag.stream("action_chunk", 1.0, when=lambda: self.active)
        self._commands = self.diag.output("arm_command")
        self.diag.add(lambda t: ([], {"episode": self.episode_id or "-", "rejected chunks": str(self.rejected),
                                       "fusion": self.cfg.mode}))
        self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction, qos.LATCHED)
        subscribe(self, ActionChunk, topics.ACTION_CHUNK, self._on_chunk, qos.COMMAND)
        self._last_tick_ns = -1
        if self.p.every_tick:
            self.create_subscription(Clock, topics.CLOCK, self._on_clock, qos.LATEST)
        else:
            self.create_timer(1.0 / self.p.control_rate_hz, self._tick)
        self.get_logger().info(f"fusion {self.cfg.mode}, {self.p.control_rate_hz:.0f} Hz")

    def _now(self) -> float:
        if self.p.every_tick and self._last_tick_ns >= 0:
            return self._last_tick_ns * 1e-9  # the sim does not move on before this node answered
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_clock(self, msg: Clock) -> None:
        """every_tick: one tick per control period of sim time, at the time the message says (this
        node's own clock may take the same message a moment later)."""
        ns = msg.clock.sec * 1_000_000_000 + msg.clock.nanosec
        period_ns = int(round(1e9 / self.p.control_rate_hz))
        if self._last_tick_ns >= 0 and ns - self._last_tick_ns < period_ns - period_ns // 10:
            return  # a republished clock, or less than a period on
        self._last_tick_ns = ns
        self._tick()

    def _on_instruction(self, msg: Instruction) -> None:
        if not msg.active or msg.episode_id != self.episode_id:
            self.smoother.reset()
            self._held = []
            self._obs_stamp, self._holding = to_time(0.0), True
        self.episode_id, self.active = msg.episode_id, bool(msg.active)

    def _on_chunk(self, msg: ActionChunk) -> None:
        self._chunks.tick(self.diag.now())
        if not self.active or msg.episode_id != self.episode_id:
            return
        if self.p.latency_model_s > 0:
            self._held.append(msg)
            if not self._release(self._now()):
                return  # not due yet: a tick releases it
        elif not self._use(msg):
            return
        self._tick()

    def _use(self, msg: ActionChunk) -> bool:
        try:
            self.smoother.add_chunk(msg_to_chunk(msg))
        except ValueError as exc:
            self.rejected += 1
            self.get_logger().error(f"rejected action chunk from {msg.policy!r}: {exc}", throttle_duration_sec=1.0)
            return False
        self._obs_stamp = msg.observation_stamp
        return True

    def _release(self, now: float) -> bool:
        """Add the held chunks whose observation stamp + latency_model_s has come; True if any was."""
        due, held = [], []
        for m in self._held:
            (due if to_sec(m.observation_stamp) + self.p.latency_model_s <= now + 1e-9 else held).append(m)
        self._held = held
        return any([self._use(m) for m in due])  # every due chunk, oldest first

    def _tick(self) -> None:
        if not self.active:
            return
        now = self._now()
        if self._held:
            self._release(now)
        out = self.smoother.command(now)
        if out is None:
            # every_tick answers each tick once a chunk of this episode was used (before, there is
            # nothing to answer: the sim does not wait)
            if not self._holding or (self.p.every_tick and to_sec(self._obs_stamp) > 0):
                if not self._holding:
                    self.smoother.stop(now)
                self._publish(np.zeros(6), None)
                self._holding = True
            return
        self._holding = False
        self._publish(*out)

    def _publish(self, vel: np.ndarray, gripper: float | None) -> None:
        cmd = ArmCommand()
        cmd.header.stamp = to_time(self._now())
        cmd.header.frame_id = self.p.frame_id
        cmd.observation_stamp = self._obs_stamp
        cmd.episode_id = self.episode_id
        (cmd.twist.linear.x, cmd.twist.linear.y, cmd.twist.linear.z,
         cmd.twist.angular.x, cmd.twist.angular.y, cmd.twist.angular.z) = (float(v) for v in vel)
        cmd.gripper = float(gripper) if gripper is not None else -1.0  # negative: leave the gripper as it is
        self.pub.publish(cmd)
        self._commands.tick(self.diag.now())


NODE = ActionSmoother  # the class robovla.nodes.container instantiates


def main() -> int:
    return run(NODE)
