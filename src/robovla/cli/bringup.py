"""`robovla bringup`: the launch file's graph, for machines without launch_ros (PyPI wheels).

Starts each process of config/graph.yaml through its installed executable (lib/robovla/<exe>,
what `ros2 run` and launch_ros start) with the parameters the launch file would give it, and
supervises them as `ros2 launch` does:
- SIGINT, SIGTERM and SIGHUP to the supervisor stop the graph: SIGINT to every process, then
  SIGTERM, then SIGKILL for one that does not exit in time; the exit codes are reported.
- If one process dies, the whole graph is stopped.
- If the supervisor itself dies (SIGKILL, OOM), the kernel sends every process SIGTERM
  (PR_SET_PDEATHSIG), so nothing is left running with parent 1; our nodes take SIGTERM like
  SIGINT, and kinova_control still publishes its zero twist.
- Each process's output is prefixed with its graph process name ([perception] ...) or goes to
  <log_dir>/<process>.log.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from robovla.graph import (LaunchError, NodeSpec, ProcessSpec, choose_sim, config_dir, graph_arguments, group_processes,
                           partial_graph_overrides, resolve_graph, write_params_file)

log = logging.getLogger("robovla.bringup")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


def register(sub, help_text: str) -> None:
    p = sub.add_parser("bringup", help=help_text, description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group()  # one of them is required: robovla.graph.choose_sim says why
    mode.add_argument("--sim", dest="sim", action="store_const", const="true", default="",
                      help="with the MuJoCo Gen3 sim")
    mode.add_argument("--robot", dest="sim", action="store_const", const="false",
                      help="a real Gen3: ros2_kortex must already run")
    p.add_argument("--config", help="parameter file replacing config/robovla.yaml")
    for name, arg in graph_arguments().items():  # the launch file's, from config/graph.yaml
        p.add_argument("--" + name.replace("_", "-"), dest=name, choices=arg.choices or None, help=arg.help)
    p.add_argument("--namespace", default="", help="ROS namespace for the whole graph")
    p.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE", help="override a parameter")
    p.add_argument("--record", action="store_true", help="also start the recorder node")
    p.add_argument("--rviz", action="store_true", help="also start rviz2 with config/robovla.rviz")
    p.add_argument("--only", help="comma-separated node names to start (default: all)")
    p.add_argument("--teleop", action="store_true",
                   help="a graph for `robovla teleop`: no policy nodes, the recorder started (docs/robot.md)")
    p.add_argument("--log-dir", help="write each process's output to DIR/<process>.log instead of the terminal")
    p.set_defaults(func=run)


def parse_overrides(items: list[str]) -> dict[str, object]:
    import yaml

    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise SystemExit(f"--set expects NODE.PARAM=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def node_executable(executable: str) -> Path:
    """lib/robovla/<executable> of the sourced install, as `ros2 run robovla <executable>` finds it."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        prefix = Path(get_package_prefix("robovla"))
    except PackageNotFoundError:
        raise FileNotFoundError("robovla is not in AMENT_PREFIX_PATH: source install/setup.bash "
                                "(or scripts/env.sh) after building") from None
    path = prefix / "lib" / "robovla" / executable
    if not path.is_file():
        raise FileNotFoundError(f"node executable {path} is not installed: rebuild (make setup / colcon build)")
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"node executable {path} is not executable: rebuild (make setup / colcon build)")
    return path


def process_command(proc: ProcessSpec, params_file: Path, namespace: str = "") -> list[str]:
    cmd = [str(node_executable(proc.executable)), *proc.arguments, "--ros-args", *proc.rename_args]
    if namespace:
        cmd += ["-r", f"__ns:=/{namespace.strip('/')}"]
    return cmd + ["--params-file", str(params_file)]


# Resolved here, in the parent: after fork() in a threaded process, the child must not dlopen.
_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None) if sys.platform == "linux" else None


def _die_with_parent(parent: int) -> None:
    """In the child before exec: SIGTERM when the supervisor dies, however it dies."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _prefix_output(name: str, stream: IO[bytes], out: IO[str]) -> None:
    for raw in iter(stream.readline, b""):
        out.write(f"[{name}] {raw.decode(errors='replace')}")
        out.flush()
    stream.close()


class RunningGraph(list):
    """[(ProcessSpec, Popen)] of a started graph, plus the temporary directory of its parameters."""

    tmp_dir: Path | None = None


def start_graph(specs: list[NodeSpec], namespace: str = "", env: dict[str, str] | None = None,
                log_dir: Path | None = None, extra: list[tuple[str, list[str]]] = ()) -> RunningGraph:
    """Start the graph's processes (config/graph.yaml `process:`), plus `extra` (name, argv)
    processes (rviz2); output to log_dir/<process>.log, else to stdout prefixed [process]."""
    tmp = Path(tempfile.mkdtemp(prefix="robovla-bringup-"))
    params_file = write_params_file(specs, tmp / "params.yaml")
    graph = RunningGraph()
    graph.tmp_dir = tmp
    parent = os.getpid()
    try:  # a failure here (an executable missing) stops what started and removes the params dir
        commands = [(p, process_command(p, params_file, namespace)) for p in group_processes(specs)]
        commands += [(ProcessSpec(name, []), argv) for name, argv in extra]
        for proc, cmd in commands:
            out = open(log_dir / f"{proc.name}.log", "wb") if log_dir else subprocess.PIPE
            child = subprocess.Popen(
                cmd, env=env or os.environ.copy(), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor, which stops them in order
                preexec_fn=lambda: _die_with_parent(parent),
            )
            if log_dir:
                out.close()  # the child holds its own descriptor
            else:
                threading.Thread(target=_prefix_output, args=(proc.name, child.stdout, sys.stdout),
                                 name=f"output-{proc.name}", daemon=True).start()
            graph.append((proc, child))
    except BaseException:
        stop_graph(graph)
        raise
    return graph


def stop_graph(procs: list[tuple[ProcessSpec, subprocess.Popen]], timeout: float = 10.0) -> dict[str, int]:
    """SIGINT to every process, SIGTERM to those still running after `timeout`, SIGKILL 3 s later;
    {process: exit code}. Removes the graph's parameter directory."""
    for _, proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    codes: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    for spec, proc in procs:
        for sig, wait_s in ((None, max(0.1, deadline - time.monotonic())), (signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            if sig is not None:
                log.warning("%s did not stop in time: sending %s", spec.name, signal.Signals(sig).name)
                proc.send_signal(sig)
            try:
                proc.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        codes[spec.name] = proc.returncode
    tmp = getattr(procs, "tmp_dir", None)
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    return codes


CHOOSE_ARM = "--sim (the MuJoCo sim) or --robot (a real Gen3; ros2_kortex must already run)"


def run(args: argparse.Namespace) -> int:
    arguments = {name: getattr(args, name, None) for name in graph_arguments()}
    try:
        sim = choose_sim(args.sim, choices=CHOOSE_ARM)
        overrides = parse_overrides(args.set)
        wanted = set(args.only.split(",")) if args.only else None
        if wanted is not None:  # a partial graph: kinova_control watches only what runs
            overrides = {**partial_graph_overrides(sorted(wanted)), **overrides}
        specs = resolve_graph(sim=sim, arguments=arguments, overrides=overrides, config_file=args.config,
                              record=args.record, teleop=args.teleop)
    except (ValueError, FileNotFoundError, LaunchError) as exc:
        log.error("%s", exc)
        return 1
    if wanted is not None:
        unknown = wanted - {s.name for s in specs} - ({"sim"} if not sim else set())
        if unknown:
            log.error("--only: no node named %s in config/graph.yaml", ", ".join(sorted(unknown)))
            return 1
        specs = [s for s in specs if s.name in wanted]
    extra: list[tuple[str, list[str]]] = []
    if args.rviz:
        rviz = shutil.which("rviz2")
        if rviz is None:
            log.error("--rviz: rviz2 is not installed (apt install ros-$ROS_DISTRO-rviz2 on a robot PC; there is no "
                      "PyPI wheel); nothing was started")
            return 1
        extra.append(("rviz2", [rviz, "-d", str(config_dir() / "robovla.rviz")]))
    stop = threading.Event()
    received: list[int] = []

    def on_signal(sig: int, _frame) -> None:
        received.append(sig)
        stop.set()

    # Installed before the children start (they reset to the default dispositions on exec), and
    # explicitly: a shell's background job inherits SIGINT as ignored.
    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    graph: RunningGraph | list = []
    failed = False
    try:
        try:
            graph = start_graph(specs, args.namespace, log_dir=Path(args.log_dir) if args.log_dir else None,
                                extra=extra)
        except FileNotFoundError as exc:  # an executable missing from the install: nothing started
            log.error("%s", exc)
            return 1
        log.info("started %s", ", ".join(f"{s.name}[{p.pid}]" for s, p in graph))
        while not stop.wait(0.5):
            dead = [(s, p) for s, p in graph if p.poll() is not None]
            if dead:
                for s, p in dead:
                    log.error("%s exited with code %s: stopping the graph", s.name, p.returncode)
                failed = True
                break
        if received:
            log.info("%s: stopping the graph", signal.Signals(received[0]).name)
    finally:
        codes = stop_graph(graph)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    unclean = {name: code for name, code in codes.items() if code != 0}
    if unclean and not failed:
        log.error("processes that did not exit cleanly: %s", unclean)
    return 1 if failed or unclean else 0
