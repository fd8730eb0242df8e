"""`robovla eval`: closed-loop, CALVIN-style evaluation through the real graph in the MuJoCo sim.

    robovla eval --policy scripted --episodes 20 --out eval.json
    robovla eval --policy runs/demo/checkpoint --episodes 50 --chain 5 --out eval.json

The graph runs headless and seeded: each episode resets the sim to a scene (tasks rotate, one
seed per episode, held-out phrasings by default) and sends its instruction as an
ExecuteInstruction goal; with --chain N the next tasks follow on the same scene until one fails.
`scripted` (or `expert`) evaluates the scripted expert, the reference policy: it drives the arm
from the sim's privileged state through kinova_control and the ros2_kortex interfaces; it may run
faster than real time (--speed). A checkpoint runs the full graph (camera sync, history, VLA
inference, smoothing, control) in real time.

Writes FILE.json (success_rate, per_task, chain_success for 1..N in a row, avg_len, 95 % CIs, every
attempt), FILE.md (a table), FILE_chain.png (success vs tasks in a row) and FILE_ep<i>.gif for the
first --gif episodes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EXPERT_POLICIES = ("scripted", "expert")


def register(sub, help_text: str) -> None:
    p = sub.add_parser("eval", help=help_text, description=__doc__.splitlines()[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[1:]))
    p.add_argument("--policy", required=True, help="'scripted' (the scripted expert) or a VLA checkpoint dir")
    p.add_argument("--episodes", type=int, default=20, help="episodes (chains); tasks rotate over them")
    p.add_argument("--out", required=True, help="results JSON (FILE.md, FILE_chain.png, FILE_ep*.gif beside it)")
    p.add_argument("--chain", type=int, default=1, help="tasks in a row per episode (CALVIN uses 5)")
    p.add_argument("--tasks", default="", help="comma-separated tasks: first tasks and chain continuations (default: all)")
    p.add_argument("--seed", type=int, default=None, help="first scene seed (default: the held-out range)")
    p.add_argument("--split", default="eval", choices=["train", "eval", "all"], help="instruction phrasings")
    p.add_argument("--timeout", type=float, default=15.0, help="sim seconds per task")
    p.add_argument("--speed", type=float, default=None,
                   help="sim speed vs wall clock (default: 3 for the expert, 1 for a checkpoint)")
    p.add_argument("--gif", type=int, default=2, help="episodes saved as GIFs (front camera)")
    p.add_argument("--device", default="cpu", help="policy device for a checkpoint (cpu, cuda)")
    p.add_argument("--logs", default=None, help="directory for the node logs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from robovla.cli.session import EXPERT_NODES, SimSession
    from robovla.sim.benchmark import (EVAL_SEED_OFFSET, EpisodeRecord, TaskAttempt, plan_episodes, plot_chain,
                                       summarize, summary_table, write_gif, write_summary)

    if args.chain < 1:
        print("error: --chain must be >= 1", file=sys.stderr)
        return 2
    expert = args.policy in EXPERT_POLICIES
    if not expert and not Path(args.policy).is_dir():
        print(f"error: --policy {args.policy!r} is neither 'scripted' nor a checkpoint directory", file=sys.stderr)
        return 2
    speed = args.speed if args.speed is not None else (3.0 if expert else 1.0)
    if speed <= 0:
        print("error: --speed must be positive", file=sys.stderr)
        return 2
    tasks = [t for t in args.tasks.split(",") if t]
    try:
        plans = plan_episodes(args.episodes, tasks or None, EVAL_SEED_OFFSET if args.seed is None else args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    overrides = {"sim.expert": expert, "sim.speed": speed, "sim.split": args.split, "sim.task": plans[0].first_task,
                 "sim.seed": plans[0].seed, "sim.chain_tasks": tasks}
    if expert and args.gif == 0:
        overrides["sim.camera_hz"] = 1.0  # the expert needs no images: rendering would cap the speed
    arguments = {} if expert else {"checkpoint": str(Path(args.policy).resolve())}
    if not expert:
        overrides["vla_inference.device"] = args.device
    records: list[EpisodeRecord] = []
    t_start = time.monotonic()
    session = SimSession(overrides, nodes=EXPERT_NODES if expert else None, arguments=arguments,
                         log_dir=args.logs, camera="front" if args.gif > 0 else None)
    gif_fps = float(session.param("sim", "camera_hz"))  # frames per sim second: real-time playback
    with session as client:
        bar = tqdm(plans, desc=f"eval {Path(args.policy).name}", unit="ep", file=sys.stderr)
        for plan in bar:
            record = EpisodeRecord(plan.index, plan.seed)
            client.capture(plan.index < args.gif)
            for link in range(args.chain):
                reset = (client.reset(plan.first_task, plan.seed) if link == 0
                         else client.reset("", plan.seed * 10 + link, keep_scene=True))
                if not reset.success:
                    if link == 0:
                        raise RuntimeError(f"sim reset failed for episode {plan.index}: {reset.message}")
                    record.attempts.append(TaskAttempt("none", "", False, 0, 0.0, reset.message))
                    break
                outcome = client.execute(reset.instruction, args.timeout / speed)
                record.attempts.append(TaskAttempt(reset.task, reset.instruction, outcome.success, outcome.steps,
                                                   outcome.duration_s * speed, outcome.message))
                if not outcome.success:
                    break
            if plan.index < args.gif:
                frames = client.take_frames()
                client.capture(False)
                if frames:
                    write_gif(frames, out.with_name(f"{out.stem}_ep{plan.index}.gif"), fps=gif_fps)
            records.append(record)
            done = sum(r.attempts[0].success for r in records)
            bar.set_postfix(success=f"{done}/{len(records)}", avg_len=f"{sum(r.completed for r in records) / len(records):.2f}")
    summary = summarize(records, args.chain, policy=args.policy, split=args.split, speed=speed,
                        timeout_s=args.timeout, wall_s=time.monotonic() - t_start)
    write_summary(summary, out)
    table = summary_table(summary)
    out.with_suffix(".md").write_text(f"# robovla eval --policy {args.policy}\n\n{table}\n")
    plot_chain({Path(args.policy).name: summary}, out.with_name(f"{out.stem}_chain.png"),
               title=f"{args.episodes} episodes, split {args.split}")
    print(table)
    print(f"success_rate {summary['success_rate']:.3f} over {len(summary['per_task'])} tasks -> {out}")
    return 0
