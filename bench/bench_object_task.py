"""Why the nine-task demo VLA solves no object task: one object task alone, varying what could limit it.

    python bench/bench_object_task.py [--task lift_block] [--runs runs/object_task] [--demos 240]
        [--steps 3000] [--episodes 20] [--arms n60_64px,n240_64px,n240_128px]

The nine-task attempt (bench/results/demo_nine_tasks_eval.md: 60 demonstrations per task,
config/train/demo.yaml, 6000 steps) scored 0/25 on the five object tasks, which need the policy to
find a block of a named colour at a random place, against 6/20 on the fixed-place tasks. Three
things could limit it on this machine's budget: the data per task, the 64 px frames (a 4 cm block
is a few pixels in the front camera), or sharing a small model between nine tasks. Each arm here
trains the demo recipe on `--task` alone, for the same number of optimizer steps:

- n60_64px:   60 demonstrations (the nine-task run's share per task), 64 px;
- n240_64px:  4x the demonstrations, 64 px;
- n240_128px: 4x the demonstrations, 128 px frames cut into 16 px patches (the same 64 image
  tokens per camera, so the same model and compute, four times the pixels).

Each is evaluated by `robovla eval` (lock-step, held-out seeds and phrasings) with the scripted
expert as the reference. Every stage is skipped when its output exists, so an interrupted study
resumes. Writes bench/results/object_task.json and object_task.md (Wilson 95 % intervals).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from robovla.data.bag_reader import find_episode_bags  # noqa: E402
from robovla.sim.benchmark import comparison_table  # noqa: E402
from study_stages import Stages, run_logged  # noqa: E402

#: arm -> (demonstrations, image side in px); the patch grows with the image (8 px at 64, the
#: demo preset's), so every arm has the same 64 image tokens per camera
ARMS = {
    "n60_64px": (60, 64),
    "n240_64px": (240, 64),
    "n240_128px": (240, 128),
}


def _overrides(image_size: int) -> list[str]:
    return [f"model.image_size={image_size}", f"model.tiny.patch_size={image_size // 8}"]


def block_pixels(task: str, sizes: tuple[int, ...] = (64, 128), scenes: int = 10) -> dict[str, dict[str, float]]:
    """How many pixels a block covers in each camera at the episode's start (MuJoCo segmentation
    render of held-out scenes): what a policy at that resolution has to find it by."""
    import mujoco
    import numpy as np

    from robovla.sim.env import Gen3SimEnv
    from robovla.sim.config import SimConfig
    from robovla.sim.scene import BLOCK_COLORS, CAMERA_NAMES

    out: dict[str, dict[str, float]] = {}
    for size in sizes:
        env = Gen3SimEnv(SimConfig(image_size=size))
        renderer = mujoco.Renderer(env.model, size, size)
        renderer.enable_segmentation_rendering()
        blocks = {env.model.body(f"{c}_block").id for c in BLOCK_COLORS}
        geoms = [g for g in range(env.model.ngeom) if env.model.geom_bodyid[g] in blocks]
        counts: dict[str, list[int]] = {c: [] for c in CAMERA_NAMES}
        for seed in range(scenes):
            env.reset(task, 100_000 + seed)
            for cam in CAMERA_NAMES:
                renderer.update_scene(env.data, camera=cam)
                seg = renderer.render()
                is_geom = seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)
                for g in geoms:  # pixels per block, one count per block and scene
                    counts[cam].append(int((is_geom & (seg[..., 0] == g)).sum()))
        renderer.close()
        env.close()
        for cam, v in counts.items():
            out[f"{cam} {size} px"] = {"median": float(np.median(v)), "min": float(min(v)), "max": float(max(v))}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="lift_block")
    ap.add_argument("--runs", default="runs/object_task", help="directory for data, runs and evaluations")
    ap.add_argument("--demos", type=int, default=240, help="demonstrations collected (the largest arm's)")
    ap.add_argument("--steps", type=int, default=3000, help="optimizer steps of every arm")
    ap.add_argument("--episodes", type=int, default=20, help="held-out evaluation episodes per arm")
    ap.add_argument("--jobs", type=int, default=2, help="parallel collection processes / evaluation graphs")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "object_task"))
    args = ap.parse_args()

    runs = Path(args.runs).resolve()
    runs.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    arms = [a for a in args.arms.split(",") if a]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise SystemExit(f"unknown arm(s) {unknown}; known: {list(ARMS)}")
    stages = Stages(runs)
    stage, timings = stages.run, stages.timings

    demos = runs / "demos"
    stage("collect", runs / "collect.done", fn=lambda: (
        run_logged([py, "-m", "robovla", "collect", "--offline", "--episodes", str(args.demos), "--tasks", args.task,
                    "--noise", "0.02", "--approach-jitter", "0.025", "--jobs", str(args.jobs), "--out", str(demos)],
                   runs / "collect.log"),
        (runs / "collect.done").touch()))
    episodes = find_episode_bags(demos)
    if len(episodes) < max(ARMS[a][0] for a in arms):
        raise SystemExit(f"{demos} holds {len(episodes)} episodes, fewer than an arm needs")

    summaries: dict[str, dict] = {}
    val_loss: dict[str, float] = {}
    for arm in arms:
        n, size = ARMS[arm]
        run = runs / arm
        sets = [x for o in _overrides(size) for x in ("--set", o)]
        stage(f"train_{arm}", run / "result.json",
              [py, "-m", "robovla", "train", "--data", *map(str, episodes[:n]), "--out", str(run), "--preset", "demo",
               "--steps", str(args.steps), *sets, "--no-progress"])
        result = json.loads((run / "result.json").read_text())
        val_loss[arm] = float(result["val_metrics"].get("val_loss", float("nan")))
        ev = run / "eval.json"
        stage(f"eval_{arm}", ev, [py, "-m", "robovla", "eval", "--policy", result["checkpoint_dir"], "--tasks", args.task,
                                  "--episodes", str(args.episodes), "--gif", "2", "--jobs", str(args.jobs), "--out", str(ev)])
        summaries[arm] = json.loads(ev.read_text())
    expert = runs / "expert_eval.json"
    stage("eval_expert", expert, [py, "-m", "robovla", "eval", "--policy", "scripted", "--tasks", args.task,
                                  "--episodes", str(args.episodes), "--gif", "0", "--jobs", str(args.jobs),
                                  "--out", str(expert)])
    summaries["scripted expert"] = json.loads(expert.read_text())

    pixels = block_pixels(args.task)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    labels = {a: f"{a} ({ARMS[a][0]} demos, {ARMS[a][1]} px; best val loss "
                 f"{val_loss[a]:.4f})" for a in arms}
    labels["scripted expert"] = "scripted expert (reference)"
    if out.with_suffix(".json").exists():  # a resumed study keeps the wall times of the stages it reused
        timings = {**json.loads(out.with_suffix(".json").read_text()).get("timings_s", {}), **timings}
    record = {"task": args.task, "demos": args.demos, "steps": args.steps, "episodes": args.episodes,
              "arms": {a: {"demos": ARMS[a][0], "overrides": _overrides(ARMS[a][1]), "val_loss": val_loss[a]}
                       for a in arms},
              "block_pixels": pixels, "timings_s": timings, "command": " ".join(sys.argv), "results": summaries}
    out.with_suffix(".json").write_text(json.dumps(record, indent=2))
    table = comparison_table({labels[k]: s for k, s in summaries.items()}, [args.task], 1)
    out.with_suffix(".md").write_text(
        f"# {args.task} alone: data per task and frame resolution ({args.episodes} held-out episodes per arm)\n\n"
        f"Every arm: config/train/demo.yaml trained on {args.task} only for {args.steps} steps; evaluated with "
        "`robovla eval` (lock-step, held-out seeds and phrasings).\n\n"
        f"{table}\n\nPixels a block covers at the start of a held-out scene (MuJoCo segmentation, 10 scenes x 3 "
        "blocks): " + "; ".join(f"{k}: median {v['median']:.0f} ({v['min']:.0f}-{v['max']:.0f})" for k, v in pixels.items())
        + f".\n\nCommand: `python bench/bench_object_task.py {' '.join(sys.argv[1:])}`\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
