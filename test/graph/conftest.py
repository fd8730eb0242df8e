"""Fixtures that start the real node graph (its processes as config/graph.yaml composes them) for integration tests."""

from __future__ import annotations

import itertools
import os
import warnings
from pathlib import Path

import psutil
import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("robovla.msg", reason="interfaces not built: run `make setup`")

from robovla.cli.bringup import start_graph, stop_graph  # noqa: E402
from robovla.control.liveness import watched  # noqa: E402
from robovla.graph import resolve_graph  # noqa: E402

from graph_helpers import GRAPH_NODES, PeerRunner  # noqa: E402


_BASE_DOMAIN = int(os.environ.get("ROS_DOMAIN_ID", "0"))
_MODULE_INDEX = itertools.count(1)


@pytest.fixture(scope="module", autouse=True)
def module_domain():
    """Each module's graphs on a DDS domain of their own, and no process of theirs outliving the module.

    One domain for the whole run let a process an earlier module left behind (or was still
    stopping) join a later module's graph: a second task_manager can take its goal. Children of
    this pytest still running 10 s after the module are named in a warning and killed, so a leak
    shows in the log instead of in another module's failure. (Module-scoped and autouse: it runs
    before the module's graph and peer fixtures, which read the domain when they start.)"""
    domain = 1 + (_BASE_DOMAIN + next(_MODULE_INDEX)) % 101
    before = os.environ.get("ROS_DOMAIN_ID")
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    yield domain
    if before is None:
        os.environ.pop("ROS_DOMAIN_ID", None)
    else:
        os.environ["ROS_DOMAIN_ID"] = before
    _, alive = psutil.wait_procs(_our_processes(), timeout=10)
    if alive:
        names = []
        for proc in alive:
            try:
                names.append(f"{proc.pid}: {' '.join(proc.cmdline())[:200]}")
                proc.kill()
            except psutil.Error:
                continue
        if names:
            warnings.warn(f"processes still running 10 s after the module ended (killed): {names}")


def _our_processes() -> list[psutil.Process]:
    """This pytest's descendants that run robovla (nodes, CLI commands); not e.g. torch's compile workers."""
    out = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if "robovla" in " ".join(proc.cmdline()):
                out.append(proc)
        except psutil.Error:
            continue
    return out


class Graph:
    def __init__(self, procs, log_dir: Path) -> None:
        self.procs, self.log_dir = procs, log_dir

    def alive(self) -> dict[str, bool]:
        return {spec.name: proc.poll() is None for spec, proc in self.procs}

    def log(self, node: str) -> str:
        """The output of the process that holds `node` (composed nodes share one log)."""
        process = next((p.name for p, _ in self.procs if node in [n.name for n in p.nodes]), node)
        path = self.log_dir / f"{process}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def launch_graph(tmp_path: Path, overrides: dict, nodes=GRAPH_NODES) -> Graph:
    overrides = {"kinova_control.required_heartbeats": watched(nodes),
                 "task_manager.require_arm": "kinova_control" in nodes, **overrides}
    specs = [s for s in resolve_graph(sim=False, overrides=overrides) if s.name in nodes]
    env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_LOGGING_BUFFERED_STREAM="0")
    return Graph(start_graph(specs, env=env, log_dir=tmp_path), tmp_path)


@pytest.fixture(scope="module")
def graph_factory(tmp_path_factory):
    started: list[Graph] = []

    def make(overrides: dict, nodes=GRAPH_NODES) -> Graph:
        g = launch_graph(tmp_path_factory.mktemp("graph"), overrides, nodes)
        started.append(g)
        return g

    yield make
    for g in started:
        stop_graph(g.procs)


@pytest.fixture(scope="module")
def peer():
    """The ros2_kortex test peer (cameras, joint states, the driver stand-in) of a module's graph."""
    with PeerRunner() as node:
        yield node
