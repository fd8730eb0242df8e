"""The committed demo VLA on all nine sim tasks, CALVIN-style, with the scripted expert beside it
and the two controls (blank cameras, wrong instruction).

    source scripts/env.sh && python bench/bench_demo_tasks.py [--policy checkpoints/demo] [--episodes 45] [--chain 5]

Every row is a `robovla eval` run (lock-step, held-out seeds and phrasings, tasks rotating over
the episodes, chains of --chain on the same scene until one fails), so the figures do not depend
on the machine's load. A run whose JSON exists under --runs is reused. Writes
bench/results/demo_tasks.json, demo_tasks.md (Wilson 95 % intervals) and demo_tasks_chain.png.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from robovla.sim.benchmark import comparable_rows, comparison_table, plot_chain  # noqa: E402
from robovla.sim.tasks import TASKS  # noqa: E402

#: row name -> (policy, extra eval arguments); "{policy}" is --policy
ROWS = {
    "demo VLA": ("{policy}", []),
    "scripted expert (reference)": ("scripted", []),
    "demo VLA, blank cameras": ("{policy}", ["--control", "blank-cameras"]),
    "demo VLA, wrong instruction": ("{policy}", ["--control", "wrong-instruction"]),
}


def _row_names(text: str) -> list[str]:
    """--rows as names: comma-separated, where a name may hold a comma itself ("demo VLA, blank
    cameras"): the longest name that fits is taken first."""
    parts, names, i = text.split(","), [], 0
    while i < len(parts):
        for j in range(len(parts), i, -1):
            candidate = ",".join(parts[i:j]).strip()
            if candidate in ROWS:
                names.append(candidate)
                i = j
                break
        else:
            raise SystemExit(f"--rows: no row starts at {','.join(parts[i:])!r}; the rows are {list(ROWS)}")
    return names


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default="checkpoints/demo", help="a checkpoint dir (relative: to the checkout)")
    ap.add_argument("--episodes", type=int, default=45, help="episodes (chains) per row; tasks rotate")
    ap.add_argument("--chain", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--runs", default="runs/demo_tasks", help="directory for the eval JSONs and logs")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "demo_tasks"))
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows to run (default: all of {list(ROWS)})")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of the existing --out JSON that this run does not redo (same tasks, "
                         "episodes and chain)")
    args = ap.parse_args()
    rows = {n: ROWS[n] for n in _row_names(args.rows)}

    runs = Path(args.runs).resolve()
    runs.mkdir(parents=True, exist_ok=True)
    tasks = [t for t in args.tasks.split(",") if t]
    summaries: dict[str, dict] = {}
    commands: dict[str, str] = {}
    out = Path(args.out)
    kept: list[str] = []
    if args.merge and out.with_suffix(".json").is_file():  # keep the rows this run does not redo
        before = comparable_rows(out.with_suffix(".json"), tasks, args.episodes, args.chain, list(rows))
        summaries.update(before["results"])
        commands.update(before["commands"])
        kept = list(before["results"])
    for name, (policy, extra) in rows.items():
        i = list(ROWS).index(name)
        result = runs / f"row{i}.json"
        cmd = [sys.executable, "-m", "robovla", "eval", "--policy", policy.format(policy=args.policy),
               "--tasks", args.tasks, "--episodes", str(args.episodes), "--chain", str(args.chain), "--gif", "0",
               "--jobs", str(args.jobs), *extra, "--out", str(result)]
        commands[name] = " ".join(["robovla", *cmd[3:-1], "ROW.json"])
        if not result.is_file():
            print("$", commands[name], flush=True)
            with (runs / f"row{i}.log").open("w") as log:
                if subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT).returncode != 0:
                    raise SystemExit(f"{name}: eval failed; see {runs / f'row{i}.log'}")
        summaries[name] = json.loads(result.read_text())

    order = {n: i for i, n in enumerate(ROWS)}
    summaries = dict(sorted(summaries.items(), key=lambda kv: order.get(kv[0], len(order))))
    commands = {n: commands[n] for n in summaries}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"tasks": tasks, "episodes": args.episodes, "chain": args.chain,
                                                    "commands": commands, "results": summaries}, indent=2))
    table = comparison_table(summaries, tasks, args.chain)
    stalls = {n: s.get("lockstep_stalls") for n, s in summaries.items()}
    lines = [f"# The demo VLA on all nine tasks ({args.episodes} held-out episodes per row, chains of {args.chain})",
             "", table, "",
             "Per-task columns count every attempt, chain links included. Lock-step stalls per row: "
             + ", ".join(f"{n} {v}" for n, v in stalls.items()) + ".", "",
             f"Command: `python bench/bench_demo_tasks.py {shlex.join(sys.argv[1:])}`"
             + (f" (rows {', '.join(kept)} kept from the earlier run of this file)" if kept else "") + "; each row:", ""]
    lines += [f"- {n}: `{c}`" for n, c in commands.items()]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    plot_chain(summaries, out.with_name(out.name + "_chain.png"),
               title=f"{args.episodes} held-out episodes, chains of {args.chain}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
