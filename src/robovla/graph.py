"""The node graph description (config/graph.yaml + config/robovla.yaml), resolved for one run.

Both launch/bringup.launch.py and `robovla bringup` call `resolve_graph`, so the list of nodes
and their parameters exist exactly once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class NodeSpec:
    name: str
    executable: str
    parameters: dict[str, Any] = field(default_factory=dict)  # flat: "safety.max_linear_speed" -> v
    process: str = ""  # nodes naming the same process share it (robovla.nodes.container); "" = its own

    @property
    def rename_args(self) -> list[str]:
        """ROS args naming the node: a node-specific remap, because a plain __node:= (or launch_ros'
        name=) would also rename the process's side nodes (robovla.nodes.common.runner.side_node)."""
        return ["-r", f"{self.executable}:__node:={self.name}"]


@dataclass
class ProcessSpec:
    """One OS process of the graph: a single node's own executable, or a container of several."""

    name: str
    nodes: list[NodeSpec]

    @property
    def executable(self) -> str:
        return self.nodes[0].executable if len(self.nodes) == 1 else "container"

    @property
    def arguments(self) -> list[str]:
        """Command-line arguments before --ros-args: the container's node executables."""
        return [n.executable for n in self.nodes] if len(self.nodes) > 1 else []

    @property
    def rename_args(self) -> list[str]:
        return [arg for n in self.nodes for arg in n.rename_args]


def group_processes(specs: list[NodeSpec]) -> list[ProcessSpec]:
    """Nodes -> processes, in graph order (a process sits where its first node is listed)."""
    groups: dict[str, ProcessSpec] = {}
    for spec in specs:
        key = spec.process or spec.name
        if key in groups:
            groups[key].nodes.append(spec)
        else:
            groups[key] = ProcessSpec(key, [spec])
    return list(groups.values())


def launch_flag(value: str) -> bool:
    """A launch argument read as a boolean (true/1/yes, any case)."""
    return value.strip().lower() in ("1", "true", "yes")


def config_dir() -> Path:
    """$ROBOVLA_CONFIG_DIR, else the source checkout's config/, else the installed share dir."""
    env = os.environ.get("ROBOVLA_CONFIG_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "config" / "graph.yaml").is_file() and (parent / "package.xml").is_file():
            return parent / "config"
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("robovla")) / "config"
    except Exception as exc:  # pragma: no cover - only on broken installs
        raise FileNotFoundError("cannot find robovla's config/ (set ROBOVLA_CONFIG_DIR)") from exc


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def resolve_graph(
    sim: bool = True,
    arguments: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    config_file: str | Path | None = None,
    graph_file: str | Path | None = None,
    record: bool = False,
) -> list[NodeSpec]:
    """Nodes to start and their parameters.

    arguments: launch-style arguments (checkpoint=..., cameras=a,b) mapped through graph.yaml;
    overrides: "node.param" -> value, applied last; config_file replaces config/robovla.yaml.
    """
    cdir = config_dir()
    graph = yaml.safe_load(Path(graph_file or cdir / "graph.yaml").read_text())
    params_all = yaml.safe_load(Path(config_file or cdir / graph["parameters"]).read_text()) or {}
    merged: dict[str, Any] = {}
    for key, value in (arguments or {}).items():
        if value in (None, ""):
            continue
        target = graph.get("arguments", {}).get(key)
        if target is None:
            raise ValueError(f"unknown argument {key!r}; known: {sorted(graph.get('arguments', {}))}")
        merged[target] = value.split(",") if key == "cameras" and isinstance(value, str) else value
    configured = ((params_all.get("vla_inference") or {}).get("ros__parameters") or {}).get("policy")
    policy = (overrides or {}).get("vla_inference.policy", merged.get("vla_inference.policy", configured))
    derived = checkpoint_overrides(policy) if policy else {}
    merged = {**derived, **merged, **(overrides or {})}
    specs: list[NodeSpec] = []
    known = {n["name"] for n in graph["nodes"]}
    for key in merged:
        if key.partition(".")[0] not in known:
            raise ValueError(f"override {key!r} names no node; nodes are {sorted(known)}")
    for node in graph["nodes"]:
        when = node.get("when")
        if (when == "sim" and not sim) or (when == "record" and not record):
            continue
        section = (params_all.get(node["name"]) or {}).get("ros__parameters", {}) or {}
        params = _flatten(section)
        prefix = node["name"] + "."
        params.update({k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)})
        specs.append(NodeSpec(node["name"], node["executable"], params, node.get("process", "")))
    return specs


def checkpoint_overrides(policy: str) -> dict[str, Any]:
    """Graph parameters a VLA checkpoint dictates: the cameras it was trained on, their image size,
    its window and policy step, so bringing up a checkpoint needs no hand-edited config.

    Reads vla_config.yaml as plain YAML rather than through robovla.model.VLAConfig: the launch
    file calls this, and importing the model core would pull torch into every launch."""
    cfg_file = Path(str(policy)).expanduser() / "vla_config.yaml"
    if not cfg_file.is_file():
        return {}  # scripted placeholders, module:factory policies
    cfg = yaml.safe_load(cfg_file.read_text()) or {}
    out: dict[str, Any] = {}
    if cfg.get("cameras"):
        out["camera_sync.cameras"] = list(cfg["cameras"])
        out["camera_sync.compressed"] = [False] * len(cfg["cameras"])
    if cfg.get("image_size"):
        out["camera_sync.image_width"] = out["camera_sync.image_height"] = int(cfg["image_size"])
    if cfg.get("window"):
        out["history_buffer.window_size"] = int(cfg["window"])
    if cfg.get("dt"):
        out["history_buffer.period_s"] = float(cfg["dt"])
    return out


def write_params_file(specs: list[NodeSpec], path: Path) -> Path:
    """One ROS 2 parameter file for all nodes (nested again for ROS's loader), sections keyed
    /**/<node>: each node of a composed process takes only its own, in any namespace (a bare
    <node> key means /<node> and would miss /arm/<node>)."""
    doc: dict[str, Any] = {}
    for spec in specs:
        nested: dict[str, Any] = {}
        for key, value in spec.parameters.items():
            cur = nested
            *parents, leaf = key.split(".")
            for p in parents:
                cur = cur.setdefault(p, {})
            cur[leaf] = value
        doc[f"/**/{spec.name}"] = {"ros__parameters": nested}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
