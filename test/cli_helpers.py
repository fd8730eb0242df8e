"""Running the installed package in child processes, as users and ROS launch do.

Nothing here puts the checkout's src/ on PYTHONPATH: children import robovla from the colcon
install tree that scripts/env.sh (or install/setup.bash) put on the path, and `robovla` is the
installed command, so a file the install misses fails here as it would on a robot PC.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def install_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout's src/ on PYTHONPATH (ROS and install paths kept)."""
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
             if p and Path(p).resolve() != SRC.resolve()]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(parts), **extra}


def run_module(module: str, *args: str, timeout: float = 580) -> subprocess.CompletedProcess:
    """`python -m module args...` from the repository root, output captured."""
    return subprocess.run([sys.executable, "-m", module, *args], env=install_env(), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def robovla_command() -> str:
    """The installed `robovla` executable on PATH (the colcon install's bin/)."""
    exe = shutil.which("robovla")
    assert exe, "`robovla` is not on PATH: source scripts/env.sh (or install/setup.bash) after make setup"
    return exe


def robovla(*args: str, timeout: float = 580, cwd: Path | str = ROOT) -> subprocess.CompletedProcess:
    """The installed `robovla` command, as a user types it."""
    return subprocess.run([robovla_command(), *args], env=install_env(), capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def assert_ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"


def interrupt(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Ctrl-C a process the test started, as a user would; kill it if it does not end in time."""
    if proc.poll() is not None:
        return
    import signal

    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
