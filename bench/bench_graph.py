"""Graph overhead: camera stamp -> Twist on twist_controller/commands, policy compute excluded.

The graph runs with the ScriptedPolicy placeholder; a ros2_kortex stand-in publishes 2 cameras at
30 Hz and 100 Hz joint states. A separate lean listener process (EventsExecutor, small topics
only) stands in for the driver. For every action chunk, latency = (when the first Twist for it
was published) - (stamp of the camera frame it answers) - (the policy's own compute time). The
publish time is kinova_control's robovla/sent_command stamp, taken right after the Twist went
out; the Twist's receipt by the listener (one DDS hop later) is reported beside it. The listener
takes the action chunks (for the policy's compute time; task_manager takes them in every
deployment too); with --stages it also takes the arm commands for a per-stage breakdown, one more
DDS delivery on the measured path. Each layout runs in the same invocation, so their ratios are
measured in one run:

- separate:     every node its own process;
- composed:     config/graph.yaml as shipped (perception and control containers);
- composed-dds: the same, with in-process hand-over off (ROBOVLA_INTRA_PROCESS=0): every hop over DDS;
- single:       the five pipeline nodes in one container (not shipped, graph.yaml says why).

    python bench/bench_graph.py [--seconds 20] [--layouts separate,composed,single]
Writes bench/results/graph_latency.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "graph"))  # the ros2_kortex stand-in used by the graph tests
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))

from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402

from robovla.action import ExecuteInstruction  # noqa: E402
from robovla.msg import ActionChunk, ArmCommand  # noqa: E402
from robovla.nodes.common import qos, topics  # noqa: E402
from robovla.nodes.common.convert import to_sec  # noqa: E402

PIPELINE = ("camera_sync", "history_buffer", "vla_inference", "action_smoother", "kinova_control")
LAYOUTS = ("separate", "composed", "composed-dds", "single")


def listen(out: Path, stages: bool) -> int:
    """The driver stand-in: record chunk/command/Twist receipt until SIGINT, then write JSON.
    It runs as a graph node does (robovla.nodes.common.runner: same executor, same shutdown)."""
    from rclpy.node import Node

    from robovla.nodes.common.runner import run

    class Listener(Node):
        def __init__(self) -> None:
            super().__init__("bench_listener")
            self.rec: dict[str, list] = {"chunk": [], "arm": [], "sent": [], "twist": []}
            self.create_subscription(ActionChunk, topics.ACTION_CHUNK, lambda m: self.rec["chunk"].append(
                (to_sec(m.observation_stamp), to_sec(m.header.stamp), m.latency_s)), qos.COMMAND)
            if stages:
                self.create_subscription(ArmCommand, topics.ARM_COMMAND, lambda m: self.rec["arm"].append(
                    (to_sec(m.observation_stamp), to_sec(m.header.stamp))), qos.COMMAND)
            self.create_subscription(ArmCommand, topics.SENT_COMMAND, self._on_sent, qos.COMMAND)
            # receipt on the ROS clock, the one camera stamps use
            self.create_subscription(Twist, topics.TWIST_COMMANDS, lambda m: self.rec["twist"].append(
                self.get_clock().now().nanoseconds * 1e-9), qos.COMMAND)
            self.create_timer(0.1, self._check_matched)

        def _on_sent(self, m: ArmCommand) -> None:
            if not self.rec["sent"]:
                out.with_suffix(".moving").touch()  # the measured time starts here
            self.rec["sent"].append((to_sec(m.observation_stamp), to_sec(m.header.stamp)))

        def _check_matched(self) -> None:
            """Say when every subscription has found its publisher: DDS discovery among this
            many processes on 2 cores can take seconds, and the goal must wait for it."""
            ready = out.with_suffix(".ready")
            if not ready.exists() and all(sub.get_publisher_count() > 0 for sub in self.subscriptions):
                ready.touch()

        def on_shutdown(self) -> None:
            out.write_text(json.dumps(self.rec))

    return run(Listener, args=[sys.argv[0]])


STAGES = ("chunk published", "arm command published", "twist published", "twist received")


def latencies(rec: dict[str, list], warmup: int = 10) -> dict[str, list[float]]:
    """Per chunk: when it was published, when its first arm command and Twist were, when that
    Twist arrived."""
    arm_by_obs: dict[float, float] = {}
    for obs, stamp in rec["arm"]:
        arm_by_obs.setdefault(obs, stamp)
    sent_by_obs: dict[float, float] = {}
    for obs, stamp in rec["sent"]:
        sent_by_obs.setdefault(obs, stamp)
    twist = np.array(sorted(rec["twist"]))
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    for obs, published, compute in rec["chunk"][warmup:]:
        arm, sent = arm_by_obs.get(obs), sent_by_obs.get(obs)
        if sent is None or (rec["arm"] and arm is None):
            continue
        i = np.searchsorted(twist, sent)
        if i < len(twist):
            for stage, t in zip(STAGES, (published, arm, sent, twist[i])):
                if t is not None:
                    stages[stage].append((t - obs - compute) * 1e3)
    return stages


def run_layout(layout: str, seconds: float, width: int, height: int, log_root: Path, with_stages: bool) -> dict:
    from graph_helpers import PeerRunner, wait_for

    from robovla.cli.bringup import start_graph, stop_graph
    from robovla.graph import resolve_graph

    specs = resolve_graph(sim=False, overrides={"vla_inference.policy": "scripted:forward"})
    for spec in specs:
        if layout == "separate":
            spec.process = ""
        elif layout == "single" and spec.name in PIPELINE:
            spec.process = "pipeline"
    log_dir = log_root / layout
    log_dir.mkdir(parents=True)
    env = {"ROBOVLA_INTRA_PROCESS": "0" if layout == "composed-dds" else "1"}
    rec_file = log_dir / "listener.json"
    listener = subprocess.Popen([sys.executable, __file__, "--listen", str(rec_file)] + ["--stages"] * with_stages,
                                start_new_session=True)
    # the peer records nothing: the listener process does, so the peer's Python work stays off the path
    with PeerRunner(width=width, height=height, record=()) as peer:
        procs = start_graph(specs, env=dict(os.environ, RCUTILS_LOGGING_BUFFERED_STREAM="0", **env), log_dir=log_dir)
        try:
            client = ActionClient(peer, ExecuteInstruction, topics.EXECUTE_INSTRUCTION)
            assert client.wait_for_server(timeout_sec=60), f"graph did not come up; logs in {log_dir}"
            if not wait_for(rec_file.with_suffix(".ready").exists, 60):
                raise SystemExit(f"the listener never matched the graph's publishers; logs in {log_dir}")
            done = threading.Event()
            fut = client.send_goal_async(ExecuteInstruction.Goal(instruction="benchmark", timeout_s=seconds + 65))
            fut.add_done_callback(lambda _f: done.set())
            if not done.wait(10) or not fut.result().accepted:
                raise SystemExit(f"the benchmark goal was not accepted; node logs in {log_dir}")
            if not wait_for(rec_file.with_suffix(".moving").exists, 60):
                raise SystemExit(f"the arm never moved; node logs in {log_dir}")
            if wait_for(lambda: listener.poll() is not None, seconds):
                raise SystemExit(f"the listener process exited early ({listener.returncode})")
        finally:
            listener.send_signal(2)
            listener.wait(10)
            stop_graph(procs)
    stages = latencies(json.loads(rec_file.read_text()))
    lat, received = np.array(stages["twist published"]), np.array(stages["twist received"])
    if lat.size == 0:
        raise SystemExit(f"{layout}: no chunk reached the arm; logs in {log_dir}")
    processes = sorted({s.process or s.name for s in specs})
    return {
        "processes": processes, "samples": int(lat.size), "env": env,
        "median_ms": float(np.median(lat)), "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max()),
        "received_median_ms": float(np.median(received)), "received_p99_ms": float(np.percentile(received, 99)),
        "stages_median_ms": {k: float(np.median(v)) for k, v in stages.items() if v},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="measured time per layout")
    ap.add_argument("--layouts", default=",".join(LAYOUTS))
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "graph_latency"))
    ap.add_argument("--stages", action="store_true",
                    help="also time the arm command (the listener subscribes to it: one more DDS delivery on the path)")
    ap.add_argument("--listen", help=argparse.SUPPRESS)  # internal: run as the listener process
    args = ap.parse_args()
    if args.listen:
        return listen(Path(args.listen), args.stages)
    layouts = args.layouts.split(",")
    unknown = sorted(set(layouts) - set(LAYOUTS))
    if unknown:
        ap.error(f"unknown layouts {unknown}; choose from {list(LAYOUTS)}")
    log_root = Path(tempfile.mkdtemp(prefix="bench-graph-"))
    results = {name: run_layout(name, args.seconds, args.width, args.height, log_root, args.stages)
               for name in layouts}
    result = {
        "benchmark": "graph overhead: camera stamp -> Twist published, policy compute excluded",
        "cameras": 2, "camera_hz": 30, "image": f"{args.width}x{args.height} rgb8 -> 224x224",
        "seconds_per_layout": args.seconds, "stages": args.stages, "executor": os.environ.get("ROBOVLA_EXECUTOR", "events"),
        "layouts": results, "goal": {"median_ms": 3.0, "p99_ms": 10.0},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    if "separate" in results:
        result["median_ratio_vs_separate"] = {k: v["median_ms"] / results["separate"]["median_ms"]
                                              for k, v in results.items()}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    stage_names = list(STAGES[:2] if args.stages else STAGES[:1])
    table = ("| layout | processes | samples | median (ms) | p99 (ms) | max (ms) | received: median / p99 (ms) | "
             + " | ".join(f"median to {s} (ms)" for s in stage_names) + " |\n"
             + "|---" * (7 + len(stage_names)) + "|\n")
    for name, r in results.items():
        table += (f"| {name} | {len(r['processes'])} | {r['samples']} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} | "
                  f"{r['max_ms']:.2f} | {r['received_median_ms']:.2f} / {r['received_p99_ms']:.2f} | "
                  + " | ".join(f"{r['stages_median_ms'][s]:.2f}" for s in stage_names) + " |\n")
    table += "| goal | | | <= 3 | <= 10 |" + " |" * (2 + len(stage_names)) + "\n"
    out.with_suffix(".md").write_text(
        f"# {result['benchmark']}\n\n{result['image']}, 2 cameras @ 30 Hz, {os.cpu_count()} CPUs, "
        f"{args.seconds:.0f} s per layout, executor {result['executor']}\n\n{table}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
