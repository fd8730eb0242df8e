"""container: several graph nodes in one process (composition, as rclcpp_components gives C++).

    ros2 run robovla container camera_sync history_buffer vla_inference --ros-args --params-file P

Each node keeps its name, topics, parameters and services, so the graph looks the same from the
outside. What changes is the hop between two of them: the message is handed over as a Python
object on the process's one executor (robovla.nodes.common.intra_process) instead of being
serialized and waking another process, which on a loaded 2-core PC is most of a hop's cost. config/graph.yaml (`process:`) says which nodes
share a process; bench/bench_graph.py measures the difference.
"""

from __future__ import annotations

import importlib
import sys

from robovla.nodes.common.runner import run

USAGE = "usage: container NODE_EXECUTABLE [NODE_EXECUTABLE ...] [--ros-args ...]"


def node_classes(names: list[str]) -> list[type]:
    """The NODE class of each robovla.nodes.<name> module; ValueError naming what is wrong."""
    if not names:
        raise ValueError(f"no node executables given; {USAGE}")
    if len(set(names)) != len(names):
        raise ValueError(f"a node appears twice in {names}: one process cannot hold two nodes of one name")
    classes = []
    for name in names:
        if name == "container" or not name.isidentifier():
            raise ValueError(f"{name!r} is not a robovla node executable")
        try:
            module = importlib.import_module(f"robovla.nodes.{name}")
        except ModuleNotFoundError:
            raise ValueError(f"no robovla node executable {name!r}") from None
        node_class = getattr(module, "NODE", None)
        if node_class is None:
            raise ValueError(f"robovla.nodes.{name} defines no NODE class")
        classes.append(node_class)
    return classes


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    cut = argv.index("--ros-args") if "--ros-args" in argv else len(argv)
    try:
        classes = node_classes(argv[1:cut])
    except ValueError as exc:
        print(f"container: {exc}", file=sys.stderr)
        return 2
    return run(*classes, args=[argv[0], *argv[cut:]])


if __name__ == "__main__":
    raise SystemExit(main())
