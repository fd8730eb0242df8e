"""`make demo`: the embedded default end to end — MuJoCo Gen3 sim + the full node graph, one
language goal through the ExecuteInstruction action, feedback streamed, result printed.

Until a trained checkpoint ships (see docs/), the graph runs the ScriptedPolicy placeholder
(`--checkpoint` takes a VLA checkpoint dir); the demo then shows the plumbing, not a skill, and
says so. Exit code 0 when the goal ran to an end the graph reported (success or timeout).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from robovla.cli.bringup import start_graph, stop_graph
from robovla.graph import resolve_graph

log = logging.getLogger("robovla.demo")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="scripted:forward", help="VLA checkpoint dir or scripted[:pattern]")
    ap.add_argument("--instruction", default="lift the red block")
    ap.add_argument("--timeout", type=float, default=8.0)
    ap.add_argument("--logs", default=None, help="directory for the node logs")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))
    log_dir = Path(args.logs or tempfile.mkdtemp(prefix="robovla-demo-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    specs = resolve_graph(sim=True, arguments={"checkpoint": args.checkpoint})
    if args.checkpoint.startswith("scripted"):
        print(f"note: policy is the ScriptedPolicy placeholder ({args.checkpoint}), not a trained VLA")
    procs = start_graph(specs, log_dir=log_dir)
    print(f"graph: {', '.join(s.name for s in specs)} (logs in {log_dir})")
    try:
        from robovla.nodes.common.goal_client import send_goal

        def show(step: int, elapsed: float, state: str) -> None:
            print(f"[{elapsed:5.1f} s] {state:<10} step {step}", flush=True)

        t0 = time.monotonic()
        outcome = send_goal(args.instruction, args.timeout, show, server_wait_s=90.0)
        dead = [s.name for s, p in procs if p.poll() is not None]
        if dead:
            print(f"error: nodes died: {dead}; see {log_dir}", file=sys.stderr)
            return 1
        if not outcome.accepted:
            print(f"error: {outcome.message}", file=sys.stderr)
            return 1
        print(f"{'SUCCESS' if outcome.success else 'FAILURE'}: {args.instruction!r}: {outcome.message} "
              f"({outcome.steps} action chunks, {time.monotonic() - t0:.1f} s)")
        return 0 if outcome.steps > 0 else 1
    finally:
        stop_graph(procs)


if __name__ == "__main__":
    sys.exit(main())
