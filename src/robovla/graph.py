"""The node graph description (config/graph.yaml + config/robovla.yaml), resolved for one run.

Both launch/bringup.launch.py and `robovla bringup` call `resolve_graph`, so the list of nodes
and their parameters exist exactly once.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from robovla.control.liveness import watched
from robovla.nodes.common.topics import CAMERA_PRESETS, parse_camera_topics
from robovla.resources import share_dir


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
    """$ROBOVLA_CONFIG_DIR, else config/ in share_dir()."""
    env = os.environ.get("ROBOVLA_CONFIG_DIR")
    return Path(env) if env else share_dir() / "config"


def resolve_share_path(value: str) -> str:
    """graph.yaml's "share:REL" -> the path of REL in share_dir(); anything else unchanged."""
    return str(share_dir() / value[len("share:"):]) if value.startswith("share:") else value


@dataclass(frozen=True)
class GraphArgument:
    """A launch argument / bringup option as config/graph.yaml `arguments:` declares it."""

    name: str
    sets: tuple[str, ...]  # "node.param" it sets
    is_list: bool = False  # comma-separated -> list
    choices: tuple[str, ...] = ()
    help: str = ""
    positive_float: bool = False  # a number > 0 (a speed limit)

    def value(self, raw: Any) -> Any:
        """The parameter value of a non-empty raw value; ValueError for one outside `choices`."""
        if self.is_list:
            return [v.strip() for v in raw.split(",") if v.strip()] if isinstance(raw, str) else list(raw)
        if self.positive_float:
            try:
                number = float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{self.name} {raw!r}: not a number") from None
            if not number > 0:
                raise ValueError(f"{self.name} {raw!r}: must be positive")
            return number
        if self.choices and raw not in self.choices:
            raise ValueError(f"{self.name} {raw!r}: choose one of {', '.join(self.choices)}")
        return raw


def graph_arguments(graph: dict[str, Any] | None = None) -> dict[str, GraphArgument]:
    """graph.yaml's `arguments:` (the graph file of config_dir() when `graph` is None). A bare
    "node.param" entry is the short form of `sets: [node.param]`."""
    if graph is None:
        graph = yaml.safe_load((config_dir() / "graph.yaml").read_text())
    out: dict[str, GraphArgument] = {}
    for name, decl in (graph.get("arguments") or {}).items():
        if isinstance(decl, str):
            decl = {"sets": [decl]}
        sets = decl.get("sets") or []
        out[name] = GraphArgument(name, tuple([sets] if isinstance(sets, str) else sets), bool(decl.get("list")),
                                  tuple(decl.get("choices") or ()), str(decl.get("help", "")),
                                  decl.get("type") == "positive_float")
    return out


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
    teleop: bool = False,
) -> list[NodeSpec]:
    """Nodes to start and their parameters.

    arguments: launch-style arguments (checkpoint=..., cameras=a,b) mapped through graph.yaml;
    overrides: "node.param" -> value, applied last; config_file replaces config/robovla.yaml;
    teleop: the graph `robovla teleop` drives (no policy nodes, the recorder started).
    """
    cdir = config_dir()
    graph = yaml.safe_load(Path(graph_file or cdir / "graph.yaml").read_text())
    params_all = yaml.safe_load(Path(config_file or cdir / graph["parameters"]).read_text()) or {}
    arguments = dict(arguments or {})
    declared = graph_arguments(graph)
    # What an empty argument means in this mode (graph.yaml `defaults:`), unless the user chose the
    # parameter another way: an override, or a config file of their own.
    for key, value in ((graph.get("defaults") or {}).get("sim" if sim else "robot") or {}).items():
        chosen = any(t in (overrides or {}) for t in declared[key].sets) if key in declared else False
        if not arguments.get(key) and not chosen and config_file is None:
            arguments[key] = resolve_share_path(str(value))
    merged: dict[str, Any] = {}
    for key, value in arguments.items():
        if value in (None, ""):
            continue
        if key not in declared:
            raise ValueError(f"unknown argument {key!r}; known: {sorted(declared)}")
        for target in declared[key].sets:
            merged[target] = declared[key].value(value)
    configured = ((params_all.get("vla_inference") or {}).get("ros__parameters") or {}).get("policy")
    policy = (overrides or {}).get("vla_inference.policy", merged.get("vla_inference.policy", configured))
    derived = checkpoint_overrides(policy) if policy else {}
    record = record or teleop
    nodes = [n for n in graph["nodes"]
             if not ((n.get("when") == "sim" and not sim) or (n.get("when") == "record" and not record)
                     or (n.get("unless") == "teleop" and teleop))]
    partial = partial_graph_overrides([n["name"] for n in nodes]) if teleop else {}
    merged = {**derived, **partial, **merged, **(overrides or {})}
    specs: list[NodeSpec] = []
    known = {n["name"] for n in graph["nodes"]}
    for key in merged:
        if key.partition(".")[0] not in known:
            raise ValueError(f"override {key!r} names no node; nodes are {sorted(known)}")
    for node in nodes:
        section = (params_all.get(node["name"]) or {}).get("ros__parameters", {}) or {}
        params = _flatten(section)
        prefix = node["name"] + "."
        params.update({k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)})
        specs.append(NodeSpec(node["name"], node["executable"], params, node.get("process", "")))
    check_camera_topics(specs, sim)
    if sim:
        apply_sim_time(specs)
    return specs


def partial_graph_overrides(nodes: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Parameters a graph running only `nodes` needs: kinova_control watches the heartbeats of the
    nodes that are there (not of a vla_inference that is not), the task manager waits for the arm
    only if kinova_control runs."""
    names = list(nodes)
    return {"kinova_control.required_heartbeats": watched(names), "task_manager.require_arm": "kinova_control" in names}


#: camera_sync's slop in lock-step: below one control period (20 ms), so a frame only ever pairs
#: with the joint state of its own step, whatever order the two arrive in
LOCKSTEP_SLOP_S = 0.005


def sim_policy_threads() -> int:
    """torch threads for the policy of a sim graph (vla_inference.cpu_threads): a quarter of the
    cores. The sim and the control process run on the same machine, and torch's default pool (a
    thread per core) spins for the cores they need (policy.registry.set_cpu_threads). Not a
    function of `robovla eval --jobs`: a thread count can change a policy's floating-point sums,
    and an episode's outcome must not depend on --jobs."""
    return max(1, (os.cpu_count() or 1) // 4)


def apply_sim_time(specs: list[NodeSpec]) -> None:
    """The sim graph's clock, set in this one place (the launch file, `robovla bringup --sim`,
    `robovla eval/collect` all resolve through here): every node runs with use_sim_time on the
    sim's /clock (a robot graph keeps wall time); the latency model of action_smoother
    (latency_model_s) is also the one the sim waits by and task_manager counts steps with; and with
    sim.lockstep the graph answers every frame: cameras at the policy rate (one frame, one window,
    one chunk), every window inferred in order, a command on every tick, and a late heartbeat
    holds the (waiting) sim rather than stopping the arm mid-rollout."""
    by_name = {s.name: s for s in specs}
    for spec in specs:  # the sim itself is the clock: it stamps with its own time
        spec.parameters["use_sim_time"] = spec.name != "sim"
    if "vla_inference" in by_name and not by_name["vla_inference"].parameters.get("cpu_threads"):
        by_name["vla_inference"].parameters["cpu_threads"] = sim_policy_threads()  # a count set by the user stays
    latency = float((by_name["action_smoother"].parameters if "action_smoother" in by_name else {})
                    .get("latency_model_s", 0.0))
    for name in ("sim", "task_manager"):
        if name in by_name:
            by_name[name].parameters["latency_model_s"] = latency
    sim = by_name.get("sim")
    if sim is None or not sim.parameters.get("lockstep", False):
        return
    if not sim.parameters.get("expert", False):  # the expert acts on every state and needs no frames
        history = by_name["history_buffer"].parameters if "history_buffer" in by_name else {}
        sim.parameters["camera_hz"] = 1.0 / float(history.get("period_s", 0.1))
        if "task_manager" in by_name:  # every frame is answered by a chunk: the result waits for the last
            by_name["task_manager"].parameters["lockstep_frame_period_s"] = float(history.get("period_s", 0.1))
    if "camera_sync" in by_name:
        by_name["camera_sync"].parameters["slop"] = LOCKSTEP_SLOP_S
        by_name["camera_sync"].parameters["reliable"] = True
    if "vla_inference" in by_name:
        by_name["vla_inference"].parameters["every_window"] = True
    if "action_smoother" in by_name:
        by_name["action_smoother"].parameters["every_tick"] = True
    if "kinova_control" in by_name:
        by_name["kinova_control"].parameters["defer_while_paused"] = True


def check_camera_topics(specs: list[NodeSpec], sim: bool = False) -> None:
    """Refuse camera topics that would leave the graph blind, before anything starts: a malformed
    NAME=TOPIC, an unknown preset, a topic for a camera that no started node reads, or a driver's
    topics in the sim (which publishes the graph's own names only)."""
    named: dict[str, str] = {}
    cameras: list[str] = []
    for spec in specs:
        preset = spec.parameters.get("camera_preset")
        if preset is not None and preset not in CAMERA_PRESETS:
            raise ValueError(f"camera_preset {preset!r} ({spec.name}): choose one of {', '.join(CAMERA_PRESETS)}")
        entries = spec.parameters.get("camera_topics")
        if sim and (entries or preset not in (None, "sim")):
            raise ValueError(f"{spec.name}: the sim publishes camera/<name>/image_raw only; camera_preset and "
                             f"camera_topics name a real camera driver's topics (drop them, or run the robot)")
        if entries:
            named.update(parse_camera_topics([entries] if isinstance(entries, str) else entries))
            cameras += [c for c in spec.parameters.get("cameras", []) if c not in cameras]
    stray = [name for name in named if name not in cameras]
    if stray:
        raise ValueError(f"camera_topics names {', '.join(map(repr, stray))}, which is not among the cameras "
                         f"{cameras}: {', '.join(f'{n}={named[n]}' for n in stray)}")


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


class LaunchError(RuntimeError):
    """A launch request that cannot start: raised before any process is started."""


@dataclass
class LaunchPlan:
    """Everything launch/bringup.launch.py starts, computed here so it is tested without launch_ros."""

    processes: list[ProcessSpec]
    params_file: Path
    tmp_dir: Path  # holds params_file; the launch file removes it on shutdown
    namespace: str | None
    kortex_launch: str | None = None  # kortex_bringup's gen3.launch.py, when the driver is started too
    kortex_arguments: dict[str, str] = field(default_factory=dict)
    rviz_config: str | None = None


#: bringup.launch.py's own arguments, around graph.yaml's: name -> (default, description)
_MODE_ARGUMENTS: dict[str, tuple[str, str]] = {
    "sim": ("", "true: the MuJoCo Gen3 sim; false: a real Gen3 through ros2_kortex. Required unless "
                "robot_ip is given (a real arm)"),
    "robot_ip": ("", "Gen3 address: a real arm (sim:=false), and the ros2_kortex driver is started too"),
}
_GRAPH_WIDE_ARGUMENTS: dict[str, tuple[str, str]] = {
    "namespace": ("", "namespace for the whole graph"),
    "record": ("false", "also start the recorder node (RecordEpisode action, rosbag2 episodes)"),
    "teleop": ("false", "the graph for `robovla teleop`: no policy nodes, the recorder started"),
    "rviz": ("false", "open RViz with config/robovla.rviz (arm, policy intent, cameras)"),
}


def bringup_arguments() -> dict[str, tuple[str, str]]:
    """bringup.launch.py's launch arguments: name -> (default, description); graph.yaml's
    `arguments:` (which `robovla bringup` offers too) between the mode and the graph-wide ones."""
    graph_args = {name: ("", a.help + (f" [{'|'.join(a.choices)}]" if a.choices else ""))
                  for name, a in graph_arguments().items()}
    return {**_MODE_ARGUMENTS, **graph_args, **_GRAPH_WIDE_ARGUMENTS}


def choose_sim(sim: str, robot_ip: str = "", choices: str = "sim:=true (the MuJoCo sim) or sim:=false "
               "(a real Gen3 through ros2_kortex; robot_ip:=ADDR also starts the driver)") -> bool:
    """True for the sim: the one rule of the launch file and `robovla bringup`. The user says which,
    because a default is wrong somewhere: a sim on a robot's network is a second /joint_states and
    controller manager next to the driver's, and a robot graph on a laptop waits for a driver that
    never comes. robot_ip names a real arm, so it implies sim:=false and contradicts sim:=true."""
    value = str(sim).strip().lower()
    if value in ("1", "true", "yes"):
        if robot_ip:
            raise LaunchError(f"robot_ip {robot_ip!r} names a real arm but the sim was asked for: choose "
                              f"{choices}; nothing was started")
        return True
    if value in ("0", "false", "no") or (not value and robot_ip):
        return False
    why = f"{sim!r} is not true or false" if value else "neither the sim nor a robot was chosen"
    raise LaunchError(f"{why}: choose {choices}; nothing was started")


def plan_bringup(values: dict[str, str], find_share: Callable[[str], str]) -> LaunchPlan:
    """bringup.launch.py's processes from its argument values. find_share(package) returns a
    package's share directory and raises for a package that is not installed (ament_index's
    get_package_share_directory). Every package the plan needs is checked first, so a missing one
    is a LaunchError and nothing has started."""
    declared = bringup_arguments()
    unknown = set(values) - set(declared)
    if unknown:
        raise LaunchError(f"unknown launch arguments {sorted(unknown)}; known: {sorted(declared)}")
    v = {name: values.get(name, default) for name, (default, _) in declared.items()}
    sim = choose_sim(v["sim"], v["robot_ip"])

    def share(package: str, why: str) -> str:
        try:
            return str(find_share(package))
        except Exception as exc:  # ament_index raises PackageNotFoundError (a KeyError)
            distro = os.environ.get("ROS_DISTRO", "<distro>")
            raise LaunchError(f"{why} needs the ROS package {package!r}, which is not installed "
                              f"(apt install ros-{distro}-{package.replace('_', '-')}); nothing was started") from exc

    kortex = None
    if v["robot_ip"]:
        kortex = share("kortex_bringup", f"sim:=false robot_ip:={v['robot_ip']}") + "/launch/gen3.launch.py"
    rviz = None
    if launch_flag(v["rviz"]):
        share("rviz2", "rviz:=true")
        rviz = str(config_dir() / "robovla.rviz")
    try:
        specs = resolve_graph(sim=sim, record=launch_flag(v["record"]), teleop=launch_flag(v["teleop"]),
                              arguments={k: v[k] for k in graph_arguments()})
    except ValueError as exc:
        raise LaunchError(f"{exc}; nothing was started") from None
    tmp = Path(tempfile.mkdtemp(prefix="robovla-launch-"))
    # a node-keyed file, not per-node dicts: launch_ros applies a dict to every node of a process
    params_file = write_params_file(specs, tmp / "params.yaml")
    return LaunchPlan(
        processes=group_processes(specs), params_file=params_file, tmp_dir=tmp, namespace=v["namespace"] or None,
        kortex_launch=kortex,
        kortex_arguments={"robot_ip": v["robot_ip"], "gripper": "robotiq_2f_85", "launch_rviz": "false"} if kortex else {},
        rviz_config=rviz,
    )


#: launch arguments of record.launch.py: name -> (default, description)
RECORD_ARGUMENTS: dict[str, tuple[str, str]] = {
    "output_dir": ("", "recording root, one bag directory per episode (default: the config's)"),
    "cameras": ("", "comma-separated camera names (default: the config's)"),
    "compressed": ("", "true: record each camera's TOPIC/compressed instead of raw images (default: the config's)"),
    "camera_preset": ("", "the camera drivers' topic names, as bringup.launch.py's [sim|realsense|usb_cam]"),
    "camera_topics": ("", "NAME=TOPIC,... a camera's raw image topic, over the preset, as bringup.launch.py's"),
    "namespace": ("", "namespace of the robot graph"),
}


def plan_record(values: dict[str, str]) -> NodeSpec:
    """record.launch.py's recorder node from its argument values (empty = the config's)."""
    unknown = set(values) - set(RECORD_ARGUMENTS)
    if unknown:
        raise LaunchError(f"unknown launch arguments {sorted(unknown)}; known: {sorted(RECORD_ARGUMENTS)}")
    overrides: dict[str, Any] = {}
    if values.get("output_dir"):
        overrides["recorder.output_dir"] = values["output_dir"]
    if values.get("cameras"):
        overrides["recorder.cameras"] = [c for c in values["cameras"].split(",") if c]
    if values.get("compressed"):
        overrides["recorder.compressed"] = launch_flag(values["compressed"])
    declared = graph_arguments()
    for name in ("camera_preset", "camera_topics"):  # bringup's, so both launch files read one camera setup
        if values.get(name):
            overrides["recorder." + name] = declared[name].value(values[name])
    try:
        specs = resolve_graph(sim=False, record=True, overrides=overrides)
    except ValueError as exc:
        raise LaunchError(f"{exc}; nothing was started") from None
    return next(s for s in specs if s.name == "recorder")

