"""`robovla goal "pick up the red block"`: send a language goal and follow it to the end.

In the sim the goal is judged by the task its instruction names, whatever task the sim was on; an
instruction the sim has no task for runs with no success checker (feedback state `no_checker`),
and the timeout or an operator decides. --task names the task that judges it whatever the wording
(e.g. `robovla goal "flip the switch" --task turn_on_light`)."""

from __future__ import annotations

import argparse
import sys


def register(sub, help_text: str) -> None:
    p = sub.add_parser("goal", help=help_text, description=__doc__)
    p.add_argument("instruction", help="the language instruction")
    p.add_argument("--timeout", type=float, default=0.0,
                   help="seconds on the graph's clock, sim seconds in the sim (0 = the task manager's default)")
    p.add_argument("--task", default="",
                   help="the task that judges the goal in the sim (e.g. turn_on_light), whatever the wording")
    p.add_argument("--namespace", default="", help="ROS namespace of the graph")
    p.add_argument("--wait-server", type=float, default=30.0, help="seconds to wait for the action server")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from robovla.nodes.common.goal_client import send_goal

    def show(step: int, elapsed: float, state: str) -> None:
        print(f"[{elapsed:6.1f} s] {state:<10} step {step}", flush=True)

    outcome = send_goal(args.instruction, args.timeout, show, args.wait_server, args.namespace, task=args.task)
    if not outcome.accepted:
        print(f"error: {outcome.message}", file=sys.stderr)
        return 1
    verdict = "SUCCESS" if outcome.success else "FAILURE"
    print(f"{verdict}: {outcome.message} ({outcome.steps} steps, {outcome.duration_s:.1f} s)")
    return 0 if outcome.success else 1
