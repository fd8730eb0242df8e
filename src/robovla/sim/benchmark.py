"""CALVIN-style closed-loop evaluation bookkeeping (ROS-free): which task and seed each episode
runs, what came back, and the summary `robovla eval` writes (success rates with Wilson 95 %
intervals, per task, success of 1..N tasks in a row, average chain length), its plot and GIFs.

An episode is a chain of `chain` tasks on one scene: the first task is given (tasks rotate so
every task gets the same share), each next one is whatever the simulator finds feasible from the
scene the previous task left. A chain stops at its first failure, as in CALVIN.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from robovla.sim.tasks import TASK_NAMES, get_task

EVAL_SEED_OFFSET = 100_000  # evaluation scenes never share a seed with collected demonstrations


@dataclass(frozen=True)
class EpisodePlan:
    index: int
    first_task: str
    seed: int


def plan_episodes(episodes: int, tasks: Sequence[str] | None = None, seed: int = EVAL_SEED_OFFSET) -> list[EpisodePlan]:
    """Round-robin over `tasks` (all by default), one distinct seed per episode."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    names = list(tasks or TASK_NAMES)
    for name in names:
        get_task(name)  # unknown names fail here, before any graph starts
    return [EpisodePlan(i, names[i % len(names)], seed + i) for i in range(episodes)]


@dataclass
class TaskAttempt:
    task: str
    instruction: str
    success: bool
    steps: int  # action chunks the graph executed
    duration_s: float
    message: str = ""


@dataclass
class EpisodeRecord:
    index: int
    seed: int
    attempts: list[TaskAttempt] = field(default_factory=list)

    @property
    def completed(self) -> int:
        """Tasks done in a row from the start of the chain."""
        n = 0
        for a in self.attempts:
            if not a.success:
                break
            n += 1
        return n


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval: well behaved at 0 %, 100 % and small n (unlike mean +- 2 se)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _rate(successes: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(successes, n)
    return {"rate": successes / n if n else 0.0, "successes": successes, "n": n, "ci95": [lo, hi]}


def summarize(records: Sequence[EpisodeRecord], chain: int, **meta: Any) -> dict[str, Any]:
    """The JSON `robovla eval` writes."""
    attempts = [a for r in records for a in r.attempts]
    per_task: dict[str, list[bool]] = {}
    per_phrasing: dict[str, dict[str, list[bool]]] = {}  # a paraphrase the policy misreads shows here
    for a in attempts:
        per_task.setdefault(a.task, []).append(a.success)
        per_phrasing.setdefault(a.task, {}).setdefault(a.instruction, []).append(a.success)
    # the first task of every chain, the plain single-task success rate
    first = [r.attempts[0].success for r in records if r.attempts]
    n = len(records)
    chain_rates = [_rate(sum(r.completed >= k for r in records), n) for k in range(1, chain + 1)]
    return {
        **meta,
        "episodes": n,
        "chain": chain,
        "success_rate": sum(first) / len(first) if first else 0.0,
        "success_rate_ci95": list(wilson_interval(sum(first), len(first))),
        "per_task": {t: sum(v) / len(v) for t, v in sorted(per_task.items())},
        "per_task_detail": {t: _rate(sum(v), len(v)) for t, v in sorted(per_task.items())},
        "per_instruction_detail": {t: {i: _rate(sum(v), len(v)) for i, v in sorted(by.items())}
                                   for t, by in sorted(per_phrasing.items())},
        "chain_success": [c["rate"] for c in chain_rates],
        "chain_success_detail": chain_rates,
        "avg_len": float(np.mean([r.completed for r in records])) if records else 0.0,
        "avg_steps": float(np.mean([a.steps for a in attempts])) if attempts else 0.0,
        "records": [asdict(r) for r in records],
    }


def write_summary(summary: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def summary_table(summary: dict[str, Any]) -> str:
    """A short Markdown table of a summary."""
    lines = ["| task | success | 95% CI | n |", "|---|---|---|---|"]
    for task, d in summary["per_task_detail"].items():
        lines.append(f"| {task} | {d['rate']:.2f} | {d['ci95'][0]:.2f}-{d['ci95'][1]:.2f} | {d['n']} |")
    lo, hi = summary["success_rate_ci95"]
    lines.append(f"| **all (first task)** | **{summary['success_rate']:.2f}** | {lo:.2f}-{hi:.2f} | {summary['episodes']} |")
    phrasings = summary.get("per_instruction_detail", {})
    if any(len(by) > 1 for by in phrasings.values()):
        lines += ["", "| task | instruction | success |", "|---|---|---|"]
        for task, by in phrasings.items():
            lines += [f"| {task} | {i} | {d['successes']}/{d['n']} |" for i, d in by.items()]
    if summary["chain"] > 1:
        rates = " / ".join(f"{r:.2f}" for r in summary["chain_success"])
        lines.append(f"\n1..{summary['chain']} tasks in a row: {rates}; average length {summary['avg_len']:.2f}")
    return "\n".join(lines)


def comparison_table(summaries: dict[str, dict[str, Any]], tasks: Sequence[str], chain: int) -> str:
    """One Markdown row per policy: first-task success with its Wilson interval, k-in-a-row rates,
    average chain length and successes per task (the ablation's and the post-training study's table)."""
    head = (["policy", "first task success [95 % CI]"] + [f"{i} in a row" for i in range(1, chain + 1)]
            + ["avg len"] + list(tasks))
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, s in summaries.items():
        lo, hi = s["success_rate_ci95"]
        rates = [f"{r:.2f}" for r in s["chain_success"]][:chain]
        rates += ["-"] * (chain - len(rates))
        detail = s["per_task_detail"]
        per_task = [f"{detail[t]['successes']}/{detail[t]['n']}" if t in detail else "-" for t in tasks]
        lines.append("| " + " | ".join([name, f"{s['success_rate']:.2f} [{lo:.2f}, {hi:.2f}]", *rates,
                                        f"{s['avg_len']:.2f}", *per_task]) + " |")
    return "\n".join(lines)


def comparable_rows(path: str | Path, tasks: Sequence[str], episodes: int, chain: int,
                    redo: Sequence[str]) -> dict[str, Any]:
    """The rows (name -> that row's entries) of an earlier comparison JSON a bench keeps when it
    re-runs only `redo`: only from a file measured on the same tasks, episodes and chain length
    (ValueError otherwise). Each list or dict of the file keyed by row name is filtered the same way."""
    before = json.loads(Path(path).read_text())
    if (list(before["tasks"]), before["episodes"], before["chain"]) != (list(tasks), episodes, chain):
        raise ValueError(f"{path} was measured on tasks {before['tasks']}, {before['episodes']} episodes, "
                         f"chains of {before['chain']}: not comparable")
    return {k: {n: v for n, v in before[k].items() if n not in redo}
            for k in before if isinstance(before[k], dict)}


def plot_chain(summaries: dict[str, dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Success vs number of tasks in a row (CALVIN's plot), one line per policy, 95 % CI bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=120)
    for label, s in summaries.items():
        detail = s["chain_success_detail"]
        k = np.arange(1, len(detail) + 1)
        rate = np.array([d["rate"] for d in detail])
        lo = rate - np.array([d["ci95"][0] for d in detail])
        hi = np.array([d["ci95"][1] for d in detail]) - rate
        ax.errorbar(k, rate, yerr=[lo, hi], marker="o", capsize=3, label=f"{label} (avg len {s['avg_len']:.2f})")
    ax.set_xlabel("tasks completed in a row")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(range(1, max(len(s["chain_success_detail"]) for s in summaries.values()) + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float = 10.0, max_frames: int = 300) -> Path:
    """Animated GIF of RGB frames (every k-th frame when there are more than max_frames)."""
    from PIL import Image

    if not frames:
        raise ValueError(f"no frames to write to {path}")
    step = max(1, math.ceil(len(frames) / max_frames))
    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames[::step]]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 * step / fps), loop=0)
    return path
