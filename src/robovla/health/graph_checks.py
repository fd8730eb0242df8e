"""`robovla doctor --graph`: what is wrong with a running graph, in words, from one snapshot of it.

The snapshot is taken by nodes/common/graph_probe.py (rclpy); judging it is plain Python so each
rule is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from robovla.health.checks import Level


@dataclass
class Endpoint:
    node: str
    reliable: bool
    transient_local: bool


@dataclass
class GraphSnapshot:
    nodes: list[str]  # node names on the graph (any namespace)
    expected_nodes: list[str]  # what the configured graph runs
    statuses: dict[str, tuple[int, str]] = field(default_factory=dict)  # /diagnostics: name -> (level, message)
    joint_state_publishers: list[str] = field(default_factory=list)
    controllers: dict[str, str] | None = None  # list_controllers: name -> state (None: no controller manager)
    required_controller: str = ""  # the one the arm's mode commands
    clock_publishers: list[str] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)  # nodes whose /diagnostics status arrived
    sim_time: dict[str, bool] = field(default_factory=dict)  # node -> use_sim_time
    endpoints: dict[str, tuple[list[Endpoint], list[Endpoint]]] = field(default_factory=dict)  # topic -> (pubs, subs)


def qos_problems(topic: str, pubs: list[Endpoint], subs: list[Endpoint]) -> list[str]:
    """Pairs DDS will not connect: a reliable reader of a best-effort writer, a transient-local
    reader of a volatile writer (the reader then gets nothing, silently)."""
    out = []
    for s in subs:
        for p in pubs:
            if s.reliable and not p.reliable:
                out.append(f"{topic}: {s.node} wants reliable, {p.node} offers best effort: nothing arrives")
            elif s.transient_local and not p.transient_local:
                out.append(f"{topic}: {s.node} wants transient local (latched), {p.node} offers volatile: "
                           "nothing arrives")
    return out


def diagnose(snap: GraphSnapshot) -> list[str]:
    """Everything wrong with the graph, most basic first; [] if nothing is."""
    problems: list[str] = []
    present = set(snap.nodes)
    missing = [n for n in snap.expected_nodes if n not in present]
    if missing:
        problems.append(f"nodes missing: {', '.join(missing)} (not running, or on another ROS_DOMAIN_ID)")
    silent = [n for n in snap.expected_nodes if n in present and n not in snap.heard]
    if silent:
        problems.append(f"no /diagnostics from {', '.join(silent)}: hung, or an older robovla")
    if not snap.joint_state_publishers:
        problems.append("/joint_states: no publisher (is the driver, or the sim, running?)")
    elif len(snap.joint_state_publishers) > 1:
        problems.append(f"/joint_states: {len(snap.joint_state_publishers)} publishers "
                        f"({', '.join(snap.joint_state_publishers)}): two arms, or a sim beside a driver")
    if snap.controllers is None:
        if snap.required_controller:
            problems.append("no controller manager answers controller_manager/list_controllers")
    elif snap.required_controller:
        state = snap.controllers.get(snap.required_controller, "not loaded")
        if state != "active":
            problems.append(f"{snap.required_controller} is {state}: the arm will not move "
                            "(kinova_control activates it at start; safety_monitor deactivates it after a fault)")
    on_sim = sorted(n for n, v in snap.sim_time.items() if v)
    on_wall = sorted(n for n, v in snap.sim_time.items() if not v and n != "sim")
    if on_sim and not snap.clock_publishers:
        problems.append(f"{', '.join(on_sim)} use sim time but nothing publishes /clock: their clocks stand still")
    if on_sim and on_wall:
        problems.append(f"clock mismatch: {', '.join(on_sim)} on sim time, {', '.join(on_wall)} on wall time")
    for topic, (pubs, subs) in sorted(snap.endpoints.items()):
        problems += qos_problems(topic, pubs, subs)
    for name, (level, message) in sorted(snap.statuses.items()):
        if level >= Level.WARN:
            word = {Level.WARN: "warning", Level.ERROR: "error", Level.STALE: "stale"}.get(Level(min(level, 3)), "error")
            problems.append(f"{name}: {word}: {message}")
    return problems
