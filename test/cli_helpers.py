"""Running this checkout's code in child processes, as users and ROS launch do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")


def src_env(**extra: str) -> dict[str, str]:
    """The environment with this checkout's src/ first on PYTHONPATH (ROS paths kept)."""
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra}


def run_module(module: str, *args: str, timeout: float = 580) -> subprocess.CompletedProcess:
    """`python -m module args...` from the repository root, output captured."""
    return subprocess.run([sys.executable, "-m", module, *args], env=src_env(), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def robovla(*args: str, timeout: float = 580) -> subprocess.CompletedProcess:
    """The `robovla` CLI."""
    return run_module("robovla.cli.main", *args, timeout=timeout)


def assert_ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
