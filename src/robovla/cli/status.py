"""`robovla status`: one screen of a running graph's health, from /diagnostics.

Every robovla node publishes its status there twice a second (rates of its inputs and outputs,
stage latencies, watchdog state); this prints one line per node (level, what is wrong) and its
key values, refreshed every --period seconds until Ctrl-C. --once prints one screen and exits 0
if every node is OK, 1 if one is not, 2 if no status arrived.
"""

from __future__ import annotations

import argparse
import sys
import time

LEVELS = {0: "OK", 1: "WARN", 2: "ERROR", 3: "STALE"}


def register(sub, help_text: str) -> None:
    p = sub.add_parser("status", help=help_text, description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--once", action="store_true", help="print one screen and exit (0: all OK)")
    p.add_argument("--period", type=float, default=1.0, help="seconds between screens")
    p.add_argument("--namespace", default="", help="ROS namespace of the graph")
    p.set_defaults(func=run)


def headline(graph) -> str:
    """task_manager's robovla/status (GraphStatus) in one line."""
    episode = (f"episode {graph.episode_id} {graph.instruction!r} {graph.elapsed_s:.1f} s" if graph.episode_id
               else "no episode")
    return (f"graph: {LEVELS.get(graph.level, str(graph.level))} ({graph.message}) | {episode} | "
            f"arm {'ready' if graph.arm_ready else 'NOT ready'}")


def render(statuses: dict[str, tuple[int, str, dict[str, str]]], graph=None) -> str:
    """The screen: the graph's headline, one line per node, then its values on the next, indented."""
    if not statuses:
        return "no robovla status on /diagnostics (is the graph running, on this ROS_DOMAIN_ID?)"
    lines = [headline(graph)] if graph is not None else []
    for name, (level, message, values) in sorted(statuses.items()):
        lines.append(f"{name:<16} {LEVELS.get(level, str(level)):<5} {message}")
        if values:
            lines.append("    " + "  ".join(f"{k}={v}" for k, v in values.items()))
    return "\n".join(lines)


def graph_node_names() -> set[str]:
    """Every node a robovla graph can have (sim or robot), from config/graph.yaml."""
    from robovla.graph import resolve_graph

    return {s.name for sim in (True, False) for s in resolve_graph(sim=sim)}


def run(args: argparse.Namespace) -> int:
    from robovla.nodes.common.graph_probe import GraphProbe

    probe = GraphProbe(args.namespace)
    try:
        if args.once:
            probe.settle(graph_node_names())  # discovery and one round of statuses
            statuses = probe.latest()
            print(render(statuses, probe.graph_status))
            if not statuses:
                return 2
            return 0 if all(level == 0 for level, _, _ in statuses.values()) else 1
        while True:
            time.sleep(args.period)
            sys.stdout.write("\x1b[2J\x1b[H" if sys.stdout.isatty() else "\n")
            print(time.strftime("%H:%M:%S"), "robovla status (Ctrl-C to quit)")
            print(render(probe.latest(), probe.graph_status), flush=True)
    except KeyboardInterrupt:
        return 0
    finally:
        probe.close()
