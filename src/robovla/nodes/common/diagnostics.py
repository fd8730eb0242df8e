"""/diagnostics for one node: the rates of its inputs and outputs, its own checks, in words.

diagnostic_msgs/DiagnosticArray on the absolute /diagnostics topic is what every ROS tool reads
(rqt_robot_monitor, diagnostic_aggregator, `ros2 topic echo`); `robovla status` and
`robovla doctor --graph` read it too. diagnostic_updater, the usual helper, has no wheel here, so
this is a small one of our own: the judging lives in robovla.health, ROS-free. Published on a
steady timer (a paused sim must not silence a status); rates and silences are measured on the
node clock, so in a sim they are per simulated second and a lock-stepped sim holding still
between episodes is no silence (a sim that stopped is: its /clock stops, `doctor --graph` says so).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from robovla.health.checks import Finding, Level, Report, stream_finding
from robovla.health.rates import LatencyMeter, RateMeter
from robovla.nodes.common import qos, topics

PERIOD_S = 0.5  # a silenced input shows within silent_s + 0.5 s
#: what a node's status is named on /diagnostics: "robovla: <node>"
PREFIX = "robovla: "

Check = Callable[[float], tuple[list[Finding], dict[str, str]]]


class NodeDiagnostics:
    def __init__(self, node: Node, period_s: float = PERIOD_S) -> None:
        self.node = node
        self.pub = node.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, qos.COMMAND)
        self._lock = threading.Lock()
        self._streams: list[tuple[str, RateMeter, float, float, Callable[[], bool]]] = []
        self._outputs: list[tuple[str, RateMeter]] = []
        self._checks: list[Check] = []
        self.last: Report | None = None
        node.create_timer(period_s, self.publish, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def now(self) -> float:
        """The node clock in seconds (sim time under use_sim_time): what the meters are ticked with."""
        return self.node.get_clock().now().nanoseconds * 1e-9

    def stream(self, name: str, silent_s: float = 1.0, expected_hz: float = 0.0,
               when: Callable[[], bool] = lambda: True) -> RateMeter:
        """An input that must flow (judged while `when()`): tick the meter on every message."""
        meter = RateMeter()
        with self._lock:
            self._streams.append((name, meter, silent_s, expected_hz, when))
        return meter

    def output(self, name: str) -> RateMeter:
        """A rate reported, not judged (e.g. what the node publishes)."""
        meter = RateMeter()
        with self._lock:
            self._outputs.append((name, meter))
        return meter

    def latency(self, name: str, check: Callable[[LatencyMeter, float], Finding | None] | None = None) -> LatencyMeter:
        """A stage duration reported as p50/p95 (ms), optionally judged by `check`."""
        meter = LatencyMeter()

        def report(t: float) -> tuple[list[Finding], dict[str, str]]:
            p50, p95 = meter.quantile(0.5), meter.quantile(0.95)
            values = {f"{name} p50 ms": "-" if p50 is None else f"{p50 * 1e3:.1f}",
                      f"{name} p95 ms": "-" if p95 is None else f"{p95 * 1e3:.1f}"}
            finding = check(meter, t) if check is not None else None
            return ([finding] if finding is not None else []), values

        self.add(report)
        return meter

    def add(self, check: Check) -> None:
        """A check of the node's own state: (findings, values) at steady time t."""
        with self._lock:
            self._checks.append(check)

    def report(self, t: float | None = None) -> Report:
        t = self.now() if t is None else t
        findings: list[Finding] = []
        values: dict[str, str] = {}
        with self._lock:
            streams, outputs, checks = list(self._streams), list(self._outputs), list(self._checks)
        for name, meter, silent_s, expected_hz, when in streams:
            values[f"{name} Hz"] = f"{meter.rate(t):.1f}"
            if when():
                findings.append(stream_finding(name, meter, t, silent_s, expected_hz))
        for name, meter in outputs:
            values[f"{name} Hz"] = f"{meter.rate(t):.1f}"
        for check in checks:
            try:
                found, more = check(t)
            except Exception as exc:  # a broken check must not take the node's diagnostics down
                found, more = [Finding(Level.WARN, f"diagnostics check failed: {exc}")], {}
            findings += found
            values.update(more)
        return Report.of(findings, values)

    def publish(self) -> None:
        report = self.report()
        self.last = report
        status = DiagnosticStatus(level=bytes([int(report.level)]), name=PREFIX + self.node.get_name(),
                                  message=report.message, hardware_id=self.node.get_fully_qualified_name(),
                                  values=[KeyValue(key=k, value=v) for k, v in report.values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(msg)
