"""A headless sim graph for tools that drive many episodes (`robovla eval`, `robovla collect`).

Starts the nodes of config/graph.yaml that the tool needs, as separate processes like
`robovla bringup`, on a private ROS domain (localhost only) so runs never cross-talk, and
connects an EpisodeClient to them. Node logs go to a directory the tool names.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

from robovla.cli.bringup import start_graph, stop_graph
from robovla.graph import NodeSpec, partial_graph_overrides, resolve_graph

log = logging.getLogger("robovla.session")

#: the nodes a scripted-expert run needs: the expert acts inside the sim node and its commands go
#: through kinova_control to the ros2_kortex interfaces; goals through the task manager
EXPERT_NODES = ("sim", "kinova_control", "task_manager", "safety_monitor")


class SimSession:
    def __init__(self, overrides: dict[str, Any], nodes: Iterable[str] | None = None,
                 arguments: dict[str, Any] | None = None, log_dir: str | Path | None = None,
                 camera: str | None = None, ready_timeout: float = 120.0, recorder: bool = False,
                 teleop: bool = False) -> None:
        # episodes end when the sim's task checker fires (sim/task_outcome), not by timeout only
        # the sim's episodes start from a reset scene: open the gripper at every episode end, as the
        # expert's demonstrations and success rates were measured (a robot holds it by default)
        overrides = {"task_manager.success_source": "topic", "kinova_control.release_gripper_at_episode_end": True,
                     **overrides}
        if nodes is not None:  # the sim's expert drives the arm with no vla_inference to watch
            overrides = {**partial_graph_overrides(nodes), **overrides}
        # teleop: config/graph.yaml's teleop graph (no policy nodes; robovla teleop commands the arm)
        self.specs: list[NodeSpec] = resolve_graph(sim=True, arguments=arguments or {}, overrides=overrides,
                                                   record=recorder, teleop=teleop)
        if nodes is not None:
            wanted = set(nodes)
            unknown = wanted - {s.name for s in self.specs}
            if unknown:
                raise ValueError(f"nodes not in config/graph.yaml: {sorted(unknown)}")
            self.specs = [s for s in self.specs if s.name in wanted]
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="robovla-session-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.camera, self.ready_timeout = camera, ready_timeout
        self.procs: list = []
        self.client = None
        self.exit_codes: dict[str, int] = {}  # per process, once the session has ended

    def __enter__(self):
        os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))
        from robovla.nodes.common import topics
        from robovla.nodes.common.episode_client import EpisodeClient

        self.procs = start_graph(self.specs, log_dir=self.log_dir)
        log.info("graph: %s (logs in %s)", ", ".join(s.name for s in self.specs), self.log_dir)
        try:
            self.client = EpisodeClient(camera=self.camera)
            names = tuple(s.name for s in self.specs)
            # vla_inference joins the graph seconds before its policy has loaded; its chunk
            # publisher appears after, and a goal sent earlier would run without a policy
            ready_topics = (topics.ACTION_CHUNK,) if "vla_inference" in names else ()
            missing = self.client.wait_ready(self.ready_timeout, nodes=names, publishers=ready_topics)
            if not missing:
                missing = self._wait_clock()
            if missing:
                raise RuntimeError(f"{missing}; {self.dead_report() or 'see the node logs in ' + str(self.log_dir)}")
        except BaseException:
            self.__exit__()
            raise
        return self.client

    def _wait_clock(self, settle_s: float = 0.3) -> str | None:
        """Every node on sim time has subscribed to the sim's /clock (robovla.graph.apply_sim_time),
        and a moment has passed for it to arrive: until then a node's clock reads 0 (a recording
        started then would begin at time 0, a million seconds before its data)."""
        from robovla.nodes.common import topics

        wanted = sum(1 for s in self.specs if s.parameters.get("use_sim_time"))
        deadline = time.monotonic() + self.ready_timeout
        while self.client.node.count_subscribers(topics.CLOCK) < wanted:
            if time.monotonic() > deadline:
                found = self.client.node.count_subscribers(topics.CLOCK)
                return f"only {found} of {wanted} nodes subscribed to {topics.CLOCK}"
            time.sleep(0.05)
        time.sleep(settle_s)
        return None

    def param(self, node: str, name: str, default: Any = None) -> Any:
        """A resolved parameter of one of the session's nodes."""
        for spec in self.specs:
            if spec.name == node:
                return spec.parameters.get(name, default)
        return default

    def dead_report(self) -> str:
        dead = [f"{s.name} (exit {p.returncode})" for s, p in self.procs if p.poll() is not None]
        return f"nodes died: {', '.join(dead)}; logs in {self.log_dir}" if dead else ""

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.procs:
            self.exit_codes = stop_graph(self.procs)
            unclean = {name: code for name, code in self.exit_codes.items() if code != 0}
            if unclean:
                log.warning("graph processes did not exit cleanly: %s (logs in %s)", unclean, self.log_dir)
        self.procs = []
