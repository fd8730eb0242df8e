"""`robovla` command line: one subcommand per module in robovla.cli.

Each subcommand module defines ``register(subparsers) -> None`` which adds its parser and
sets ``func`` (a callable taking the parsed args and returning an exit code). Modules are
imported lazily so `robovla --help` stays fast and a subcommand's heavy deps (torch,
mujoco, rclpy) load only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

#: (subcommand module, one-line help). Order is the order shown in --help.
SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("bringup", "start the node graph (sim or real robot) without ros2 launch"),
    ("goal", "send a language goal through the ExecuteInstruction action"),
    ("record", "record demonstrations to rosbag2 episodes"),
    ("teleop", "drive the arm from the keyboard or a gamepad and record demonstrations"),
    ("replay", "publish a recorded episode back into the graph"),
    ("collect", "collect scripted-expert demonstrations in the sim"),
    ("dataset", "inspect, validate, export and import LeRobot v3 datasets"),
    ("train", "train or post-train a VLA on recorded episodes"),
    ("eval", "closed-loop evaluation in the sim (CALVIN-style)"),
    ("doctor", "check the install (--models) or a running graph (--graph)"),
    ("status", "live status of a running graph from /diagnostics"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="robovla", description="RoboVLA: VLA policies on ROS 2 arms.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"robovla.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"robovla.cli.{name}":
                raise
            continue  # subcommand not part of this install
        module.register(sub, help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what a command re-runs in worker processes
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
