"""`robovla collect`: scripted-expert demonstrations in the sim, one rosbag2 episode each.

    robovla collect --episodes 100 --out demos/

Each episode resets the sim to a seeded scene (tasks rotate), starts a RecordEpisode goal on the
recorder node, sends the instruction as an ExecuteInstruction goal that the expert carries out
through kinova_control and the ros2_kortex interfaces, and finishes the recording when the goal
ends. The episode's success flag comes from the sim's task checker (a timed-out episode is kept,
flagged unsuccessful). The sim runs in real time so the bags have the rates of a real arm.

With --offline no graph starts: the same simulator and expert run in-process, faster than real
time, and write the same bag layout stamped with simulation time (robovla.sim.recording); this
is how `make train-demo` collects its demonstrations. --offline --jobs N records N episodes at a
time in N processes (each its own simulator; an episode's bag depends only on its task and seed).
--offline --embodiment panda records the second embodiment (Franka Panda + Franka Hand) for
cross-embodiment data.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from robovla.sim.config import SimConfig


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
    p.add_argument("--jobs", type=int, default=1, help="--offline: episodes recorded in parallel processes")
    p.add_argument("--embodiment", default="gen3", choices=("gen3", "panda"),
                   help="--offline: the sim's arm (panda: Franka Panda + Franka Hand, other cameras)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.embodiment != "gen3" and not args.offline:
        print("error: --embodiment other than gen3 needs --offline (the ROS graph drives the Gen3)", file=sys.stderr)
        return 2
    if args.jobs < 1 or (args.jobs > 1 and not args.offline):
        print(f"error: --jobs {args.jobs}: needs --offline and at least 1 (the ROS graph collects one episode at "
              "a time, in real time)", file=sys.stderr)
        return 2
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
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    from robovla.graph import resolve_graph

    # the camera rate the sim node publishes in the graph (config/robovla.yaml): train as deployed
    sim_spec = next(s for s in resolve_graph(sim=True) if s.name == "sim")
    job = _OfflineJob(out, tuple(cameras), float(sim_spec.parameters["camera_hz"]), args.noise, args.approach_jitter,
                      args.keep_failures, SimConfig(max_episode_s=float(args.timeout), embodiment=args.embodiment))
    ok = done = 0
    bar = tqdm(total=len(plans), desc="collect (offline)", unit="ep", file=sys.stderr)
    try:
        if args.jobs == 1:
            _open_worker_env(job)
            results = map(_record_one, plans)
        else:  # fork, not spawn (spawn re-runs the `robovla` console script, which has no __main__ guard):
            # this process opens no simulator or GL context before it forks, each worker opens its own
            pool = ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("fork"),
                                       initializer=_open_worker_env, initargs=(job,))
            results = pool.map(_record_one, plans)
        for success in results:
            ok, done = ok + success, done + 1
            bar.update()
            bar.set_postfix(success=f"{ok}/{done}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        bar.close()
        if args.jobs > 1:
            pool.shutdown(cancel_futures=True)
        _close_worker_env()
    kept = "" if args.keep_failures else " (failed ones discarded)"
    print(f"{ok}/{len(plans)} successful demonstrations recorded in {out}{kept}")
    return 0


@dataclass(frozen=True)
class _OfflineJob:
    """What every offline episode shares (each worker process gets a copy)."""

    out: Path
    cameras: tuple[str, ...]
    camera_hz: float
    noise: float
    approach_jitter: float
    keep_failures: bool
    sim_config: SimConfig


_worker: tuple[_OfflineJob, object] | None = None  # this process's job and simulator


def _open_worker_env(job: _OfflineJob) -> None:
    from robovla.sim.env import Gen3SimEnv

    global _worker
    _worker = (job, Gen3SimEnv(job.sim_config))


def _close_worker_env() -> None:
    global _worker
    if _worker is not None:
        _worker[1].close()
        _worker = None


def _record_one(plan) -> bool:
    import shutil

    from robovla.sim.recording import record_expert_demo

    job, env = _worker
    demo = record_expert_demo(env, job.out, plan.first_task, plan.seed, cameras=job.cameras,
                              camera_hz=job.camera_hz, noise=job.noise, approach_jitter=job.approach_jitter,
                              split="train")
    if not demo.success and not job.keep_failures:
        shutil.rmtree(demo.path)
    return demo.success
