"""`robovla eval`: closed-loop, CALVIN-style evaluation through the real graph in the MuJoCo sim.

    robovla eval --policy scripted --episodes 20 --out eval.json
    robovla eval --policy runs/demo/checkpoint --episodes 50 --chain 5 --out eval.json

The graph runs headless and seeded: each episode resets the sim to a scene (tasks rotate, one
seed per episode, held-out phrasings by default) and sends its instruction as an
ExecuteInstruction goal; with --chain N the next tasks follow on the same scene until one fails.
`scripted` (or `expert`) evaluates the scripted expert, the reference policy: it drives the arm
from the sim's privileged state through kinova_control and the ros2_kortex interfaces. A
checkpoint runs the full graph (camera sync, history, VLA inference, smoothing, control).

Clock (--clock). lockstep (the default): the whole graph runs on the sim's clock and the sim
advances one control period only once the graph has answered, so a score is a function of the
checkpoint and the seeds, not of the machine's load, and a run goes as fast as the machine
allows. Inference latency is then modelled: --latency-ms L makes every chunk act L ms of sim time
after its observation, whatever the policy's compute time ("how would it do at L on the robot's
GPU"). realtime: the sim runs at --speed x the wall clock and the graph keeps up as it can (demos,
latency work). Timeouts and durations are sim seconds in both.

Parallel (--jobs N): the episodes are dealt round-robin to N graphs, each a `robovla eval` process
on its own ROS domain; results are merged in episode order. A lock-stepped episode's outcome does
not depend on which graph ran it or how busy the machine was, so --jobs changes the wall time only
(the real-time factor is then the whole run's: all sim seconds over the wall span of the episodes).

Writes FILE.json (success_rate, per_task, chain_success for 1..N in a row, avg_len, 95 % CIs, every
attempt, and what reproduces the run: clock, latency model, seeds, split, checkpoint hash, software
versions, real-time factor, lock-step stalls), FILE.md (a table), FILE_chain.png (success vs
tasks in a row) and FILE_ep<i>.gif for the first --gif episodes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

EXPERT_POLICIES = ("scripted", "expert")
CONTROLS = ("none", "blank-cameras", "wrong-instruction")


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
    p.add_argument("--clock", default="lockstep", choices=["lockstep", "realtime"],
                   help="lockstep: the sim waits for the graph (deterministic, as fast as the machine allows); "
                        "realtime: the sim runs at --speed x wall time")
    p.add_argument("--latency-ms", type=float, default=0.0, metavar="L",
                   help="modelled inference latency: a chunk acts L ms (sim time) after its observation "
                        "(0: as it comes)")
    p.add_argument("--speed", type=float, default=None,
                   help="--clock realtime: sim speed vs wall clock (default: 3 for the expert, 1 for a checkpoint)")
    p.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override a graph parameter (e.g. vla_inference.policy=module:factory; the checkpoint's "
                        "cameras, image size and window stay those of --policy)")
    p.add_argument("--render-size", default="policy", metavar="PX",
                   help="side of the sim's camera images: 'policy' (default) renders at the checkpoint's input "
                        "size, which is what the policy sees after camera_sync's resize; 'config' keeps the sim "
                        "config's (224); or pixels")
    p.add_argument("--gif", type=int, default=2, help="episodes saved as GIFs (front camera)")
    p.add_argument("--device", default="cpu", help="policy device for a checkpoint (cpu, cuda)")
    p.add_argument("--logs", default=None, help="directory for the node logs")
    p.add_argument("--control", default="none", choices=CONTROLS,
                   help="control experiment: blank-cameras (every frame black) or wrong-instruction (a phrasing "
                        "of another task, while the sim judges the episode's own); a policy that keeps its score "
                        "under one is not using that input")
    p.add_argument("--jobs", type=int, default=1,
                   help="graphs run in parallel, each on its own ROS domain (episodes dealt round-robin)")
    # one worker of --jobs: run only the episodes i, i+N, ... and write their records (internal)
    p.add_argument("--shard", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


MAX_JOBS = 10  # ROS domains base .. base+9 stay in the valid range 1..101


@dataclass
class EpisodesRun:
    """What one graph (or the merge of several) measured."""
    records: list
    start: float  # epoch seconds when its first episode began
    end: float  # epoch seconds when its last episode ended
    stalls: int | None


def parse_shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    i, n = int(index), int(count)
    if not 0 <= i < n:
        raise ValueError(f"--shard must be I/N with 0 <= I < N, got {text!r}")
    return i, n


def checkpoint_hash(path: str | Path) -> str:
    """sha256 over a checkpoint directory's files (relative path and content, in sorted order)."""
    import hashlib

    root = Path(path).resolve()
    digest = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(root)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def software_versions() -> dict[str, str]:
    """What the run ran on: Python, ROS, the libraries a score depends on, and this checkout."""
    import os
    import platform
    import subprocess
    from importlib import metadata

    out = {"python": platform.python_version(), "ros_distro": os.environ.get("ROS_DISTRO", "")}
    for dist in ("robovla", "torch", "mujoco", "numpy", "rclpy", "transformers"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def count_stalls(log_dir: Path) -> int:
    """Lock-step waits the sim gave up on (its log says "lock-step stall")."""
    log = Path(log_dir) / "sim.log"
    return log.read_text(errors="replace").count("lock-step stall") if log.is_file() else 0


def run(args: argparse.Namespace) -> int:
    from robovla.sim.benchmark import EVAL_SEED_OFFSET, plan_episodes, plot_chain, summarize, summary_table, write_summary

    if args.chain < 1:
        print("error: --chain must be >= 1", file=sys.stderr)
        return 2
    expert = args.policy in EXPERT_POLICIES
    if not expert and not Path(args.policy).is_dir():
        print(f"error: --policy {args.policy!r} is neither 'scripted' nor a checkpoint directory", file=sys.stderr)
        return 2
    from robovla.graph import sim_policy_threads

    lockstep = args.clock == "lockstep"
    speed = args.speed if args.speed is not None else (3.0 if expert else 1.0)
    if speed <= 0:
        print("error: --speed must be positive", file=sys.stderr)
        return 2
    if not args.latency_ms >= 0:
        print("error: --latency-ms must be >= 0", file=sys.stderr)
        return 2
    from robovla.cli.bringup import parse_overrides

    user_sets = parse_overrides(args.set)
    try:
        args.render_px = render_size(args.render_size, None if expert else args.policy)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tasks = [t for t in args.tasks.split(",") if t]
    try:
        plans = plan_episodes(args.episodes, tasks or None, EVAL_SEED_OFFSET if args.seed is None else args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if not 1 <= args.jobs <= MAX_JOBS:
        print(f"error: --jobs must be in 1..{MAX_JOBS}", file=sys.stderr)
        return 2
    t_start = time.monotonic()
    if args.shard is not None:
        i, n = parse_shard(args.shard)
        result = _run_episodes(args, [p for p in plans if p.index % n == i], expert, lockstep, speed, user_sets)
        _write_shard(result, out, i)
        return 0
    if args.jobs > 1:
        result = _run_jobs(args, out, min(args.jobs, len(plans)))
        if result is None:
            return 1
    else:
        result = _run_episodes(args, plans, expert, lockstep, speed, user_sets)
    records = result.records
    episodes_wall = result.end - result.start
    sim_s = sum(a.duration_s for r in records for a in r.attempts)
    summary = summarize(
        records, args.chain, policy=args.policy, split=args.split, timeout_s=args.timeout,
        clock=args.clock, speed=None if lockstep else speed, latency_model_ms=args.latency_ms,
        render_size=args.render_px, checkpoint_sha256=None if expert else checkpoint_hash(args.policy),
        overrides={k: v for k, v in user_sets.items()}, seeds=[p.seed for p in plans], control=args.control,
        tasks=tasks or None, device=None if expert else args.device, versions=software_versions(),
        jobs=args.jobs, wall_s=time.monotonic() - t_start, episodes_wall_s=episodes_wall, sim_s=sim_s,
        cpu_threads=None if expert else user_sets.get("vla_inference.cpu_threads", sim_policy_threads()),
        real_time_factor=sim_s / episodes_wall if episodes_wall > 0 else None,
        episodes_per_minute=len(records) * 60.0 / episodes_wall if episodes_wall > 0 else None,
        lockstep_stalls=result.stalls if lockstep else None)
    write_summary(summary, out)
    table = summary_table(summary)
    control = f" --control {args.control}" if args.control != "none" else ""
    out.with_suffix(".md").write_text(f"# robovla eval --policy {args.policy}{control}\n\n{table}\n")
    plot_chain({Path(args.policy).name: summary}, out.with_name(f"{out.stem}_chain.png"),
               title=f"{args.episodes} episodes, split {args.split}")
    print(table)
    print(f"success_rate {summary['success_rate']:.3f} over {len(summary['per_task'])} tasks -> {out}")
    print(f"{args.clock}: {summary['sim_s']:.1f} sim s in {episodes_wall:.1f} wall s (real-time factor "
          f"{summary['real_time_factor'] or 0:.2f}, {summary['episodes_per_minute'] or 0:.1f} episodes/min"
          + (f", {args.jobs} jobs" if args.jobs > 1 else "") + ")"
          + (f", {summary['lockstep_stalls']} lock-step stalls" if lockstep else ""))
    return 0


def render_size(choice: str, checkpoint: str | None) -> int | None:
    """Pixels the sim renders (None: its config's) for --render-size `choice`.

    'policy' renders at the checkpoint's input size: camera_sync resizes every frame to it anyway, and
    rendering, sending and resizing 224 px frames to use 64 cost a fifth of a lock-step eval's wall
    time (bench/results/eval_lockstep.md). The frames differ slightly from resized ones (MuJoCo's
    multisampling against INTER_AREA, 2.9 of 255 mean absolute difference at 64 px); the demo
    checkpoint's 12-episode outcomes were the same at both sizes."""
    if choice == "config":
        return None
    if choice == "policy":
        if checkpoint is None:
            return None  # the scripted expert reads the sim's state, not images
        from robovla.graph import checkpoint_overrides

        return checkpoint_overrides(str(Path(checkpoint).resolve())).get("camera_sync.image_width")
    try:
        px = int(choice)
    except ValueError:
        px = 0
    if px <= 0:
        raise ValueError(f"--render-size must be 'policy', 'config' or a positive number of pixels, got {choice!r}")
    return px


def _run_episodes(args: argparse.Namespace, plans: list, expert: bool, lockstep: bool, speed: float,
                  user_sets: dict) -> EpisodesRun:
    """Run `plans` through one sim graph."""
    from tqdm import tqdm

    import numpy as np

    from robovla.cli.session import EXPERT_NODES, SimSession
    from robovla.graph import checkpoint_overrides
    from robovla.sim.benchmark import EpisodeRecord, TaskAttempt, write_gif
    from robovla.sim.tasks import wrong_instruction

    out = Path(args.out)
    tasks = [t for t in args.tasks.split(",") if t]
    overrides = {"sim.expert": expert, "sim.speed": speed, "sim.split": args.split, "sim.task": plans[0].first_task,
                 "sim.seed": plans[0].seed, "sim.chain_tasks": tasks,
                 # lock-step: as fast as the graph answers (robovla.graph.apply_sim_time sets the rest)
                 "sim.lockstep": lockstep, "sim.real_time": not lockstep,
                 "action_smoother.latency_model_s": args.latency_ms / 1e3}
    if args.render_px:
        overrides["sim.image_size"] = args.render_px
    if args.control == "blank-cameras":
        overrides["sim.blank_cameras"] = True
    if expert and args.gif == 0:
        overrides["sim.camera_hz"] = 1.0  # the expert needs no images: rendering would cap the speed
    arguments = {} if expert else {"checkpoint": str(Path(args.policy).resolve())}
    if not expert:
        overrides["vla_inference.device"] = args.device
        if "vla_inference.policy" in user_sets:  # another policy on this checkpoint's graph
            overrides.update(checkpoint_overrides(str(Path(args.policy).resolve())))
    overrides.update(user_sets)
    # the result's wall-time bound: a lock-stepped graph runs as slowly as its policy computes
    result_wait = args.timeout * 60 + 120 if lockstep else args.timeout / speed + 30
    records: list[EpisodeRecord] = []
    session = SimSession(overrides, nodes=EXPERT_NODES if expert else None, arguments=arguments,
                         log_dir=args.logs, camera="front" if args.gif > 0 else None)
    gif_fps = float(session.param("sim", "camera_hz"))  # frames per sim second: real-time playback
    with session as client:
        start = time.time()
        label = f"eval {Path(args.policy).name}" + (f" [{args.shard}]" if args.shard else "")
        bar = tqdm(plans, desc=label, unit="ep", file=sys.stderr)
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
                instruction, task = reset.instruction, ""
                if args.control == "wrong-instruction":  # the sim judges the episode's task, not the words
                    rng = np.random.default_rng([plan.seed, link])
                    instruction, task = wrong_instruction(reset.task, rng, args.split), reset.task
                outcome = client.execute(instruction, args.timeout, result_wait_s=result_wait, task=task)
                record.attempts.append(TaskAttempt(reset.task, instruction, outcome.success, outcome.steps,
                                                   outcome.duration_s, outcome.message))
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
        end = time.time()
    return EpisodesRun(records, start, end, count_stalls(session.log_dir) if lockstep else None)


def _shard_path(out: Path, index: int) -> Path:
    return out.with_name(f"{out.stem}.shard{index}.json")


def _write_shard(result: EpisodesRun, out: Path, index: int) -> None:
    from dataclasses import asdict

    _shard_path(out, index).write_text(json.dumps({
        "records": [asdict(r) for r in result.records], "start": result.start, "end": result.end,
        "stalls": result.stalls}))


def _read_shard(path: Path) -> EpisodesRun:
    from robovla.sim.benchmark import EpisodeRecord, TaskAttempt

    data = json.loads(path.read_text())
    records = [EpisodeRecord(r["index"], r["seed"], [TaskAttempt(**a) for a in r["attempts"]])
               for r in data["records"]]
    return EpisodesRun(records, data["start"], data["end"], data["stalls"])


def _run_jobs(args: argparse.Namespace, out: Path, jobs: int) -> EpisodesRun | None:
    """Run the episodes in `jobs` worker processes of this command, one graph and ROS domain each,
    and merge their records in episode order (None if a worker failed; its output says why)."""
    base = int(os.environ.get("ROS_DOMAIN_ID") or os.getpid() % (101 - MAX_JOBS) + 1)
    logs = Path(args.logs) if args.logs else None
    argv = list(args.argv)
    workers = []
    for i in range(jobs):
        cmd = [sys.executable, "-m", "robovla.cli.main", *_without(argv, ("--jobs", "--logs", "--shard")),
               "--jobs", "1", "--shard", f"{i}/{jobs}"]
        if logs is not None:
            cmd += ["--logs", str(logs / f"job{i}")]
        env = {**os.environ, "ROS_DOMAIN_ID": str(base + i), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
        _shard_path(out, i).unlink(missing_ok=True)
        workers.append(subprocess.Popen(cmd, env=env))
    codes = [w.wait() for w in workers]
    if any(codes):
        print(f"error: eval workers exited with {codes}", file=sys.stderr)
        return None
    parts = [_read_shard(_shard_path(out, i)) for i in range(jobs)]
    for i in range(jobs):
        _shard_path(out, i).unlink()
    records = sorted((r for p in parts for r in p.records), key=lambda r: r.index)
    stalls = None if any(p.stalls is None for p in parts) else sum(p.stalls for p in parts)
    return EpisodesRun(records, min(p.start for p in parts), max(p.end for p in parts), stalls)


def _without(argv: list[str], options: tuple[str, ...]) -> list[str]:
    """argv less the given options and their values (both `--opt v` and `--opt=v`)."""
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in options:
            skip = True
        elif not a.startswith(tuple(o + "=" for o in options)):
            kept.append(a)
    return kept
