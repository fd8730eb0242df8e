"""ros2 launch robovla record.launch.py [output_dir:=~/robovla_demos] [cameras:=front,wrist]
[compressed:=false] [namespace:=]

Starts the recorder node: one MCAP episode per RecordEpisode goal on robovla/record_episode
(`robovla record --instruction "..."` sends one; cancel / Ctrl-C or robovla/stop_recording ends it).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

ARGS = {
    "output_dir": ("~/robovla_demos", "recording root (one bag directory per episode)"),
    "cameras": ("front", "comma-separated camera names (/camera/<name>/image_raw)"),
    "compressed": ("false", "record .../image_raw/compressed instead of raw images"),
    "namespace": ("", "namespace of the robot graph"),
}


def _nodes(context):
    v = {name: LaunchConfiguration(name).perform(context) for name in ARGS}
    params = {"output_dir": v["output_dir"], "cameras": [c for c in v["cameras"].split(",") if c],
              "compressed": v["compressed"].lower() in ("1", "true", "yes")}
    return [Node(package="robovla", executable="recorder", namespace=v["namespace"] or None,
                 parameters=[params], output="screen", emulate_tty=True)]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([DeclareLaunchArgument(n, default_value=d, description=h) for n, (d, h) in ARGS.items()]
                             + [OpaqueFunction(function=_nodes)])
