"""Fixtures that start the real node graph (its processes as config/graph.yaml composes them) for integration tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("robovla.msg", reason="interfaces not built: run `make setup`")

from robovla.cli.bringup import start_graph, stop_graph  # noqa: E402
from robovla.control.liveness import watched  # noqa: E402
from robovla.graph import resolve_graph  # noqa: E402

from graph_helpers import GRAPH_NODES, PeerRunner  # noqa: E402


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
