"""The price of one rclpy message hop: the floor under bench_graph's camera -> Twist latency.

One publisher, one subscriber; latency = receipt - header stamp, one-way. Measured for both
executors (rclpy's SingleThreadedExecutor and the EventsExecutor the nodes use), for a small
message (an ActionChunk, 10 x 7) and a large one (an Observation with two 224x224 RGB images),
with the two nodes in one process (robovla.nodes.container) and in two processes, and in one
process through the in-process hand-over the graph's nodes use (robovla.nodes.common.intra_process).

    python bench/bench_hops.py [--seconds 4]
Writes bench/results/hop_latency.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))

import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from robovla.msg import ActionChunk, Observation  # noqa: E402
from robovla.nodes.common import qos  # noqa: E402
from robovla.nodes.common.intra_process import IntraProcessPublisher, subscribe  # noqa: E402
from robovla.nodes.common.runner import stream_executor  # noqa: E402

RATE_HZ = 100.0
WARMUP_S = 1.5


def make_message(kind: str):
    if kind == "chunk":
        msg = ActionChunk()
        msg.horizon, msg.action_dim, msg.values = 10, 7, [0.0] * 70
        return msg
    msg = Observation()
    image = Image(height=224, width=224, encoding="rgb8", step=224 * 3, data=bytes(224 * 224 * 3))
    msg.images = [image, Image(height=224, width=224, encoding="rgb8", step=224 * 3, data=bytes(224 * 224 * 3))]
    return msg


def stamp_now(msg) -> None:
    t = time.time()
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(t), int((t % 1) * 1e9)


def spin_for(executor, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)


def run(role: str, executor_name: str, kind: str, seconds: float, out: Path | None = None,
        handover: bool = False) -> list[float]:
    """role: 'both' (one process), 'pub' or 'sub' (the two halves of a cross-process hop);
    handover: through robovla.nodes.common.intra_process instead of plain rclpy (role 'both')."""
    os.environ["ROBOVLA_INTRA_PROCESS"] = "1" if handover else "0"
    msg_type = ActionChunk if kind == "chunk" else Observation
    rclpy.init()
    context = rclpy.get_default_context()
    os.environ["ROBOVLA_EXECUTOR"] = executor_name
    executor = stream_executor(context)  # what the graph's nodes spin on
    if executor_name == "events" and isinstance(executor, SingleThreadedExecutor):
        raise SystemExit("this rclpy has no EventsExecutor")
    lat: list[float] = []
    nodes = []
    if role in ("both", "sub"):
        sub = Node("hop_sub")
        subscribe(sub, msg_type, "hop", lambda m: lat.append(
            time.time() - (m.header.stamp.sec + m.header.stamp.nanosec * 1e-9)), qos.COMMAND)
        nodes.append(sub)
    if role in ("both", "pub"):
        pub_node = Node("hop_pub")
        pub = IntraProcessPublisher(pub_node, msg_type, "hop", qos.COMMAND)
        msg = make_message(kind)
        pub_node.create_timer(1.0 / RATE_HZ, lambda: (stamp_now(msg), pub.publish(msg)))
        nodes.append(pub_node)
    for n in nodes:
        executor.add_node(n)
    spin_for(executor, seconds + (0 if role == "pub" else WARMUP_S))
    for n in nodes:
        n.destroy_node()
    rclpy.try_shutdown()
    skip = int(WARMUP_S * RATE_HZ) if role == "sub" else int(0.5 * RATE_HZ)
    lat = lat[skip:]
    if out is not None:
        out.write_text(json.dumps(lat))
    return lat


def measure(executor_name: str, kind: str, where: str, seconds: float) -> list[float]:
    if where in ("in-process", "in-process hand-over"):
        return run("both", executor_name, kind, seconds, handover=where == "in-process hand-over")
    out = Path(f"/tmp/robovla-hop-{os.getpid()}.json")
    sub = subprocess.Popen([sys.executable, __file__, "--role", "sub", "--executor", executor_name, "--kind", kind,
                            "--seconds", str(seconds), "--out", str(out)])
    time.sleep(WARMUP_S / 2)
    pub = subprocess.Popen([sys.executable, __file__, "--role", "pub", "--executor", executor_name, "--kind", kind,
                            "--seconds", str(seconds + WARMUP_S)])
    sub.wait(seconds + 60)
    pub.wait(60)
    lat = json.loads(out.read_text())
    out.unlink()
    return lat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "hop_latency"))
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("--executor", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role:
        run(args.role, args.executor, args.kind, args.seconds, Path(args.out) if args.role == "sub" else None)
        return 0
    rows = []
    for where in ("in-process", "in-process hand-over", "cross-process"):
        for kind in ("chunk", "observation"):
            for executor_name in ("single", "events"):
                ms = np.array(measure(executor_name, kind, where, args.seconds)) * 1e3
                rows.append({"where": where, "message": kind, "executor": executor_name, "samples": int(ms.size),
                             "median_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99))})
                print(rows[-1], flush=True)
    result = {"benchmark": "one rclpy message hop (publish -> subscriber callback), one-way",
              "rate_hz": RATE_HZ, "seconds": args.seconds, "rows": rows,
              "messages": {"chunk": "robovla/ActionChunk 10x7", "observation": "robovla/Observation, 2 x 224x224 rgb8"},
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    table = "| where | message | executor | samples | median (ms) | p99 (ms) |\n|---|---|---|---|---|---|\n" + "".join(
        f"| {r['where']} | {r['message']} | {r['executor']} | {r['samples']} | {r['median_ms']:.3f} | {r['p99_ms']:.3f} |\n"
        for r in rows)
    out.with_suffix(".md").write_text(f"# {result['benchmark']}\n\n{os.cpu_count()} CPUs, {RATE_HZ:.0f} Hz, "
                                      f"{args.seconds:.0f} s each\n\n{table}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
