"""The long studies under bench/ (ablation, post-training, the object task) run for an hour or more
as a chain of commands (collect, train, evaluate), each leaving a file behind. A stage whose file
exists is skipped, so a study interrupted by a session's end or a crash resumes where it stopped.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]


def run_logged(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    """Run a command from the checkout's root with its output in `log`; SystemExit naming the log on failure."""
    print("$", " ".join(cmd), f"> {log}", flush=True)
    with log.open("w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}); see {log}")


class Stages:
    """Resumable stages of a study in `runs`; `timings` holds the wall seconds of those that ran."""

    def __init__(self, runs: Path) -> None:
        self.runs = runs
        self.timings: dict[str, float] = {}

    def run(self, name: str, done: Path, cmd: list[str] | None = None, fn: Callable[[], object] | None = None) -> None:
        """Run `cmd` (logged to runs/<name>.log) or `fn`, unless `done` exists."""
        if done.exists():
            print(f"{name}: reusing {done}", flush=True)
            return
        t0 = time.monotonic()
        if cmd is not None:
            run_logged(cmd, self.runs / f"{name}.log")
        elif fn is not None:
            fn()
        else:
            raise ValueError(f"stage {name}: give a command or a function")
        self.timings[name] = round(time.monotonic() - t0, 1)
