"""Benchmark `robovla eval` in lock-step: episodes per minute and real-time factor (sim seconds per
wall second) through the whole graph, for the committed demo VLA (and the scripted expert).

Each configuration runs the real command (`robovla eval --policy ... --gif 0`) and reads the figures
the eval JSON records; graph start-up (a minute on a loaded machine: torch, the checkpoint) is not
counted, only the episodes. The machine's load average is recorded beside each figure: on a shared
2-core machine other jobs take CPU from the graph, and the lock-step real-time factor shows it
(a lock-stepped score does not: test/graph/test_lockstep.py).

Where the time goes: the CPU seconds of every process of the graph while the episodes run (from
the first progress line to the end; start-up not counted), per simulated second. Their sum over the
cores is the ceiling no scheduling can beat: the real-time factor of a graph that kept every core
busy with nothing else.

Writes bench/results/eval_lockstep.json and bench/results/eval_lockstep.md. Run:
    source scripts/env.sh && python bench/bench_eval.py [--episodes 12] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from robovla.sim.step_timing import PHASES, parse_summary

ROOT = Path(__file__).resolve().parents[1]
DEMO_TASKS = "close_drawer,open_drawer,turn_on_light,turn_off_light"


def _configs(episodes: int) -> list[tuple[str, list[str]]]:
    demo = ["--policy", "checkpoints/demo", "--episodes", str(episodes), "--tasks", DEMO_TASKS, "--gif", "0"]
    expert = ["--policy", "scripted", "--episodes", str(episodes), "--gif", "0"]
    return [
        ("demo VLA, latency model 0 ms", demo),
        ("demo VLA, latency model 0 ms, 224 px frames (--render-size config)", demo + ["--render-size", "config"]),
        ("demo VLA, latency model 0 ms, 2 graphs (--jobs 2)", demo + ["--jobs", "2"]),
        ("demo VLA, latency model 100 ms", demo + ["--latency-ms", "100"]),
        ("scripted expert (no VLA, no images)", expert),
        ("scripted expert, 2 graphs (--jobs 2)", expert + ["--jobs", "2"]),
    ]


def _run(label: str, eval_args: list[str], tmp: Path, cores: list[int] | None) -> dict:
    out = tmp / f"{len(list(tmp.iterdir()))}.json"
    cmd = ["robovla", "eval", *eval_args, "--out", str(out), "--logs", str(out.with_suffix(""))]
    load_before = os.getloadavg()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)
    cpu = _CpuMeter(proc)
    if proc.wait(timeout=3600) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{cpu.output()[-6000:]}")
    s = json.loads(out.read_text())
    per_process = cpu.seconds()
    return {
        "label": label,
        "command": "robovla eval " + " ".join(shlex.quote(a) for a in eval_args) + " --out X.json",
        "episodes": s["episodes"],
        "success_rate": s["success_rate"],
        "sim_s": s["sim_s"],
        "episodes_wall_s": s["episodes_wall_s"],
        "total_wall_s": time.monotonic() - started,
        "real_time_factor": s["real_time_factor"],
        "episodes_per_minute": s["episodes_per_minute"],
        "lockstep_stalls": s["lockstep_stalls"],
        "jobs": s.get("jobs", 1),
        # per attempt: the outcome and the sim seconds (what must not change with --jobs or load)
        "attempts": [(a["task"], a["success"], a["steps"], round(a["duration_s"], 2))
                     for r in s["records"] for a in r["attempts"]],
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_s_per_sim_s": {k: round(v / s["sim_s"], 4) for k, v in sorted(per_process.items())},
        "wall_ms_per_step": _step_timing(out.with_suffix("")),
    }


def _step_timing(logs: Path) -> dict[str, float]:
    """The sims' own account of a lock-stepped step's wall time (robovla.sim.step_timing), every
    graph of the run taken together."""
    found = [t for f in sorted(logs.rglob("sim.log")) if (t := parse_summary(f.read_text(errors="replace")))]
    if not found:
        return {}
    timing = found[0]
    for t in found[1:]:
        timing = timing.merged(t)
    out = {k: round(v, 3) for k, v in timing.per_step_ms().items()}
    out["steps"], out["graphs"] = timing.steps, len(found)
    return out


def _tag(cmdline: list[str]) -> str:
    """A graph process by what it runs: a node executable, a container's nodes, the eval client."""
    args = cmdline[: cmdline.index("--ros-args")] if "--ros-args" in cmdline else cmdline
    for i, a in enumerate(args):
        if "/lib/robovla/" in a:
            name = Path(a).name
            return f"{name} ({', '.join(args[i + 1:])})" if name == "container" else name
        if Path(a).name.startswith("robovla") and i + 1 < len(args) and not args[i + 1].startswith("-"):
            return f"robovla {args[i + 1]} (client)"  # the command, or a --jobs shard (python -m robovla...)
    return Path(args[0]).name if args else "?"


class _CpuMeter:
    """CPU seconds (user + system) of a command's process tree from its first progress line (the
    episodes start) to its end, by process; the command's output is kept for errors."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self._root = proc, psutil.Process(proc.pid)
        self._chunks: list[bytes] = []
        self._started = threading.Event()
        self._base: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._readers = [threading.Thread(target=self._read, args=(f,), daemon=True) for f in (proc.stdout, proc.stderr)]
        for t in self._readers:
            t.start()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def _read(self, stream) -> None:
        tail = b""
        for chunk in iter(lambda: stream.read1(4096), b""):
            self._chunks.append(chunk)
            if b"0%|" in tail + chunk:  # tqdm's first bar: the graph is up and the first episode starts
                self._started.set()
            tail = chunk[-2:]  # a mark split across two reads

    def _sample(self) -> dict[int, tuple[str, float]]:
        out = {}
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return out
        for p in procs:
            try:
                t = p.cpu_times()
                out[p.pid] = (_tag(p.cmdline()), t.user + t.system)
            except psutil.Error:
                continue
        return out

    def _poll(self) -> None:
        self._started.wait()
        self._base = {pid: c for pid, (_, c) in self._sample().items()}
        while self.proc.poll() is None:
            self._last.update(self._sample())
            time.sleep(0.2)

    def output(self) -> str:
        for t in self._readers:
            t.join(5)
        return b"".join(self._chunks).decode(errors="replace")

    def seconds(self) -> dict[str, float]:
        """CPU seconds per process tag while the episodes ran (the last sample before each process ended)."""
        self._poller.join(5)
        self.output()
        by_tag: dict[str, float] = {}
        for pid, (tag, c) in self._last.items():
            by_tag[tag] = by_tag.get(tag, 0.0) + c - self._base.get(pid, 0.0)
        return by_tag


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=12, help="episodes per configuration")
    parser.add_argument("--cores", type=int, default=2, help="pin the graph to this many CPU cores (0 = all)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))[: args.cores] if args.cores and hasattr(os, "sched_setaffinity") else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        for label, eval_args in _configs(args.episodes):
            print(f"{label} ...", file=sys.stderr, flush=True)
            rows.append(_run(label, eval_args, Path(tmp), cores))
    result = {
        "cores": len(cores) if cores else os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "command": f"python bench/bench_eval.py --episodes {args.episodes} --cores {args.cores}",
        "goal_real_time_factor": 5.0,
        "runs": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "eval_lockstep.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# Lock-step evaluation throughput (bench/bench_eval.py)",
        "",
        f"`{result['command']}` on {result['cores']} cores. Graph start-up excluded; the load average is the",
        "machine's (1/5/15 min) before each run, other jobs included.",
        "",
        "| configuration | episodes | success | sim s | wall s | real-time factor | episodes/min | stalls | load before |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        md.append(f"| {r['label']} | {r['episodes']} | {r['success_rate']:.2f} | {r['sim_s']:.1f} | "
                  f"{r['episodes_wall_s']:.1f} | {r['real_time_factor']:.2f}x | {r['episodes_per_minute']:.1f} | "
                  f"{r['lockstep_stalls']} | {' / '.join(f'{x:.1f}' for x in r['load_average_before'])} |")
    best = max((r for r in rows if r["label"].startswith("demo VLA")), key=lambda r: r["real_time_factor"])
    by_label = {r["label"]: r for r in rows}
    one, two = by_label["demo VLA, latency model 0 ms"], by_label["demo VLA, latency model 0 ms, 2 graphs (--jobs 2)"]
    same = {tuple(map(tuple, r["attempts"])) for r in (one, two)}
    full = by_label["demo VLA, latency model 0 ms, 224 px frames (--render-size config)"]
    pairs = list(zip(one["attempts"], full["attempts"]))
    md += ["", f"Goal: >= 5x real time on 2 cores for the demo VLA: best {best['real_time_factor']:.2f}x "
               f"({best['label']}): {'met' if best['real_time_factor'] >= 5.0 else 'NOT met'}.",
           f"Demo VLA at 0 ms with 1 and 2 graphs: per-episode outcomes, steps and sim seconds "
           f"{'identical' if len(same) == 1 else 'DIFFER'}.",
           f"Frames rendered at the policy's 64 px vs 224 px shrunk by camera_sync: the same outcome in "
           f"{sum(a[1] == b[1] for a, b in pairs)} of {len(pairs)} episodes, the same step count in "
           f"{sum(a[2] == b[2] for a, b in pairs)}.", "", "Commands:", ""]
    md += [f"- {r['label']}: `{r['command']}`" for r in rows]
    md += ["", "Where the CPU goes: CPU seconds per simulated second of each process while the episodes ran "
               "(start-up not counted); the ceiling is the real-time factor if that work kept every core busy "
               "and nothing else ran.", ""]
    # a process with no measurable CPU (e.g. the git the client runs for its version record) gets no column
    tags = sorted({t for r in rows for t, v in r["cpu_s_per_sim_s"].items() if v >= 0.0005})
    md += ["| configuration | " + " | ".join(tags) + " | total | ceiling on "
           f"{result['cores']} cores |", "|---|" + "---|" * (len(tags) + 2)]
    for r in rows:
        c = r["cpu_s_per_sim_s"]
        total = sum(c.values())
        md.append(f"| {r['label']} | " + " | ".join(f"{c[t]:.3f}" if t in c else "-" for t in tags)
                  + f" | {total:.3f} | {result['cores'] / total:.2f}x |")
    md += ["", "Where the wall time goes: each sim's own account of a lock-stepped control step (robovla.sim.step_timing), "
               "ms per step averaged over the run: the sim's physics and bookkeeping, publishing the state and "
               "/clock, rendering and publishing the frames (on the frame steps), then waiting for the graph's "
               "answer, given also per policy step (the first command answering a new frame: perception, policy and "
               "control) and per other step (control only). The loop is serial, so one graph's real-time factor is "
               "the control period (20 ms) over the total.", "",
           "| configuration | " + " | ".join(PHASES) + " | total | answer per policy step | answer per other step "
           "| one graph's real-time factor from it |", "|---|" + "---|" * (len(PHASES) + 4)]
    for r in rows:
        w = r["wall_ms_per_step"]
        if w:
            md.append(f"| {r['label']} | " + " | ".join(f"{w[p]:.2f}" for p in PHASES)
                      + f" | {w['total']:.2f} | {w['answer_policy_step']:.2f} | {w['answer_other_step']:.2f} "
                      f"| {w['real_time_factor']:.2f}x |")
    (args.out / "eval_lockstep.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
