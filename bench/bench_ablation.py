"""RoboVLMs' formulation ablation in the sim: the four formulations, same demos, same budget.

    python bench/bench_ablation.py --demos runs/train_demo/demos [--steps 1000] [--episodes 48 --chain 2]

Each formulation is trained from scratch with config/train/demo.yaml (the backbone, sizes, lr,
batch and steps of the demo policy) but without proprioception, as in RoboVLMs where the
policy sees only images and language. It is then evaluated through the ROS graph on held-out
scenes and phrasings, CALVIN-style. A --demos directory that does not exist yet is collected
first, as `make train-demo` collects it (400 expert demos of the four tasks, velocity noise and
approach jitter). Writes bench/results/ablation.json, ablation.md (table with
Wilson 95 % intervals) and ablation_chain.png (success vs tasks in a row). `--extra NAME=EVAL.json`
adds rows evaluated elsewhere (the demo policy, the scripted expert) to the table and plot.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from robovla.model.config import FORMULATIONS  # noqa: E402
from robovla.sim.benchmark import comparable_rows, comparison_table, plot_chain  # noqa: E402
from study_stages import run_logged as _run  # noqa: E402

TASKS = "open_drawer,close_drawer,turn_on_light,turn_off_light"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demos", required=True, help="episode bags (make train-demo collects them)")
    ap.add_argument("--runs", default="runs/ablation", help="directory for the training runs and evals")
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the demo preset's)")
    ap.add_argument("--episodes", type=int, default=48, help="eval episodes per formulation")
    ap.add_argument("--chain", type=int, default=2, help="tasks in a row per episode")
    ap.add_argument("--jobs", type=int, default=2, help="parallel evaluation graphs (and collection processes)")
    ap.add_argument("--collect", type=int, default=400, help="demos to collect when --demos does not exist")
    ap.add_argument("--tasks", default=TASKS)
    ap.add_argument("--formulations", default=",".join(FORMULATIONS))
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=EVAL.json", help="extra rows")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ablation"))
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows (results, timings) of the existing --out JSON that this run does not redo; "
                         "its tasks, episodes and chain must match")
    args = ap.parse_args()

    runs = Path(args.runs).resolve()
    runs.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    demos = Path(args.demos)
    if not demos.exists():  # collected beside it and renamed when complete: a half-collected set is never used
        partial = demos.with_name(demos.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        _run([py, "-m", "robovla", "collect", "--offline", "--episodes", str(args.collect), "--tasks", args.tasks,
              "--noise", "0.02", "--approach-jitter", "0.025", "--jobs", str(args.jobs), "--out", str(partial)],
             runs / "collect.log")
        partial.rename(demos)
    summaries: dict[str, dict] = {}
    timings: dict[str, dict] = {}
    kept: list[str] = []
    out = Path(args.out)
    if args.merge and out.with_suffix(".json").is_file():  # keep the rows this run does not redo
        before = comparable_rows(out.with_suffix(".json"), args.tasks.split(","), args.episodes, args.chain,
                                 args.formulations.split(","))
        summaries.update(before["results"])
        timings.update(before["timings"])
        kept = list(before["results"])
    for form in [f for f in args.formulations.split(",") if f]:
        run = runs / form
        t0 = time.monotonic()
        trained = (run / "result.json").is_file()
        if not trained:
            cmd = [py, "-m", "robovla", "train", "--data", args.demos, "--out", str(run), "--preset", "demo",
                   "--set", f"model.formulation={form}", "--set", "model.state_input=false", "--no-progress"]
            if args.steps:
                cmd += ["--steps", str(args.steps)]
            _run(cmd, runs / f"{form}_train.log")
        t_train = None if trained else round(time.monotonic() - t0, 1)  # None: a run reused from before
        run_result = json.loads((run / "result.json").read_text())
        ckpt = run_result["checkpoint_dir"]  # the trainer's pick (best validation, else final)
        t0 = time.monotonic()
        result = run / "eval.json"
        evaluated = result.is_file()
        if not evaluated:
            _run([py, "-m", "robovla", "eval", "--policy", str(ckpt), "--tasks", args.tasks, "--episodes",
                  str(args.episodes), "--chain", str(args.chain), "--gif", "0", "--jobs", str(args.jobs),
                  "--out", str(result)],
                 runs / f"{form}_eval.log")
        summaries[form] = json.loads(result.read_text())
        timings[form] = {"train_s": t_train, "eval_s": None if evaluated else round(time.monotonic() - t0, 1),
                         "val_action_mse": run_result["val_metrics"].get("val_action_mse")}
    for item in args.extra:
        name, _, path = item.partition("=")
        summaries[name] = json.loads(Path(path).read_text())

    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"tasks": args.tasks.split(","), "episodes": args.episodes,
                                                    "chain": args.chain, "timings": timings,
                                                    "results": summaries}, indent=2))
    table = comparison_table(summaries, args.tasks.split(","), args.chain)
    out.with_suffix(".md").write_text(
        f"# Formulation ablation ({args.episodes} held-out episodes each, chains of {args.chain}, tasks {args.tasks})\n\n"
        f"{table}\n\nCommand: `python bench/bench_ablation.py {' '.join(sys.argv[1:])}`"
        + (f" (rows {', '.join(kept)} kept from the earlier run of this file, same demos, steps and episodes)" if kept else "")
        + "\n")
    plot_chain(summaries, out.with_name(out.name + "_chain.png"),
               title=f"{args.episodes} held-out episodes, chains of {args.chain}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
