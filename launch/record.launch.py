"""ros2 launch robovla record.launch.py [output_dir:=DIR] [cameras:=front,wrist] [compressed:=false] [namespace:=]

Starts the recorder node as config/graph.yaml + config/robovla.yaml describe it (empty arguments
keep the config's values): one MCAP episode per RecordEpisode goal on robovla/record_episode
(`robovla record --instruction "..."` sends one; cancel / Ctrl-C or robovla/stop_recording ends it).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from robovla.graph import launch_flag, resolve_graph

ARGS = {
    "output_dir": ("", "recording root, one bag directory per episode (default: the config's)"),
    "cameras": ("", "comma-separated camera names, /camera/<name>/image_raw (default: the config's)"),
    "compressed": ("", "true: record .../image_raw/compressed instead of raw images (default: the config's)"),
    "namespace": ("", "namespace of the robot graph"),
}


def _nodes(context):
    v = {name: LaunchConfiguration(name).perform(context) for name in ARGS}
    overrides = {}
    if v["output_dir"]:
        overrides["recorder.output_dir"] = v["output_dir"]
    if v["cameras"]:
        overrides["recorder.cameras"] = [c for c in v["cameras"].split(",") if c]
    if v["compressed"]:
        overrides["recorder.compressed"] = launch_flag(v["compressed"])
    spec = next(s for s in resolve_graph(sim=False, record=True, overrides=overrides) if s.name == "recorder")
    return [Node(package="robovla", executable=spec.executable, namespace=v["namespace"] or None,
                 ros_arguments=spec.rename_args, parameters=[spec.parameters], output="screen", emulate_tty=True)]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([DeclareLaunchArgument(n, default_value=d, description=h) for n, (d, h) in ARGS.items()]
                             + [OpaqueFunction(function=_nodes)])
