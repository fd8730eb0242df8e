"""The colcon install is what users run: these tests use it and nothing of src/.

A robot PC does `colcon build` (often without --symlink-install), sources install/setup.bash and
runs `ros2 launch` / `ros2 run` / `robovla`; `make setup` builds with --symlink-install. Both
layouts are checked: the suite's own install, and a copy-install built here from the sources.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import ROOT, SRC, install_env, robovla

ament = pytest.importorskip("ament_index_python.packages")

IMPORTS = ("import robovla.model, robovla.train, robovla.nodes.vla_inference, robovla.cli.main; "
           "from robovla.model import VLAModel; from robovla.train import TrainingError; "
           "from robovla.msg import Observation; from robovla.action import ExecuteInstruction; "
           "import robovla; print(robovla.__file__)")


def _prefix() -> Path:
    return Path(ament.get_package_prefix("robovla"))


def _node_modules() -> set[str]:
    return {p.stem for p in (SRC / "robovla" / "nodes").glob("[a-z]*.py")}


def check_install(prefix: Path, env: dict[str, str]) -> None:
    """What a user of `prefix` relies on: executables that run, every subpackage importable."""
    lib = prefix / "lib" / "robovla"
    assert {p.name for p in lib.iterdir()} == _node_modules()
    for exe in [*lib.iterdir(), prefix / "bin" / "robovla"]:
        assert os.access(exe, os.X_OK), f"{exe} is not executable (mode {exe.stat().st_mode:o})"
    out = subprocess.run([sys.executable, "-c", IMPORTS], env=env, cwd="/", capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().startswith(str(prefix)), f"robovla came from {out.stdout.strip()}, not {prefix}"
    helped = subprocess.run([str(prefix / "bin" / "robovla"), "--help"], env=env, cwd="/", capture_output=True,
                            text=True, timeout=120)
    assert helped.returncode == 0 and "bringup" in helped.stdout, helped.stderr[-3000:]
    share = prefix / "share" / "robovla"
    for resource in ("launch/bringup.launch.py", "config/graph.yaml", "config/robovla.yaml",
                     "checkpoints/demo/vla_config.yaml", "checkpoints/demo/model.safetensors"):
        assert (share / resource).is_file(), f"{resource} is not installed"


def test_the_suite_runs_the_installed_package() -> None:
    import robovla

    assert str(SRC) not in os.environ.get("PYTHONPATH", "").split(os.pathsep), "src/ must not be on PYTHONPATH"
    assert robovla.__file__.startswith(str(_prefix())), f"robovla imported from {robovla.__file__}"


def test_symlink_install_is_complete() -> None:
    check_install(_prefix(), install_env())


def test_robovla_command_from_outside_the_checkout(tmp_path: Path) -> None:
    proc = robovla("--help", cwd=tmp_path)
    assert proc.returncode == 0 and "collect" in proc.stdout, proc.stderr


def _started(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    """Output of `proc` up to the first line containing `needle` (AssertionError on timeout/exit)."""
    seen = ""
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < deadline:
        chunk = proc.stdout.read()
        if chunk:
            seen += chunk.decode(errors="replace")
            if needle in seen:
                return seen
        elif proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never appeared (exit {proc.poll()}):\n{seen[-3000:]}")


def run_wrapper_and_interrupt(exe: Path, env: dict[str, str], sig: int = signal.SIGINT) -> None:
    """`ros2 run robovla task_manager` as launch does it: the wrapper itself, then `sig` -> exit 0."""
    proc = subprocess.Popen([str(exe)], env=dict(env, PYTHONUNBUFFERED="1", RCUTILS_LOGGING_BUFFERED_STREAM="0"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd="/")
    try:
        _started(proc, "ready: robovla/execute_instruction", 60)
        proc.send_signal(sig)
        code = proc.wait(20)
        rest = proc.stdout.read() or b""
        assert code == 0, f"exit {code} on {signal.Signals(sig).name}:\n{rest.decode(errors='replace')[-2000:]}"
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_copy_install_without_symlinks(tmp_path: Path) -> None:
    """What a robot PC's plain `colcon build` produces: sources copied, not linked."""
    import shutil

    if shutil.which("colcon") is None:
        pytest.skip("colcon not installed")
    build, install = tmp_path / "build", tmp_path / "install"
    import numpy

    # as scripts/setup.sh does: the NumPy include dir through a link outside the source tree
    numpy_link = tmp_path / "numpy-include"
    numpy_link.symlink_to(numpy.get_include())
    cmake_args = [f"-DPython3_EXECUTABLE={sys.executable}", "-DBUILD_TESTING=OFF",
                  f"-DPython3_NumPy_INCLUDE_DIR={numpy_link}"]
    env = install_env()
    if "VIRTUAL_ENV" in env and not Path("/opt/ros").is_dir():  # the wheels' venv is the ROS prefix
        for var in ("AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH"):
            env[var] = os.pathsep.join(filter(None, [env.get(var, ""), env["VIRTUAL_ENV"]]))
    out = subprocess.run(["colcon", "--log-base", str(tmp_path / "log"), "build", "--paths", str(ROOT),
                          "--build-base", str(build), "--install-base", str(install),
                          "--event-handlers", "console_direct-", "--cmake-args", *cmake_args],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    prefix = install / "robovla"
    assert not any(p.is_symlink() for p in (prefix / "lib").rglob("*.py")), "a copy install has no links"
    # the new install in place of the suite's one, as if only it had been sourced
    env = install_env()
    old = str(_prefix())
    site = next((prefix / "lib").glob("python3*/site-packages"))
    for var, first in (("PYTHONPATH", site), ("AMENT_PREFIX_PATH", prefix)):
        kept = [p for p in env.get(var, "").split(os.pathsep) if p and not p.startswith(old)]
        env[var] = os.pathsep.join([str(first), *kept])
    check_install(prefix, env)
    run_wrapper_and_interrupt(prefix / "lib" / "robovla" / "task_manager", env)


def test_node_wrapper_runs_and_exits_cleanly_every_time() -> None:
    """The exit abort was intermittent (9 of 12 stops before the fix): repeat both signals."""
    for sig in (signal.SIGINT, signal.SIGTERM) * 3:
        run_wrapper_and_interrupt(_prefix() / "lib" / "robovla" / "task_manager", install_env(), sig)
