"""RoboVLMs' cross-embodiment finding in the sim: post-training vs co-training vs target-only.

    python bench/bench_posttrain.py [--runs runs/posttrain] [--source-episodes 270] [--target-per-task 10]
        [--pretrain-steps 3000] [--finetune-steps 1500] [--episodes 45] [--jobs 2]

Source: the sim's second embodiment (Franka Panda + Hand, other cameras) demonstrates all nine
tasks (`robovla collect --offline --embodiment panda`), published as a LeRobot v3 dataset
(`robovla dataset export-lerobot`), the format cross-embodiment data ships in. Target: a small
Gen3 set, `--target-per-task` demonstrations per task. Three recipes on the same compute (the
same number of optimizer steps of the same global batch, config/train/demo.yaml otherwise):

- target-only: Gen3 demos from scratch, pretrain + finetune steps;
- co-training: Gen3 demos with the source mixed into every batch (`--co-train`, ratio stated),
  pretrain + finetune steps;
- post-training: a checkpoint pretrained on the source alone (a data-parallel job: torchrun,
  `--procs` ranks, the per-rank batch divided so the global batch is the preset's) for
  pretrain steps, then fine-tuned on the Gen3 demos for finetune steps, that second stage sent
  as a TrainPolicy goal to the trainer node (the path a robot PC uses).

Each is evaluated by `robovla eval` (lock-step, held-out seeds and phrasings, all nine tasks).
Every stage is skipped when its output exists, so an interrupted study resumes. Writes
bench/results/posttrain.json, posttrain.md (Wilson 95 % intervals) and posttrain.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from robovla.sim.benchmark import comparison_table  # noqa: E402
from robovla.sim.tasks import TASKS  # noqa: E402
from study_stages import Stages, run_logged as _run  # noqa: E402

SOURCE_SEED = 50_000  # source scenes: neither the target's (0..) nor the evaluation's (100000..)
RECIPES = ("target_only", "co_train", "post_train")


def _checkpoint(run: Path) -> str:
    return json.loads((run / "result.json").read_text())["checkpoint_dir"]


def _post_train_via_node(runs: Path, target: Path, base: str, steps: int, logs: Path) -> None:
    """The fine-tuning stage as a TrainPolicy goal to the installed trainer node, on a ROS domain
    of its own (started and stopped as `robovla bringup` does)."""
    from robovla.cli.bringup import start_graph, stop_graph
    from robovla.graph import NodeSpec
    from robovla.nodes.common.train_client import train_via_node

    os.environ["ROS_DOMAIN_ID"] = str(os.getpid() % 90 + 5)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    logs.mkdir(parents=True, exist_ok=True)
    graph = start_graph([NodeSpec("trainer", "trainer")], env={**os.environ, "PYTHONUNBUFFERED": "1"}, log_dir=logs)
    try:
        last = [0.0]

        def show(fb) -> None:
            if time.monotonic() - last[0] > 30 or fb.step >= fb.total_steps:
                last[0] = time.monotonic()
                print(f"  trainer node: [{fb.state}] step {fb.step}/{fb.total_steps} loss {fb.loss:.4f}", flush=True)

        res = train_via_node([str(target)], str(runs / "post_train"), base_checkpoint=base, preset="demo",
                             steps=steps, on_feedback=show)
        if not res.success:
            raise SystemExit(f"post-training through the trainer node failed: {res.message}; see {logs}/trainer.log")
    finally:
        stop_graph(graph)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="runs/posttrain", help="directory for data, runs and evaluations")
    ap.add_argument("--source-episodes", type=int, default=270, help="Panda demonstrations (tasks rotate)")
    ap.add_argument("--target-per-task", type=int, default=10, help="Gen3 demonstrations per task")
    ap.add_argument("--pretrain-steps", type=int, default=3000)
    ap.add_argument("--finetune-steps", type=int, default=1500)
    ap.add_argument("--co-train-ratio", type=float, default=0.5, help="share of every co-training batch from the source")
    ap.add_argument("--procs", type=int, default=2, help="data-parallel ranks of the pretraining job")
    ap.add_argument("--episodes", type=int, default=45, help="held-out evaluation episodes per recipe")
    ap.add_argument("--jobs", type=int, default=2, help="parallel evaluation graphs")
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "posttrain"))
    args = ap.parse_args()

    runs = Path(args.runs).resolve()
    runs.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    total = args.pretrain_steps + args.finetune_steps
    tasks = list(TASKS)
    stages = Stages(runs)
    stage, timings = stages.run, stages.timings

    source_bags, source = runs / "source_bags", runs / "source_lerobot"
    target = runs / "target_bags"
    stage("collect_source", source_bags / ".done", fn=lambda: (
        _run([py, "-m", "robovla", "collect", "--offline", "--embodiment", "panda", "--episodes",
              str(args.source_episodes), "--seed", str(SOURCE_SEED), "--noise", "0.02", "--approach-jitter", "0.025",
              "--out", str(source_bags)], runs / "collect_source.log"),
        (source_bags / ".done").touch()))
    stage("export_source", source / "meta" / "info.json",
          [py, "-m", "robovla", "dataset", "export-lerobot", "--data", str(source_bags), "--out", str(source),
           "--cameras", "front,wrist"])
    stage("collect_target", target / ".done", fn=lambda: (
        _run([py, "-m", "robovla", "collect", "--offline", "--episodes", str(args.target_per_task * len(tasks)),
              "--noise", "0.02", "--approach-jitter", "0.025", "--out", str(target)], runs / "collect_target.log"),
        (target / ".done").touch()))

    preset = yaml.safe_load((ROOT / "config/train/demo.yaml").read_text())
    batch = int(preset["batch_size"])
    if batch % args.procs:
        raise SystemExit(f"the preset's batch {batch} does not split over {args.procs} ranks")
    recipes = [r for r in args.recipes.split(",") if r]
    if "post_train" in recipes:
        stage("pretrain", runs / "pretrain" / "result.json",
              ["torchrun", "--standalone", "--nproc_per_node", str(args.procs), "-m", "robovla.cli.main", "train",
               "--data", str(source), "--out", str(runs / "pretrain"), "--preset", "demo", "--steps",
               str(args.pretrain_steps), "--set", f"batch_size={batch // args.procs}", "--no-progress"])
    common = ["--preset", "demo", "--steps", str(total), "--no-progress"]
    if "target_only" in recipes:
        stage("target_only", runs / "target_only" / "result.json",
              [py, "-m", "robovla", "train", "--data", str(target), "--out", str(runs / "target_only"), *common])
    if "co_train" in recipes:
        stage("co_train", runs / "co_train" / "result.json",
              [py, "-m", "robovla", "train", "--data", str(target), "--co-train", str(source), "--out",
               str(runs / "co_train"), "--set", f"co_train_ratio={args.co_train_ratio}", *common])
    if "post_train" in recipes:
        stage("post_train", runs / "post_train" / "result.json", fn=lambda: _post_train_via_node(
            runs, target, _checkpoint(runs / "pretrain"), args.finetune_steps, runs / "post_train_node"))

    summaries: dict[str, dict] = {}
    for recipe in recipes:
        result = runs / recipe / "eval.json"
        stage(f"eval_{recipe}", result,
              [py, "-m", "robovla", "eval", "--policy", _checkpoint(runs / recipe), "--episodes", str(args.episodes),
               "--gif", "0", "--jobs", str(args.jobs), "--out", str(result)])
        summaries[recipe] = json.loads(result.read_text())

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    budget = {"target_only": f"{total} steps on Gen3",
              "co_train": f"{total} steps, {args.co_train_ratio:.0%} of each batch Panda",
              "post_train": f"{args.pretrain_steps} steps on Panda + {args.finetune_steps} on Gen3"}
    record = {"source_episodes": args.source_episodes, "target_per_task": args.target_per_task,
              "pretrain_steps": args.pretrain_steps, "finetune_steps": args.finetune_steps,
              "co_train_ratio": args.co_train_ratio, "global_batch": batch, "episodes": args.episodes,
              "budget": budget, "timings_s": timings, "command": " ".join(sys.argv),
              "results": summaries}
    out.with_suffix(".json").write_text(json.dumps(record, indent=2))
    table = comparison_table({f"{r} ({budget[r]})": s for r, s in summaries.items()}, tasks, 1)
    verdict = _verdict(summaries)
    out.with_suffix(".md").write_text(
        f"# Post-training vs co-training vs target-only ({args.episodes} held-out Gen3 episodes each)\n\n"
        f"Source: {args.source_episodes} Franka Panda demonstrations (LeRobot v3). Target: {args.target_per_task} "
        f"Gen3 demonstrations per task ({args.target_per_task * len(tasks)}). Global batch {batch}, "
        "config/train/demo.yaml otherwise.\n\n"
        f"{table}\n\n{verdict}\n\nCommand: `python bench/bench_posttrain.py {' '.join(sys.argv[1:])}`\n")
    _plot(summaries, out.with_suffix(".png"), args.episodes)
    print(table)
    print(verdict)
    return 0


def _verdict(summaries: dict[str, dict]) -> str:
    """Which ordering the intervals support, in words: a difference counts only when they do not overlap."""
    if not set(RECIPES) <= set(summaries):
        return ""
    s = {r: summaries[r] for r in RECIPES}
    ci = {r: s[r]["success_rate_ci95"] for r in RECIPES}

    def beats(a: str, b: str) -> str:
        if ci[a][0] > ci[b][1]:
            return "yes"
        return "not separated" if s[a]["success_rate"] >= s[b]["success_rate"] else "no (lower)"

    return (f"post-training > co-training: {beats('post_train', 'co_train')} "
            f"({s['post_train']['success_rate']:.2f} vs {s['co_train']['success_rate']:.2f}); "
            f"co-training > target-only: {beats('co_train', 'target_only')} "
            f"({s['co_train']['success_rate']:.2f} vs {s['target_only']['success_rate']:.2f}); "
            "'not separated': the 95 % Wilson intervals overlap.")


def _plot(summaries: dict[str, dict], path: Path, episodes: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summaries)
    rates = [summaries[n]["success_rate"] for n in names]
    lo = [r - summaries[n]["success_rate_ci95"][0] for n, r in zip(names, rates)]
    hi = [summaries[n]["success_rate_ci95"][1] - r for n, r in zip(names, rates)]
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=120)
    ax.bar(names, rates, yerr=[lo, hi], capsize=4, color=["#999999", "#6699cc", "#cc6633"][: len(names)])
    ax.set_ylabel("success rate (held-out Gen3)")
    ax.set_ylim(0, 1)
    ax.set_title(f"{episodes} episodes per recipe, 95 % Wilson intervals", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
