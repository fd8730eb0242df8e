"""Process faults mid-episode against the faithful driver stand-in: does the arm stop, how fast, how far?

The sim graph (config/graph.yaml: task_manager, perception, control, safety_monitor, sim) runs
the ScriptedPolicy placeholder moving +x at --speed m/s. The sim serves the ros2_kortex stand-in
(robovla.sim.kortex_driver): twist_controller latches the last Twist forever, as the real one
does, so nothing stops the arm but our own processes. One second into the motion one graph
process gets SIGKILL or SIGSTOP. From the sim's /joint_states (receipt times) and the commands on
the driver's topics this measures, per fault and control mode:

- zero_command_s:  first zero Twist after the fault (twist mode); in joint_trajectory mode the
                   first hold (a trajectory with no velocity) after the fault, or else the time at
                   which the last trajectory sent comes to rest (each ends at rest by design)
- at_rest_s:       first time every joint is below 0.01 rad/s and stays so for 0.2 s
- travel_m:        end-effector (and fingertip) displacement from the fault to rest
- over_limit:      commands published beyond the safety limits, before or after the fault

    source scripts/env.sh && python bench/bench_faults.py [--speed 0.1] [--modes twist,joint_trajectory]
Writes bench/results/faults.json and .md. Real time on this machine: loaded cores lengthen every
figure (the watchdogs are wall-clock), so the table says what machine and load it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))

PROCESSES = ("perception", "control", "task_manager", "safety_monitor")
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGSTOP": signal.SIGSTOP}
REST_SPEED = 0.01  # rad/s
REST_HOLD_S = 0.2
GOAL_SPEED, GOAL_TRAVEL, GOAL_REST_S = None, 0.03, 0.3  # the goal: at rest within 0.3 s, <= 3 cm


class Listener:
    """Joint states and driver commands with receipt times, on its own rclpy context."""

    def __init__(self) -> None:
        from geometry_msgs.msg import Twist
        from rclpy.node import Node
        from sensor_msgs.msg import JointState
        from trajectory_msgs.msg import JointTrajectory

        from robovla.nodes.common import qos, topics
        from robovla.nodes.common.background import BackgroundSpinner

        self.spinner = BackgroundSpinner("fault-listener")
        node = self.spinner.add(Node("fault_listener", context=self.spinner.context))
        self.lock = threading.Lock()
        self.joints: list[tuple[float, np.ndarray, np.ndarray]] = []
        self.twists: list[tuple[float, np.ndarray]] = []
        self.trajectories: list[tuple[float, float, bool]] = []  # (receipt, end time_from_start, a hold?)
        node.create_subscription(JointState, topics.JOINT_STATES, self._on_joints, qos.SENSOR)
        node.create_subscription(Twist, topics.TWIST_COMMANDS, self._on_twist, qos.COMMAND)
        node.create_subscription(JointTrajectory, topics.JOINT_TRAJECTORY, self._on_trajectory, qos.COMMAND)
        self.spinner.start()

    def _on_joints(self, msg) -> None:
        with self.lock:
            self.joints.append((time.monotonic(), np.array(msg.position[:7]), np.array(msg.velocity[:7])))

    def _on_twist(self, msg) -> None:
        v = np.array([msg.linear.x, msg.linear.y, msg.linear.z, *np.radians([msg.angular.x, msg.angular.y,
                                                                            msg.angular.z])])
        with self.lock:
            self.twists.append((time.monotonic(), v))

    def _on_trajectory(self, msg) -> None:
        last = msg.points[-1].time_from_start if msg.points else None
        hold = not any(v for p in msg.points for v in p.velocities)
        with self.lock:
            self.trajectories.append((time.monotonic(), last.sec + last.nanosec * 1e-9 if last else 0.0, hold))

    def moving(self) -> bool:
        with self.lock:
            return bool(self.joints) and float(np.abs(self.joints[-1][2]).max()) > 0.05

    def close(self) -> None:
        self.spinner.close()


def one_run(mode: str, process: str, sig_name: str, speed: float, log_root: Path) -> dict:
    from robovla.action import ExecuteInstruction
    from robovla.cli.bringup import start_graph, stop_graph
    from robovla.control import kinematics
    from robovla.control.safety import SafetyConfig
    from robovla.graph import resolve_graph
    from robovla.nodes.common import topics
    from robovla.nodes.common.episode_client import EpisodeClient

    overrides = {"vla_inference.policy": f"scripted:forward:{speed}", "kinova_control.mode": mode,
                 "task_manager.success_source": "none", "sim.task": "", "sim.camera_hz": 10.0}
    specs = resolve_graph(sim=True, overrides=overrides)
    log_dir = log_root / f"{mode}_{process}_{sig_name}"
    log_dir.mkdir(parents=True)
    graph = start_graph(specs, log_dir=log_dir)
    listener = Listener()
    client = EpisodeClient(name="fault_bench_client")
    row = {"mode": mode, "process": process, "signal": sig_name}
    target = next(p for s, p in graph if s.name == process)
    try:
        missing = client.wait_ready(120, nodes=tuple(s.name for s in specs), publishers=(topics.ACTION_CHUNK,))
        if missing:
            raise RuntimeError(missing)
        # no thread waits on the result: the fault may leave the goal unanswered for good, and a
        # thread still inside rclpy when the client closes can deadlock the next run
        client.goal_client.send_goal_async(ExecuteInstruction.Goal(instruction="push forward", timeout_s=20.0))
        deadline = time.monotonic() + 30
        while not listener.moving() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not listener.moving():
            raise RuntimeError("the arm never moved")
        time.sleep(1.0)
        t_fault = time.monotonic()
        target.send_signal(SIGNALS[sig_name])
        time.sleep(3.0)
        with listener.lock:
            joints, twists, trajs = list(listener.joints), list(listener.twists), list(listener.trajectories)
        if sig_name == "SIGSTOP":
            target.send_signal(signal.SIGCONT)
    finally:
        client.close()
        listener.close()
        stop_graph(graph, timeout=5.0)
    q_fault = min(joints, key=lambda j: abs(j[0] - t_fault))[1]
    after = [(t, q, v) for t, q, v in joints if t >= t_fault]
    rest_t = None
    for i, (t, _, v) in enumerate(after):
        if np.abs(v).max() < REST_SPEED and all(np.abs(v2).max() < REST_SPEED
                                                for t2, _, v2 in after[i:] if t2 <= t + REST_HOLD_S):
            rest_t = t
            break
    q_end = after[-1][1] if rest_t is None else min(after, key=lambda j: abs(j[0] - rest_t))[1]
    tool = np.asarray(SafetyConfig().tool_offset)
    fk0, fk1 = kinematics.forward_kinematics(q_fault), kinematics.forward_kinematics(q_end)
    limits = SafetyConfig()
    over = [v for _, v in twists if np.linalg.norm(v[:3]) > limits.max_linear_speed + 1e-6
            or np.linalg.norm(v[3:]) > limits.max_angular_speed + 1e-6]
    if mode == "twist":
        zero = next((t for t, v in twists if t >= t_fault and not np.any(v)), None)
        row["zero_command_s"] = None if zero is None else zero - t_fault
    else:
        hold = next((t for t, _, is_hold in trajs if t >= t_fault and is_hold), None)
        last = [(t, end) for t, end, _ in trajs if t < t_fault + 3.0]
        if hold is not None:
            row["zero_command_s"] = hold - t_fault
        else:
            row["zero_command_s"] = (last[-1][0] + last[-1][1] - t_fault) if last else None
    row.update({
        "at_rest_s": None if rest_t is None else rest_t - t_fault,
        "travel_m": float(np.linalg.norm(fk1[:3, 3] - fk0[:3, 3])),
        "tip_travel_m": float(np.linalg.norm((fk1[:3, 3] + fk1[:3, :3] @ tool) - (fk0[:3, 3] + fk0[:3, :3] @ tool))),
        "over_limit": len(over),
        "monitor_trip": "TRIP" in (log_dir / "safety_monitor.log").read_text(errors="replace"),
    })
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speed", type=float, default=0.1, help="policy speed, m/s (safety cap 0.25)")
    ap.add_argument("--modes", default="twist,joint_trajectory")
    ap.add_argument("--processes", default=",".join(PROCESSES))
    ap.add_argument("--signals", default="SIGKILL,SIGSTOP")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "faults"))
    args = ap.parse_args()
    log_root = Path(tempfile.mkdtemp(prefix="robovla-faults-"))
    rows = []
    for mode in args.modes.split(","):
        for process in args.processes.split(","):
            for sig in args.signals.split(","):
                try:
                    row = one_run(mode, process, sig, args.speed, log_root)
                except Exception as exc:  # report the failed run, go on with the others
                    row = {"mode": mode, "process": process, "signal": sig, "error": f"{type(exc).__name__}: {exc}"}
                print(json.dumps(row), flush=True)
                rows.append(row)
    meta = {"speed_m_s": args.speed, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "load_1min_at_end": os.getloadavg()[0], "logs": str(log_root),
            "goal": {"at_rest_s": GOAL_REST_S, "travel_m": GOAL_TRAVEL}}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=2))

    def f(v, fmt="{:.3f}"):
        return "-" if v is None else fmt.format(v)

    lines = [f"# Process faults mid-episode (policy at {args.speed} m/s, {meta['machine']}, "
             f"load {meta['load_1min_at_end']:.1f})", "",
             "| mode | process | signal | zero command (s) | at rest (s) | EE travel (m) | tip travel (m) | "
             "over limit | monitor tripped |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['mode']} | {r['process']} | {r['signal']} | error: {r['error'][:80]} |||||")
            continue
        lines.append(f"| {r['mode']} | {r['process']} | {r['signal']} | {f(r['zero_command_s'])} | "
                     f"{f(r['at_rest_s'])} | {f(r['travel_m'])} | {f(r['tip_travel_m'])} | {r['over_limit']} | "
                     f"{'yes' if r['monitor_trip'] else 'no'} |")
    lines += ["", f"Goal (issue 15): at rest within {GOAL_REST_S} s, at most {GOAL_TRAVEL * 100:.0f} cm. "
              "'-' at rest: the arm was still moving 3 s after the fault (a fault that does not impair "
              "control, e.g. of the monitor itself, leaves the episode running). 'monitor tripped' counts a "
              "trip at any time of the run, after the SIGCONT of a stopped process included.", ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
