"""`make demo`: the embedded default end to end — MuJoCo Gen3 sim + the full node graph + the
VLA that `make train-demo` trained, one language goal through the ExecuteInstruction action.

The sim is reset to a held-out scene of the task, the recorder node records the episode to a
rosbag2 (MCAP) bag, feedback is streamed, the result printed, and the front camera saved as a GIF.
Without a trained checkpoint (none committed and none given) the graph runs the ScriptedPolicy
placeholder and says so: that shows the plumbing, not a skill.

Exit code 0 when the goal ran to an end the graph reported and the bag and GIF were written
(whether the policy succeeded is printed, not the exit code: a policy is not 100 %).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from robovla.resources import demo_checkpoint
from robovla.sim.benchmark import EVAL_SEED_OFFSET

#: where `make train-demo` puts the checkpoint that `make demo` runs (committed, a few MB)
DEMO_CHECKPOINT = demo_checkpoint()
PLACEHOLDER = "scripted:forward"


def default_checkpoint() -> str:
    return str(DEMO_CHECKPOINT) if (DEMO_CHECKPOINT / "vla_config.yaml").is_file() else PLACEHOLDER


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None,
                    help=f"VLA checkpoint dir or scripted[:pattern] (default: {DEMO_CHECKPOINT} if present)")
    ap.add_argument("--task", default="open_drawer", help="sim task whose scene is set up")
    ap.add_argument("--seed", type=int, default=EVAL_SEED_OFFSET + 1, help="scene seed (held-out range by default)")
    ap.add_argument("--instruction", default=None, help="language goal (default: a held-out phrasing of --task)")
    ap.add_argument("--timeout", type=float, default=15.0, help="seconds before the task manager gives up")
    ap.add_argument("--out", default="demo_out", help="directory for the GIF and the episode bag")
    ap.add_argument("--logs", default=None, help="directory for the node logs (default: OUT/logs)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from robovla.cli.session import SimSession
    from robovla.sim.benchmark import write_gif
    from robovla.sim.tasks import get_task

    checkpoint = args.checkpoint or default_checkpoint()
    scripted = checkpoint.startswith("scripted")
    if not scripted and not Path(checkpoint).is_dir():
        print(f"error: checkpoint {checkpoint!r} is not a directory", file=sys.stderr)
        return 2
    try:
        get_task(args.task)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if scripted:
        print(f"note: policy is the ScriptedPolicy placeholder ({checkpoint}), not a trained VLA; "
              "run `make train-demo` to train one")
    else:
        checkpoint = str(Path(checkpoint).resolve())
        print(f"policy: VLA checkpoint {checkpoint}")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    episode_id = f"demo_{args.task}_{args.seed:06d}_{time.strftime('%Y%m%d_%H%M%S')}"
    overrides = {"sim.task": args.task, "sim.seed": args.seed, "sim.split": "eval",
                 "recorder.output_dir": str(out / "bags"),
                 "recorder.default_success": False}
    session = SimSession(overrides, arguments={"checkpoint": checkpoint}, log_dir=args.logs or out / "logs",
                         camera="front", recorder=True)
    print(f"graph: {', '.join(s.name for s in session.specs)} (logs in {session.log_dir})", flush=True)
    with session as client:
        reset = client.reset(args.task, args.seed)
        if not reset.success:
            print(f"error: sim reset failed: {reset.message}", file=sys.stderr)
            return 1
        instruction = args.instruction or reset.instruction
        print(f"goal: {instruction!r} (task {args.task}, scene seed {args.seed})", flush=True)
        client.capture(True)

        def show(step: int, elapsed: float, state: str) -> None:
            print(f"[{elapsed:5.1f} s] {state:<10} step {step}", flush=True)

        outcome, record = client.execute_recorded(instruction, episode_id, args.timeout,
                                                  notes=f"make demo, policy {Path(checkpoint).name}", on_feedback=show)
        frames = client.take_frames()
        client.capture(False)
        dead = session.dead_report()
    if dead:
        print(f"error: {dead}", file=sys.stderr)
        return 1
    if not outcome.accepted:
        print(f"error: {outcome.message}", file=sys.stderr)
        return 1
    print(f"{'SUCCESS' if outcome.success else 'FAILURE'}: {instruction!r}: {outcome.message} "
          f"({outcome.steps} action chunks, {outcome.duration_s:.1f} s)")
    if not record.success:
        print(f"error: the episode bag was not written: {record.message}", file=sys.stderr)
        return 1
    print(f"episode bag: {record.bag_path} ({record.message_count} messages)")
    if not frames:
        print("error: no camera frames arrived for the GIF", file=sys.stderr)
        return 1
    gif = write_gif(frames, out / f"{episode_id}.gif", fps=float(session.param("sim", "camera_hz")))
    print(f"gif: {gif} ({len(frames)} frames)")
    return 0 if outcome.steps > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
