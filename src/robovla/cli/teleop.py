"""`robovla teleop`: drive the arm from the terminal keyboard (or a gamepad via sensor_msgs/Joy)
and record each demonstration as an episode bag, with the layout `robovla collect` writes.

    robovla teleop --sim --out demos/                  # a sim graph of its own, tasks rotate
    robovla teleop --instruction "put the block in the bowl" --joy   # a running robot graph

On a robot, start the graph without the policy first: `robovla bringup --robot --teleop` (task
manager, kinova_control, safety monitor, recorder). Commands go through kinova_control and its
safety rules like the policy's. Keys (h shows them): w/s a/d r/f move, u/o i/k j/l rotate, g
gripper, +/- speed, space stop, p pause, Enter start an episode, y keep as success, n keep as
failure, x discard and re-record, q quit. Without a terminal (a pipe), keys are read from stdin.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub, help_text: str) -> None:
    p = sub.add_parser("teleop", help=help_text, description=__doc__.splitlines()[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[1:]))
    p.add_argument("--sim", action="store_true", help="start a sim graph (and recorder) of its own")
    p.add_argument("--instruction", default="", help="the task being demonstrated (the sim: default its task's)")
    p.add_argument("--task", default="", help="the sim: task(s) to demonstrate, comma-separated, rotating "
                                              "(default: all); a robot: the goal's task label")
    p.add_argument("--seed", type=int, default=0, help="the sim: first scene seed")
    p.add_argument("--out", default="~/robovla_demos", help="with --sim: directory for the episode bags")
    p.add_argument("--cameras", default="front,wrist", help="with --sim: cameras to record")
    p.add_argument("--speed", type=float, default=0.5, help="speed scale in (0, 1] of the maximum speeds")
    p.add_argument("--max-linear-speed", type=float, default=0.10, help="m/s at scale 1")
    p.add_argument("--max-angular-speed", type=float, default=0.6, help="rad/s at scale 1")
    p.add_argument("--joy", nargs="?", const="joy", default="", metavar="TOPIC",
                   help="also read sensor_msgs/Joy (default topic: joy, as joy_node publishes)")
    p.add_argument("--joy-preset", choices=("gamepad", "spacemouse"), default="gamepad",
                   help="Joy mapping: an Xbox-layout pad (hold LB to move) or spacenav's /spacenav/joy")
    p.add_argument("--notes", default="", help="operator notes stored with every episode")
    p.add_argument("--logs", default=None, help="with --sim: directory for the node logs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from robovla.teleop.controls import TeleopConfig
    from robovla.teleop.joy import JoyMapping
    from robovla.teleop.keyboard import HELP, terminal_keys

    try:
        config = TeleopConfig(max_linear_speed=args.max_linear_speed, max_angular_speed=args.max_angular_speed,
                              speed_scale=args.speed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mapping = JoyMapping.spacemouse() if args.joy_preset == "spacemouse" else JoyMapping()
    tasks = [t for t in args.task.split(",") if t]
    if args.sim:
        from robovla.sim.tasks import TASKS

        unknown = [t for t in tasks if t not in TASKS]
        if unknown:
            print(f"error: unknown task(s) {unknown}; choose from {sorted(TASKS)}", file=sys.stderr)
            return 2
    elif not args.instruction:
        print("error: --instruction is required on a robot graph (the sim phrases its own tasks)", file=sys.stderr)
        return 2

    def say(line: str) -> None:
        print(line, flush=True)

    session = None
    if args.sim:
        from robovla.cli.session import SimSession

        out = Path(args.out).expanduser().resolve()
        out.mkdir(parents=True, exist_ok=True)
        cameras = [c for c in args.cameras.split(",") if c]
        overrides = {"sim.expert": False, "sim.speed": 1.0, "sim.task": (tasks or ["lift_block"])[0],
                     "sim.seed": args.seed, "recorder.output_dir": str(out), "recorder.cameras": cameras,
                     "recorder.default_success": False}
        session = SimSession(overrides, log_dir=args.logs, teleop=True)
        say(f"starting a sim graph ({', '.join(s.name for s in session.specs)}); episodes go to {out}")
        session.__enter__()
    from robovla.nodes.teleop import Teleop

    teleop = None
    try:
        teleop = Teleop(config, args.instruction, task="" if args.sim else args.task,
                        sim_tasks=(tasks or []) if args.sim else None, seed=args.seed,
                        joy_topic=args.joy, joy_mapping=mapping, say=say, use_sim_time=True if args.sim else None,
                        notes=args.notes)
        say(HELP)
        say("Enter: start an episode")
        with terminal_keys() as read:
            while not teleop.done.is_set():
                data = read(0.05)
                if data:
                    teleop.on_keys(data)
        say(teleop.summary())
        return 0
    finally:
        if teleop is not None:
            teleop.close()
        if session is not None:
            session.__exit__(None, None, None)
