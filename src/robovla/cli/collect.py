"""`robovla collect`: scripted-expert demonstrations in the sim, one rosbag2 episode each.

    robovla collect --episodes 100 --out demos/

Each episode resets the sim to a seeded scene (tasks rotate), starts a RecordEpisode goal on the
recorder node, sends the instruction as an ExecuteInstruction goal that the expert carries out
through kinova_control and the ros2_kortex interfaces, and finishes the recording when the goal
ends. The episode's success flag comes from the sim's task checker (a timed-out episode is kept,
flagged unsuccessful). The sim runs in real time so the bags have the rates of a real arm.

With --offline no graph starts: the same simulator and expert run in-process, faster than real
time, and write the same bag layout stamped with simulation time (robovla.sim.recording); this
is how `make train-demo` collects its demonstrations.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub, help_text: str) -> None:
    p = sub.add_parser("collect", help=help_text, description=__doc__.splitlines()[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[1:]))
    p.add_argument("--episodes", type=int, required=True, help="episodes to record; tasks rotate over them")
    p.add_argument("--out", required=True, help="directory for the episode bags")
    p.add_argument("--tasks", default="", help="comma-separated tasks (default: all)")
    p.add_argument("--seed", type=int, default=0, help="first scene seed")
    p.add_argument("--noise", type=float, default=0.0, help="expert velocity noise (m/s std) for diverse demos")
    p.add_argument("--approach-jitter", type=float, default=0.0, metavar="M",
                   help="offset the expert's hover waypoints by up to M metres, so demos show recoveries")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds per episode")
    p.add_argument("--cameras", default="front,wrist", help="comma-separated cameras to record")
    p.add_argument("--logs", default=None, help="directory for the node logs")
    p.add_argument("--offline", action="store_true", help="in-process sim + expert, no ROS graph, faster than real time")
    p.add_argument("--keep-failures", action="store_true", help="--offline: keep bags of failed demos (flagged)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from robovla.cli.session import EXPERT_NODES, SimSession
    from robovla.sim.benchmark import plan_episodes
    from robovla.sim.expert import expert_notes

    try:
        plans = plan_episodes(args.episodes, [t for t in args.tasks.split(",") if t] or None, args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    cameras = [c for c in args.cameras.split(",") if c]
    if args.offline:
        return _run_offline(plans, out, cameras, args)
    overrides = {"sim.expert": True, "sim.expert_noise": args.noise, "sim.expert_approach_jitter": args.approach_jitter,
                 "sim.speed": 1.0, "sim.split": "train",
                 "sim.task": plans[0].first_task, "sim.seed": plans[0].seed,
                 "recorder.output_dir": str(out), "recorder.cameras": cameras, "recorder.default_success": False}
    ok = 0
    with SimSession(overrides, nodes=(*EXPERT_NODES, "recorder"), log_dir=args.logs, recorder=True) as client:
        bar = tqdm(plans, desc="collect", unit="ep", file=sys.stderr)
        for plan in bar:
            reset = client.reset(plan.first_task, plan.seed)
            if not reset.success:
                raise RuntimeError(f"sim reset failed for {plan.first_task} seed {plan.seed}: {reset.message}")
            episode_id = f"{plan.first_task}_{plan.seed:05d}"
            outcome, result = client.execute_recorded(reset.instruction, episode_id, args.timeout,
                                                      notes=expert_notes(args.noise, args.approach_jitter, "ROS graph"))
            if not result.success:
                raise RuntimeError(f"recording {episode_id} failed: {result.message}")
            ok += outcome.success
            bar.set_postfix(success=f"{ok}/{plan.index + 1}")
    print(f"{ok}/{len(plans)} successful demonstrations recorded in {out}")
    return 0


def _run_offline(plans, out: Path, cameras: list[str], args: argparse.Namespace) -> int:
    import shutil

    from tqdm import tqdm

    from robovla.graph import resolve_graph
    from robovla.sim.config import SimConfig
    from robovla.sim.env import Gen3SimEnv
    from robovla.sim.recording import record_expert_demo

    # the camera rate the sim node publishes in the graph (config/robovla.yaml): train as deployed
    sim_spec = next(s for s in resolve_graph(sim=True) if s.name == "sim")
    camera_hz = float(sim_spec.parameters["camera_hz"])
    ok = 0
    with Gen3SimEnv(SimConfig(max_episode_s=float(args.timeout))) as env:
        try:
            bar = tqdm(plans, desc="collect (offline)", unit="ep", file=sys.stderr)
            for plan in bar:
                demo = record_expert_demo(env, out, plan.first_task, plan.seed, cameras=tuple(cameras),
                                          camera_hz=camera_hz, noise=args.noise,
                                          approach_jitter=args.approach_jitter, split="train")
                ok += demo.success
                if not demo.success and not args.keep_failures:
                    shutil.rmtree(demo.path)
                bar.set_postfix(success=f"{ok}/{plan.index + 1}")
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    kept = "" if args.keep_failures else " (failed ones discarded)"
    print(f"{ok}/{len(plans)} successful demonstrations recorded in {out}{kept}")
    return 0
