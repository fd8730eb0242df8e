"""The one description of the graph (config/graph.yaml + robovla.yaml) and the RViz layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from robovla.cli.bringup import process_command
from robovla.graph import group_processes, resolve_graph, sim_policy_threads
from robovla.nodes.common import topics

ROOT = Path(__file__).resolve().parents[1]


def test_graph_nodes_and_flags() -> None:
    names = [s.name for s in resolve_graph(sim=True)]
    assert names == ["task_manager", "camera_sync", "history_buffer", "vla_inference", "action_smoother",
                     "kinova_control", "safety_monitor", "sim"]
    assert "sim" not in [s.name for s in resolve_graph(sim=False)]
    recorder = [s for s in resolve_graph(sim=False, record=True) if s.name == "recorder"]
    assert recorder and recorder[0].parameters["cameras"] == ["front", "wrist"]
    specs = resolve_graph(arguments={"checkpoint": "/ckpt/a", "cameras": "front"},
                          overrides={"sim.expert": True})
    by_name = {s.name: s for s in specs}
    assert by_name["vla_inference"].parameters["policy"] == "/ckpt/a"
    assert by_name["camera_sync"].parameters["cameras"] == ["front"]
    assert by_name["sim"].parameters["expert"] is True
    with pytest.raises(ValueError, match="names no node"):
        resolve_graph(overrides={"nope.x": 1})


def test_process_command_renames_only_the_main_node(tmp_path: Path) -> None:
    proc = group_processes(resolve_graph(sim=True))[0]
    assert proc.executable == "task_manager" and proc.arguments == []
    cmd = process_command(proc, tmp_path / "p.yaml", namespace="arm")
    # a bare __node:= would also rename the process's side node and collide with the main one
    assert "task_manager:__node:=task_manager" in cmd and "__node:=task_manager" not in cmd
    assert "__ns:=/arm" in cmd


def test_composed_processes_follow_the_graph_file(tmp_path: Path) -> None:
    procs = {p.name: p for p in group_processes(resolve_graph(sim=True))}
    assert list(procs) == ["task_manager", "perception", "control", "safety_monitor", "sim"]
    perception = procs["perception"]
    assert perception.executable == "container"
    assert perception.arguments == ["camera_sync", "history_buffer", "vla_inference"]
    cmd = process_command(perception, tmp_path / "p.yaml")
    for node in perception.arguments:
        assert f"{node}:__node:={node}" in cmd
    assert cmd.index("vla_inference") < cmd.index("--ros-args")
    # the arm driver never shares a process with the policy (graph.yaml says why)
    assert procs["control"].arguments == ["action_smoother", "kinova_control"]


def test_rviz_layout_shows_the_arm_the_intent_and_the_cameras() -> None:
    text = (ROOT / "config" / "robovla.rviz").read_text()
    cfg = yaml.safe_load(text)
    displays = {d["Class"]: d for d in cfg["Visualization Manager"]["Displays"]}
    assert cfg["Visualization Manager"]["Global Options"]["Fixed Frame"] == "base_link"
    model = displays["rviz_default_plugins/RobotModel"]
    assert model["Description Topic"]["Value"] == "/robot_description"
    assert model["Description Topic"]["Durability Policy"] == "Transient Local", "the sim latches it"
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == "/" + topics.INTENT_MARKERS
    images = [d for d in cfg["Visualization Manager"]["Displays"] if d["Class"] == "rviz_default_plugins/Image"]
    assert sorted(d["Topic"]["Value"] for d in images) == sorted(
        "/" + topics.camera_topic(c) for c in ("front", "wrist"))
    assert all(d["Topic"]["Reliability Policy"] == "Best Effort" for d in images), "cameras are sensor data"


def test_a_checkpoint_configures_cameras_size_and_window(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "vla_config.yaml").write_text(yaml.safe_dump(
        {"backbone": "paligemma", "cameras": ["front"], "image_size": 64, "window": 4, "dt": 0.2}))
    specs = {s.name: s for s in resolve_graph(arguments={"checkpoint": str(ckpt)})}
    sync, hist = specs["camera_sync"].parameters, specs["history_buffer"].parameters
    assert sync["cameras"] == ["front"] and sync["compressed"] == [False]
    assert sync["image_width"] == sync["image_height"] == 64
    assert hist["window_size"] == 4 and hist["period_s"] == 0.2
    # an explicit override still wins
    specs = {s.name: s for s in resolve_graph(overrides={"vla_inference.policy": str(ckpt),
                                                         "camera_sync.image_width": 96})}
    assert specs["camera_sync"].parameters["image_width"] == 96
    assert specs["camera_sync"].parameters["image_height"] == 64


def test_container_refuses_what_it_cannot_compose() -> None:
    pytest.importorskip("rclpy")
    from robovla.nodes.container import main, node_classes

    graph = yaml.safe_load((ROOT / "config" / "graph.yaml").read_text())
    executables = [n["executable"] for n in graph["nodes"]]
    assert [c.__name__ for c in node_classes(executables[:3])] == ["TaskManager", "CameraSync", "HistoryBuffer"]
    assert len(node_classes(executables)) == len(executables), "every graph node must be composable"
    for names, message in (([], "no node executables"), (["camera_sync", "camera_sync"], "appears twice"),
                           (["no_such_node"], "no robovla node executable 'no_such_node'"),
                           (["container"], "not a robovla node executable"),
                           (["common"], "defines no NODE")):
        with pytest.raises(ValueError, match=message):
            node_classes(names)
    assert main(["container", "nope", "--ros-args"]) == 2


def test_the_sim_runs_the_committed_demo_vla_by_default() -> None:
    policy = {s.name: s for s in resolve_graph(sim=True)}["vla_inference"].parameters["policy"]
    assert Path(policy).resolve() == (ROOT / "checkpoints" / "demo").resolve()
    sync = {s.name: s for s in resolve_graph(sim=True)}["camera_sync"].parameters
    assert sync["image_width"] == 64, "the demo checkpoint's image size reaches camera_sync"
    # a robot keeps the configured placeholder until a checkpoint is named; a choice made any
    # other way (override, the user's own config file) is kept too
    assert {s.name: s for s in resolve_graph(sim=False)}["vla_inference"].parameters["policy"] == "scripted:hold"
    chosen = resolve_graph(sim=True, overrides={"vla_inference.policy": "scripted:wave"})
    assert {s.name: s for s in chosen}["vla_inference"].parameters["policy"] == "scripted:wave"
    own = ROOT / "config" / "robovla.yaml"
    assert {s.name: s for s in resolve_graph(sim=True, config_file=own)}["vla_inference"].parameters[
        "policy"] == "scripted:hold"


def _share_of(installed: set[str]):
    def find_share(package: str) -> str:
        if package not in installed:
            raise KeyError(package)  # ament_index_python's PackageNotFoundError is a KeyError
        return f"/opt/ros/jazzy/share/{package}"
    return find_share


def test_launch_plan_is_the_graph_with_process_names(tmp_path: Path) -> None:
    from robovla.graph import plan_bringup

    plan = plan_bringup({"sim": "true", "namespace": "arm", "checkpoint": "scripted:hold"}, _share_of(set()))
    try:
        assert [p.name for p in plan.processes] == ["task_manager", "perception", "control", "safety_monitor", "sim"]
        assert plan.namespace == "arm" and plan.kortex_launch is None and plan.rviz_config is None
        params = yaml.safe_load(plan.params_file.read_text())
        assert params["/**/vla_inference"]["ros__parameters"]["policy"] == "scripted:hold"
    finally:
        import shutil

        shutil.rmtree(plan.tmp_dir)
    robot = plan_bringup({"sim": "false", "robot_ip": "192.168.1.10"}, _share_of({"kortex_bringup"}))
    assert robot.kortex_launch == "/opt/ros/jazzy/share/kortex_bringup/launch/gen3.launch.py"
    assert robot.kortex_arguments["robot_ip"] == "192.168.1.10"
    assert "sim" not in [p.name for p in robot.processes]
    robot.params_file.unlink()
    robot.tmp_dir.rmdir()


@pytest.mark.parametrize(("values", "missing"), [
    ({"sim": "true", "rviz": "true"}, "rviz2"),
    ({"sim": "false", "robot_ip": "10.0.0.2"}, "kortex_bringup"),
    ({"robot_ip": "10.0.0.2"}, "kortex_bringup"),  # a robot_ip alone means the real arm
])
def test_launch_plan_refuses_a_missing_package_before_starting_anything(values, missing, tmp_path: Path,
                                                                       monkeypatch) -> None:
    from robovla.graph import LaunchError, plan_bringup

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    with pytest.raises(LaunchError, match=f"'{missing}'.*not installed.*nothing was started"):
        plan_bringup(values, _share_of(set()))
    assert not any(tmp_path.iterdir()), "no parameter directory is left behind"
    with pytest.raises(LaunchError, match="unknown launch arguments"):
        plan_bringup({"robotip": "x"}, _share_of(set()))


def test_process_command_starts_the_installed_executable(tmp_path: Path) -> None:
    import os

    proc = group_processes(resolve_graph(sim=True))[1]
    exe = Path(process_command(proc, tmp_path / "p.yaml")[0])
    assert exe.name == "container" and exe.parent.name == "robovla" and exe.parent.parent.name == "lib"
    assert os.access(exe, os.X_OK)
    assert ROOT / "src" not in exe.parents


def test_record_launch_plan() -> None:
    from robovla.graph import LaunchError, plan_record

    spec = plan_record({"output_dir": "/data/demos", "cameras": "front", "compressed": "true", "namespace": ""})
    assert spec.executable == "recorder"
    assert spec.parameters["output_dir"] == "/data/demos" and spec.parameters["cameras"] == ["front"]
    assert spec.parameters["compressed"] is True
    assert plan_record({}).parameters["cameras"] == ["front", "wrist"], "empty arguments keep the config's"
    with pytest.raises(LaunchError, match="unknown launch arguments"):
        plan_record({"output": "x"})


@pytest.mark.parametrize("name", ["bringup.launch.py", "record.launch.py", "train.launch.py"])
def test_launch_files_stay_thin(name: str) -> None:
    """launch_ros has no wheel here, so a launch file cannot run in CI: each must parse, define
    generate_launch_description, and import nothing but launch, launch_ros, ament_index and
    robovla.graph (where what it computes is tested)."""
    import ast

    tree = ast.parse((ROOT / "launch" / name).read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    allowed = ("launch", "launch_ros", "ament_index_python", "robovla.graph", "shutil")
    stray = [m for m in modules if not any(m == a or m.startswith(a + ".") for a in allowed)]
    assert not stray, f"{name} imports {stray}"


def _plan(values: dict[str, str], installed: set[str] = frozenset({"kortex_bringup"})):
    """plan_bringup's plan, its parameter directory removed at once (only the plan is looked at)."""
    import shutil

    from robovla.graph import plan_bringup

    plan = plan_bringup(values, _share_of(set(installed)))
    params = yaml.safe_load(plan.params_file.read_text())
    shutil.rmtree(plan.tmp_dir)
    return plan, params


def test_the_launch_and_bringup_say_which_arm(tmp_path: Path, monkeypatch) -> None:
    """No default arm: a sim on a robot's network is a second /joint_states next to the driver's,
    a robot graph on a laptop waits for a driver that never comes."""
    from robovla.graph import LaunchError, choose_sim

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    for values, message in (({}, "neither the sim nor a robot was chosen: choose sim:=true"),
                            ({"sim": "ture"}, "'ture' is not true or false"),
                            ({"sim": "true", "robot_ip": "10.0.0.2"}, "robot_ip '10.0.0.2' names a real arm")):
        with pytest.raises(LaunchError, match=message):
            _plan(values)
    assert not any(tmp_path.iterdir()), "a refused launch leaves no parameter directory"
    sim, _ = _plan({"sim": "true"})
    assert "sim" in [p.name for p in sim.processes] and sim.kortex_launch is None
    for values in ({"sim": "false"}, {"robot_ip": "10.0.0.2"}, {"sim": "False", "robot_ip": "10.0.0.2"}):
        robot, _ = _plan(values)
        assert "sim" not in [p.name for p in robot.processes], values
        assert (robot.kortex_launch is not None) == bool(values.get("robot_ip")), values
    with pytest.raises(LaunchError, match="choose --sim or --robot"):
        choose_sim("", choices="--sim or --robot")


def _bringup_args(*argv: str):
    import argparse

    from robovla.cli.bringup import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(), "bringup")
    return parser.parse_args(["bringup", *argv])


def test_robovla_bringup_asks_which_arm_and_offers_the_launch_arguments(caplog) -> None:
    from robovla.cli.bringup import run
    from robovla.graph import bringup_arguments, graph_arguments

    declared = graph_arguments()
    assert {"checkpoint", "cameras", "control_mode", "camera_preset", "camera_topics"} <= set(declared)
    assert set(declared) <= set(bringup_arguments()), "every graph.yaml argument is a launch argument"
    args = _bringup_args("--robot", "--camera-preset", "realsense", "--camera-topics", "front=/image_raw",
                         "--control-mode", "joint_trajectory")
    assert (args.sim, args.camera_preset, args.camera_topics, args.control_mode) == (
        "false", "realsense", "front=/image_raw", "joint_trajectory")
    with pytest.raises(SystemExit):
        _bringup_args("--sim", "--camera-preset", "webcam")  # graph.yaml's choices reach argparse
    with caplog.at_level("ERROR"):
        assert run(_bringup_args()) == 1
        assert run(_bringup_args("--robot", "--camera-topics", "side=/image_raw")) == 1
    assert "choose --sim (the MuJoCo sim) or --robot" in caplog.text and "nothing was started" in caplog.text
    assert "camera_topics names 'side', which is not among the cameras ['front', 'wrist']" in caplog.text


def test_camera_topics_reach_camera_sync_and_the_recorder_from_one_argument() -> None:
    from robovla.nodes.common.topics import CAMERA_PRESETS, camera_topics

    # the default is the graph's own names (the sim's): nothing is set, the nodes keep their defaults
    specs = {s.name: s.parameters for s in resolve_graph(sim=True, record=True)}
    assert "camera_topics" not in specs["camera_sync"] and "camera_preset" not in specs["recorder"]
    assert camera_topics(["front", "wrist"]) == {"front": "camera/front/image_raw", "wrist": "camera/wrist/image_raw"}

    _, params = _plan({"robot_ip": "10.0.0.2", "record": "true", "camera_preset": "realsense",
                       "camera_topics": "wrist=/wrist_cam/image_raw", "cameras": "front,wrist"})
    for node in ("camera_sync", "recorder"):
        p = params[f"/**/{node}"]["ros__parameters"]
        assert p["camera_preset"] == "realsense" and p["camera_topics"] == ["wrist=/wrist_cam/image_raw"], node
        assert p["cameras"] == ["front", "wrist"], node
        assert camera_topics(p["cameras"], p["camera_preset"], p["camera_topics"]) == {
            "front": "camera/front/color/image_raw", "wrist": "/wrist_cam/image_raw"}
    # realsense2_camera's defaults (camera_namespace camera, camera_name camera) and usb_cam's
    _, params = _plan({"sim": "false", "cameras": "front",
                       "camera_topics": "front=/camera/camera/color/image_raw"})
    assert params["/**/camera_sync"]["ros__parameters"]["camera_topics"] == ["front=/camera/camera/color/image_raw"]
    assert camera_topics(["front"], "usb_cam") == {"front": "front/image_raw"}
    graph = yaml.safe_load((ROOT / "config" / "graph.yaml").read_text())
    assert graph["arguments"]["camera_preset"]["choices"] == list(CAMERA_PRESETS)
    # the recorder launched alone reads the same arguments
    from robovla.graph import plan_record

    spec = plan_record({"camera_preset": "usb_cam", "camera_topics": "front=/image_raw"})
    assert spec.parameters["camera_preset"] == "usb_cam" and spec.parameters["camera_topics"] == ["front=/image_raw"]


@pytest.mark.parametrize(("values", "message"), [
    ({"camera_topics": "front"}, "'front': expected NAME=TOPIC"),
    ({"camera_topics": "front=/a b"}, "'/a b' is not a valid ROS topic name"),
    ({"camera_topics": "front=/camera/camera/color/image_raw/compressed"}, "give the raw image topic"),
    ({"camera_topics": "front=/a,front=/b"}, "camera 'front' is given twice"),
    ({"camera_topics": "side=/image_raw"}, r"names 'side', which is not among the cameras \['front', 'wrist'\]"),
    ({"cameras": "front", "camera_topics": "wrist=/image_raw"}, "names 'wrist', which is not among"),
    ({"camera_preset": "webcam"}, "camera_preset 'webcam': choose one of sim, realsense, usb_cam"),
    ({"control_mode": "velocity"}, "control_mode 'velocity': choose one of twist, joint_trajectory"),
    ({"max_linear_speed": "fast"}, "max_linear_speed 'fast': not a number"),
    ({"max_angular_speed": "-1"}, "max_angular_speed '-1': must be positive"),
])
def test_a_bad_camera_argument_stops_the_launch(values: dict[str, str], message: str) -> None:
    from robovla.graph import LaunchError, plan_record

    with pytest.raises(LaunchError, match=f"{message}.*nothing was started"):
        _plan({"sim": "false", **values})
    with pytest.raises(ValueError, match=message):
        resolve_graph(sim=False, arguments=values)
    if "camera_topics" in values and "cameras" not in values:
        with pytest.raises(LaunchError, match=message):
            plan_record({"camera_topics": values["camera_topics"]})


def test_the_sim_takes_no_camera_driver_topics() -> None:
    """The sim publishes the graph's own names only: a driver's topics there would leave camera_sync blind."""
    for arguments in ({"camera_preset": "realsense"}, {"camera_topics": "front=/image_raw"}):
        with pytest.raises(ValueError, match="the sim publishes camera/<name>/image_raw only"):
            resolve_graph(sim=True, arguments=arguments)
    assert resolve_graph(sim=True, arguments={"camera_preset": "sim"})


def test_a_camera_topic_counts_for_any_node_that_reads_the_camera(tmp_path: Path) -> None:
    """A checkpoint trained on `front` leaves camera_sync one camera; the recorder still records both."""
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "vla_config.yaml").write_text(yaml.safe_dump({"cameras": ["front"]}))
    arguments = {"checkpoint": str(ckpt), "camera_topics": "wrist=/wrist_cam/image_raw"}
    specs = {s.name: s.parameters for s in resolve_graph(sim=False, record=True, arguments=arguments)}
    assert specs["camera_sync"]["cameras"] == ["front"] and specs["recorder"]["cameras"] == ["front", "wrist"]
    with pytest.raises(ValueError, match="names 'wrist', which is not among the cameras \\['front'\\]"):
        resolve_graph(sim=False, arguments=arguments)  # without the recorder nothing reads wrist


def test_first_run_speed_limits_reach_the_filter_and_the_smoother_from_one_argument() -> None:
    """docs/robot.md's first run: max_linear_speed:=0.05 max_angular_speed:=0.3 on both launch paths."""
    _, params = _plan({"sim": "false", "max_linear_speed": "0.05", "max_angular_speed": "0.3"})
    control = params["/**/kinova_control"]["ros__parameters"]
    smoother = params["/**/action_smoother"]["ros__parameters"]
    assert control["safety"]["max_linear_speed"] == 0.05 and control["safety"]["max_angular_speed"] == 0.3
    assert smoother["max_linear_speed"] == 0.05 and smoother["max_angular_speed"] == 0.3
    args = _bringup_args("--robot", "--max-linear-speed", "0.05")
    assert args.max_linear_speed == "0.05"


def test_teleop_graph_has_no_policy_starts_the_recorder_and_watches_only_what_runs() -> None:
    """`robovla bringup --teleop` / teleop:=true: the operator's commands replace the policy's."""
    from robovla.graph import plan_bringup

    for sim in (True, False):
        specs = {s.name: s for s in resolve_graph(sim=sim, teleop=True)}
        expected = {"task_manager", "kinova_control", "safety_monitor", "recorder"} | ({"sim"} if sim else set())
        assert set(specs) == expected
        assert specs["kinova_control"].parameters["required_heartbeats"] == ["task_manager", "safety_monitor"]
        assert specs["task_manager"].parameters["require_arm"] is True
    # the user's own choice still wins
    own = {s.name: s for s in resolve_graph(sim=True, teleop=True,
                                            overrides={"kinova_control.required_heartbeats": ["task_manager"]})}
    assert own["kinova_control"].parameters["required_heartbeats"] == ["task_manager"]
    from robovla.control.liveness import WATCHED

    full = {s.name: s for s in resolve_graph(sim=True)}  # the whole graph: kinova_control's default list
    assert "required_heartbeats" not in full["kinova_control"].parameters and "vla_inference" in WATCHED
    plan = plan_bringup({"sim": "true", "teleop": "true"}, _share_of(set()))
    started = {n.name for proc in plan.processes for n in proc.nodes}
    assert started == {"task_manager", "kinova_control", "safety_monitor", "recorder", "sim"}


def test_sim_graph_sizes_the_policy_torch_pool_and_a_user_count_stays() -> None:
    def threads(**kwargs) -> int:
        return next(s for s in resolve_graph(**kwargs) if s.name == "vla_inference").parameters.get("cpu_threads", 0)

    assert threads(sim=True) == sim_policy_threads() >= 1
    assert threads(sim=False) == 0  # a robot PC keeps torch's default
    assert threads(sim=True, overrides={"vla_inference.cpu_threads": 3}) == 3
