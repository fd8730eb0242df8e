"""`robovla collect`: scripted-expert demonstrations in the sim, one rosbag2 episode each.

    robovla collect --episodes 100 --out demos/

Each episode resets the sim to a seeded scene (tasks rotate), starts a RecordEpisode goal on the
recorder node, sends the instruction as an ExecuteInstruction goal that the expert carries out
through kinova_control and the ros2_kortex interfaces, and finishes the recording when the goal
ends. The episode's success flag comes from the sim's task checker (a timed-out episode is kept,
flagged unsuccessful). The sim runs in real time so the bags have the rates of a real arm.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(sub, help_text: str) -> None:
    p = sub.add_parser("collect", help=help_text, description=__doc__.splitlines()[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[1:]))
    p.add_argument("--episodes", type=int, required=True, help="episodes to record; tasks rotate over them")
    p.add_argument("--out", required=True, help="directory for the episode bags")
    p.add_argument("--tasks", default="", help="comma-separated tasks (default: all)")
    p.add_argument("--seed", type=int, default=0, help="first scene seed")
    p.add_argument("--noise", type=float, default=0.0, help="expert velocity noise (m/s std) for diverse demos")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds per episode")
    p.add_argument("--cameras", default="front,wrist", help="comma-separated cameras to record")
    p.add_argument("--logs", default=None, help="directory for the node logs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from robovla.cli.session import EXPERT_NODES, SimSession
    from robovla.sim.benchmark import plan_episodes

    try:
        plans = plan_episodes(args.episodes, [t for t in args.tasks.split(",") if t] or None, args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    cameras = [c for c in args.cameras.split(",") if c]
    overrides = {"sim.expert": True, "sim.expert_noise": args.noise, "sim.speed": 1.0, "sim.split": "train",
                 "sim.task": plans[0].first_task, "sim.seed": plans[0].seed, "task_manager.success_source": "topic",
                 "recorder.output_dir": str(out), "recorder.cameras": cameras, "recorder.default_success": False}
    ok = 0
    with SimSession(overrides, nodes=(*EXPERT_NODES, "recorder"), log_dir=args.logs, recorder=True) as client:
        bar = tqdm(plans, desc="collect", unit="ep", file=sys.stderr)
        for plan in bar:
            reset = client.reset(plan.first_task, plan.seed)
            if not reset.success:
                raise RuntimeError(f"sim reset failed for {plan.first_task} seed {plan.seed}: {reset.message}")
            episode_id = f"{plan.first_task}_{plan.seed:05d}"
            handle = client.start_recording(reset.instruction, episode_id, notes=f"scripted expert, noise {args.noise}")
            time.sleep(0.3)  # a few frames of the scene at rest before the goal starts
            outcome = client.execute(reset.instruction, args.timeout)
            time.sleep(0.2)
            result = client.stop_recording(handle)
            if not result.success:
                raise RuntimeError(f"recording {episode_id} failed: {result.message}")
            ok += outcome.success
            bar.set_postfix(success=f"{ok}/{plan.index + 1}")
    print(f"{ok}/{len(plans)} successful demonstrations recorded in {out}")
    return 0
