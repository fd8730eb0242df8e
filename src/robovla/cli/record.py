"""`robovla record`: record a demonstration through the recorder node, or salvage crashed recordings."""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any, help_text: str) -> None:
    p = subparsers.add_parser(
        "record", help=help_text, description=(
            "Record one demonstration episode (rosbag2 MCAP) through a running recorder node "
            "(`ros2 launch robovla record.launch.py` or `robovla record --serve`). Ctrl-C (or --duration) "
            "ends the episode; it is written atomically. --recover ROOT salvages interrupted recordings."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--instruction", help="the task being demonstrated")
    p.add_argument("--episode-id", default="", help="default: generated from the time")
    p.add_argument("--duration", type=float, default=0.0, help="seconds (0: until Ctrl-C)")
    p.add_argument("--notes", default="", help="operator notes stored with the episode")
    p.add_argument("--wait-server", type=float, default=15.0, help="seconds to wait for the recorder node")
    p.add_argument("--serve", action="store_true", help="run the recorder node in this process instead")
    p.add_argument("--out", default="~/robovla_demos", help="with --serve: recording root")
    p.add_argument("--cameras", default="front", help="with --serve: comma-separated camera names")
    p.add_argument("--recover", metavar="ROOT", help="salvage ROOT/_incomplete/* into marked bags (no ROS needed)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.recover:
        from robovla.data.episode_writer import recover_incomplete

        done = recover_incomplete(args.recover)
        for path in done:
            print(f"recovered {path} (marked incomplete)")
        if not done:
            print(f"nothing to recover under {args.recover}")
        return 0
    if args.serve:
        from robovla.nodes.recorder import main

        cams = ",".join(c for c in args.cameras.split(",") if c)
        return main_with_params(main, {"output_dir": args.out, "cameras": f"[{cams}]"})
    if not args.instruction:
        log.error("--instruction is required to record (or use --serve / --recover)")
        return 2
    return _record_once(args)


def main_with_params(main: Any, params: dict[str, str]) -> int:
    import sys

    sys.argv = [sys.argv[0], "--ros-args"] + [a for k, v in params.items() for a in ("-p", f"{k}:={v}")]
    return int(main() or 0)


def _record_once(args: argparse.Namespace) -> int:
    import signal
    import threading

    from robovla.nodes.common.record_client import record_episode

    def show(fb) -> None:
        print(f"\rrecording {fb.elapsed_s:6.1f} s  {fb.frames} frames  {fb.message_count} messages", end="", flush=True)

    stop = threading.Event()  # Ctrl-C / SIGTERM finish the episode (kept), as a cancel does
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        outcome = record_episode(args.instruction, args.episode_id, float(args.duration), args.notes, stop, show,
                                 server_wait_s=args.wait_server)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print()
    if outcome.success:
        print(outcome.message + (f" -> {outcome.bag_path}" if outcome.bag_path else ""))
        return 0
    log.error("%s", outcome.message)
    return 1
