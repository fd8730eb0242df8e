"""ros2 launch robovla record.launch.py [output_dir:=DIR] [cameras:=front,wrist] [compressed:=false]
[camera_preset:=sim|realsense|usb_cam] [camera_topics:=front=/camera/camera/color/image_raw,...] [namespace:=]

Starts the recorder node as config/graph.yaml + config/robovla.yaml describe it (empty arguments
keep the config's values; robovla.graph.plan_record computes it): one MCAP episode per
RecordEpisode goal on robovla/record_episode (`robovla record --instruction "..."` sends one;
cancel / Ctrl-C or robovla/stop_recording ends it).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from robovla.graph import RECORD_ARGUMENTS, plan_record


def _nodes(context):
    v = {name: LaunchConfiguration(name).perform(context) for name in RECORD_ARGUMENTS}
    spec = plan_record(v)
    return [Node(package="robovla", executable=spec.executable, namespace=v["namespace"] or None,
                 ros_arguments=spec.rename_args, parameters=[spec.parameters], output="screen", emulate_tty=True)]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([DeclareLaunchArgument(n, default_value=d, description=h)
                              for n, (d, h) in RECORD_ARGUMENTS.items()]
                             + [OpaqueFunction(function=_nodes)])
