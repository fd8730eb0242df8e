"""Does a pretrained text side help the tiny VLA understand phrasings it never saw?

    source scripts/env.sh && python bench/bench_text_init.py --demos runs/train_demo/demos [--steps 3000] [--episodes 24]

Trains the demo policy (config/train/demo.yaml) twice on the same demonstrations and budget,
once with the random byte-level BPE text side (`tiny.text_init: random`, the demo's) and once
with wordllama's Llama-2 tokenizer and token embeddings (`tiny.text_init: wordllama`), both runs
at once, one CPU thread each. Each is evaluated through the ROS graph, lock-stepped, on held-out
scenes with the held-out phrasings (`--split eval`: wordings absent from the demonstrations) and
with the training phrasings (`--split train`), so a difference in understanding shows as the gap
between the two. Writes bench/results/text_init.{json,md} with Wilson 95 % intervals.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = "open_drawer,close_drawer,turn_on_light,turn_off_light"
VARIANTS = ("random", "wordllama")
SPLITS = ("eval", "train")


def _train(demos: str, run: Path, variant: str, steps: int | None, log: Path) -> subprocess.Popen | None:
    if (run / "result.json").is_file():
        return None  # trained before: reused
    cmd = ["robovla", "train", "--data", demos, "--out", str(run), "--preset", "demo", "--no-progress",
           "--set", f"model.tiny.text_init={variant}"]
    if steps:
        cmd += ["--steps", str(steps)]
    print("$", " ".join(cmd), flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two runs share two cores
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT, env=env)


def _eval(ckpt: str, split: str, episodes: int, tasks: str, out: Path, log: Path) -> dict:
    if not out.is_file():
        cmd = ["robovla", "eval", "--policy", ckpt, "--tasks", tasks, "--episodes", str(episodes), "--split", split,
               "--gif", "0", "--out", str(out)]
        print("$", " ".join(cmd), flush=True)
        with log.open("w") as f:
            if subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT).returncode != 0:
                raise SystemExit(f"eval failed; see {log}")
    return json.loads(out.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demos", required=True, help="episode bags (make train-demo collects them)")
    ap.add_argument("--runs", default="runs/text_init", help="directory for the training runs and evals")
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the demo preset's)")
    ap.add_argument("--episodes", type=int, default=24, help="eval episodes per variant and split")
    ap.add_argument("--tasks", default=TASKS)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "text_init"))
    args = ap.parse_args()
    runs = Path(args.runs).resolve()
    runs.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    procs = {v: _train(args.demos, runs / v, v, args.steps, runs / f"{v}_train.log") for v in VARIANTS}
    for v, proc in procs.items():
        if proc is not None and proc.wait() != 0:
            raise SystemExit(f"training {v} failed; see {runs / f'{v}_train.log'}")
    train_s = round(time.monotonic() - started, 1)
    rows = []
    for v in VARIANTS:
        result = json.loads((runs / v / "result.json").read_text())
        row = {"text_init": v, "checkpoint": result["checkpoint_dir"], "steps": result["steps_done"],
               "val_action_mse": result["val_metrics"].get("val_action_mse")}
        for split in SPLITS:
            s = _eval(result["checkpoint_dir"], split, args.episodes, args.tasks, runs / f"{v}_{split}.json",
                      runs / f"{v}_{split}_eval.log")
            detail = s["per_task_detail"]
            row[split] = {"success_rate": s["success_rate"], "ci95": s["success_rate_ci95"],
                          "successes": sum(d["successes"] for d in detail.values()),
                          "n": sum(d["n"] for d in detail.values()),
                          "per_task": {t: f"{d['successes']}/{d['n']}" for t, d in detail.items()}}
        rows.append(row)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = f"python bench/bench_text_init.py {' '.join(sys.argv[1:])}"
    out.with_suffix(".json").write_text(json.dumps({"command": command, "tasks": args.tasks.split(","),
                                                    "episodes": args.episodes, "train_wall_s": train_s,
                                                    "rows": rows}, indent=2) + "\n")
    lines = ["| text side | steps | val action MSE | held-out phrasings [95 % CI] | training phrasings [95 % CI] | "
             "held-out per task |", "|---|---|---|---|---|---|"]
    for r in rows:
        ev, tr = r["eval"], r["train"]
        lines.append(f"| {r['text_init']} | {r['steps']} | {r['val_action_mse']:.4f} | {ev['successes']}/{ev['n']} = "
                     f"{ev['success_rate']:.2f} [{ev['ci95'][0]:.2f}, {ev['ci95'][1]:.2f}] | {tr['successes']}/{tr['n']} = "
                     f"{tr['success_rate']:.2f} [{tr['ci95'][0]:.2f}, {tr['ci95'][1]:.2f}] | "
                     + ", ".join(f"{t} {v}" for t, v in ev["per_task"].items()) + " |")
    table = "\n".join(lines)
    out.with_suffix(".md").write_text(
        f"# Text side of the tiny VLA: random BPE vs wordllama initialisation\n\n"
        f"Demo preset, same demonstrations and steps; {args.episodes} lock-stepped held-out scenes per "
        f"variant and split, tasks {args.tasks}; both trainings ran at once on 2 cores ({train_s:.0f} s).\n\n"
        f"{table}\n\nCommand: `{command}`\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
