"""`robovla bringup`: the launch file's graph, for machines without launch_ros (PyPI wheels).

Starts every node of config/graph.yaml as its own process with the same parameters the
launch file would give it, forwards Ctrl-C, and stops the whole graph if a node dies.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from robovla.graph import NodeSpec, ProcessSpec, group_processes, resolve_graph, write_params_file

log = logging.getLogger("robovla.bringup")


def register(sub, help_text: str) -> None:
    p = sub.add_parser("bringup", help=help_text, description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--sim", dest="sim", action="store_true", default=True, help="with the MuJoCo Gen3 sim (default)")
    mode.add_argument("--robot", dest="sim", action="store_false", help="real robot: ros2_kortex must already run")
    p.add_argument("--config", help="parameter file replacing config/robovla.yaml")
    p.add_argument("--checkpoint", help="policy: a VLA checkpoint dir or scripted[:pattern]")
    p.add_argument("--cameras", help="comma-separated camera names")
    p.add_argument("--control-mode", choices=["twist", "joint_trajectory"])
    p.add_argument("--namespace", default="", help="ROS namespace for the whole graph")
    p.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE", help="override a parameter")
    p.add_argument("--record", action="store_true", help="also start the recorder node")
    p.add_argument("--only", help="comma-separated node names to start (default: all)")
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


def process_command(proc: ProcessSpec, params_file: Path, namespace: str = "") -> list[str]:
    cmd = [sys.executable, "-m", "robovla.nodes", proc.executable, *proc.arguments, "--ros-args", *proc.rename_args]
    if namespace:
        cmd += ["-r", f"__ns:=/{namespace.strip('/')}"]
    return cmd + ["--params-file", str(params_file)]


def start_graph(specs: list[NodeSpec], namespace: str = "", env: dict[str, str] | None = None,
                log_dir: Path | None = None) -> list[tuple[ProcessSpec, subprocess.Popen]]:
    """Start the graph's processes (config/graph.yaml `process:`); output to log_dir/<process>.log."""
    tmp = Path(tempfile.mkdtemp(prefix="robovla-bringup-"))
    params_file = write_params_file(specs, tmp / "params.yaml")
    procs = []
    for proc in group_processes(specs):
        out = open(log_dir / f"{proc.name}.log", "wb") if log_dir else None
        procs.append((proc, subprocess.Popen(
            process_command(proc, params_file, namespace), env=env or os.environ.copy(),
            stdout=out, stderr=subprocess.STDOUT if out else None, start_new_session=True,
        )))
    return procs


def stop_graph(procs: list[tuple[ProcessSpec, subprocess.Popen]], timeout: float = 10.0) -> None:
    for _, proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for spec, proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time: killing it", spec.name)
            proc.kill()
            proc.wait()


def run(args: argparse.Namespace) -> int:
    arguments = {"checkpoint": args.checkpoint, "cameras": args.cameras, "control_mode": args.control_mode}
    specs = resolve_graph(sim=args.sim, arguments=arguments, overrides=parse_overrides(args.set), config_file=args.config,
                          record=args.record)
    if args.only:
        wanted = set(args.only.split(","))
        specs = [s for s in specs if s.name in wanted]
    missing = [s.executable for s in specs if not _module_exists(f"robovla.nodes.{s.executable}")]
    if missing:
        log.error("node executables not installed: %s", ", ".join(missing))
        return 1
    procs = start_graph(specs, args.namespace)
    log.info("started %s", ", ".join(f"{s.name}[{p.pid}]" for s, p in procs))
    try:
        while True:
            for spec, proc in procs:
                if proc.poll() is not None:
                    log.error("%s exited with code %s: stopping the graph", spec.name, proc.returncode)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        log.info("stopping")
        return 0
    finally:
        stop_graph(procs)


def _module_exists(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
