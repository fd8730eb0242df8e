"""The one description of the graph (config/graph.yaml + robovla.yaml) and the RViz layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from robovla.cli.bringup import node_command
from robovla.graph import resolve_graph
from robovla.nodes.common import topics

ROOT = Path(__file__).resolve().parents[1]


def test_graph_nodes_and_flags() -> None:
    names = [s.name for s in resolve_graph(sim=True)]
    assert names == ["task_manager", "camera_sync", "history_buffer", "vla_inference", "action_smoother",
                     "kinova_control", "sim"]
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


def test_node_command_renames_only_the_main_node(tmp_path: Path) -> None:
    spec = resolve_graph(sim=True)[0]
    cmd = node_command(spec, tmp_path / "p.yaml", namespace="arm")
    # a bare __node:= would also rename the process's side node and collide with the main one
    assert f"{spec.executable}:__node:={spec.name}" in cmd and f"__node:={spec.name}" not in cmd
    assert "__ns:=/arm" in cmd


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
