"""Graph overhead: camera stamp -> Twist on twist_controller/commands, policy compute excluded.

The six graph nodes run as separate processes (as deployed) with the ScriptedPolicy placeholder;
a ros2_kortex stand-in publishes 2 cameras at 30 Hz and 100 Hz joint states and records what
reaches the driver's topic. For every action chunk, latency = (receipt time of the first Twist
sent for it) - (stamp of the camera frame it answers) - (the policy's own compute time).
Receipt is measured in the peer, so the last DDS hop is included (an upper bound).

    python bench/bench_graph.py [--seconds 30] [--width 320 --height 240]
Writes bench/results/graph_latency.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "graph"))  # the ros2_kortex stand-in used by the graph tests
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))

from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402

from graph_helpers import PeerRunner, wait_for  # noqa: E402
from robovla.action import ExecuteInstruction  # noqa: E402
from robovla.cli.bringup import start_graph, stop_graph  # noqa: E402
from robovla.graph import resolve_graph  # noqa: E402
from robovla.nodes.common import topics  # noqa: E402
from robovla.nodes.common.convert import to_sec  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "graph_latency"))
    args = ap.parse_args()

    specs = resolve_graph(sim=False, overrides={"vla_inference.policy": "scripted:forward"})  # no sim node
    log_dir = Path(tempfile.mkdtemp(prefix="bench-graph-"))
    # the peer subscribes only to small messages, as a driver would: no observation/window copies
    with PeerRunner(width=args.width, height=args.height, record=("chunk", "arm_command")) as peer:
        # receipt times on the ROS clock, the one camera stamps use
        twist_times: list[float] = []
        peer.create_subscription(
            Twist,
            topics.TWIST_COMMANDS, lambda m: twist_times.append(peer.get_clock().now().nanoseconds * 1e-9), 10)
        procs = start_graph(specs, log_dir=log_dir)
        try:
            client = ActionClient(peer, ExecuteInstruction, topics.EXECUTE_INSTRUCTION)
            assert client.wait_for_server(timeout_sec=60), "graph did not come up"
            done = threading.Event()
            fut = client.send_goal_async(ExecuteInstruction.Goal(instruction="benchmark", timeout_s=args.seconds + 2))
            fut.add_done_callback(lambda _f: done.set())
            if not done.wait(10) or not fut.result().accepted:
                raise SystemExit(f"the benchmark goal was not accepted; node logs in {log_dir}")
            if not wait_for(lambda: peer.take("chunk"), 10):
                raise SystemExit(f"no action chunk within 10 s of the goal; node logs in {log_dir}")
            time.sleep(args.seconds)
            chunks = [m for _, m in peer.take("chunk")]
            commands = [(t, m) for t, m in peer.take("arm_command")]
        finally:
            stop_graph(procs)
    arm_by_obs: dict[float, float] = {}
    # ArmCommand receipt (monotonic) is not on the ROS clock; use the command's own header stamp
    for _, m in commands:
        arm_by_obs.setdefault(to_sec(m.observation_stamp), to_sec(m.header.stamp))
    twist_arr = np.array(sorted(twist_times))
    stages: dict[str, list[float]] = {"chunk published": [], "arm command published": [], "twist received": []}
    for c in chunks[5:]:  # skip warm-up
        obs = to_sec(c.observation_stamp)
        sent = arm_by_obs.get(obs)
        if sent is None:
            continue
        i = np.searchsorted(twist_arr, sent)
        if i < len(twist_arr):
            compute = c.latency_s
            stages["chunk published"].append(to_sec(c.header.stamp) - obs - compute)
            stages["arm command published"].append(sent - obs - compute)
            stages["twist received"].append(twist_arr[i] - obs - compute)
    lat_ms = np.array(stages["twist received"]) * 1e3
    result = {
        "benchmark": "graph overhead: camera stamp -> Twist receipt, policy compute excluded",
        "cameras": 2, "camera_hz": 30, "image": f"{args.width}x{args.height} rgb8 -> 224x224",
        "seconds": args.seconds, "samples": int(lat_ms.size),
        "median_ms": float(np.median(lat_ms)) if lat_ms.size else None,
        "p99_ms": float(np.percentile(lat_ms, 99)) if lat_ms.size else None,
        "mean_ms": float(lat_ms.mean()) if lat_ms.size else None,
        "max_ms": float(lat_ms.max()) if lat_ms.size else None,
        "stages_median_ms": {k: float(np.median(v) * 1e3) for k, v in stages.items() if v},
        "goal": {"median_ms": 3.0, "p99_ms": 10.0},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    table = (
        "| metric | value | goal |\n|---|---|---|\n"
        f"| samples | {result['samples']} | |\n"
        f"| median (ms) | {result['median_ms']:.2f} | <= 3 |\n"
        f"| p99 (ms) | {result['p99_ms']:.2f} | <= 10 |\n"
        f"| max (ms) | {result['max_ms']:.2f} | |\n"
        + "".join(f"| median to {k} (ms) | {v:.2f} | |\n" for k, v in result["stages_median_ms"].items())
    )
    out.with_suffix(".md").write_text(f"# {result['benchmark']}\n\n{result['image']}, 2 cameras @ 30 Hz, "
                                      f"{os.cpu_count()} CPUs\n\n{table}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
