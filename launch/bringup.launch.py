"""ros2 launch robovla bringup.launch.py sim:=true|false [robot_ip:=192.168.1.10] [checkpoint:=DIR]
[cameras:=front,wrist] [control_mode:=twist|joint_trajectory] [camera_preset:=sim|realsense|usb_cam]
[camera_topics:=front=/camera/camera/color/image_raw,...] [namespace:=arm] [record:=false] [teleop:=false] [rviz:=false]

Starts the processes of config/graph.yaml with config/robovla.yaml, as robovla.graph.plan_bringup
computes them: the same description `robovla bringup` uses on machines without launch_ros, and
everything this file adds to it is in that function (and tested there). Say which arm: sim:=true
for the MuJoCo sim, sim:=false (or a robot_ip) for a real Gen3; with a robot_ip, the ros2_kortex
driver (kortex_bringup gen3.launch.py, Robotiq 2F-85) is started too. The arguments between
checkpoint and camera_topics are graph.yaml's `arguments:`. A package the plan needs
(kortex_bringup, rviz2) that is not installed, or a bad argument, stops the launch before any
process starts.
"""

import shutil

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnShutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from robovla.graph import bringup_arguments, plan_bringup


def _actions(context):
    from ament_index_python.packages import get_package_share_directory

    values = {name: LaunchConfiguration(name).perform(context) for name in bringup_arguments()}
    plan = plan_bringup(values, get_package_share_directory)
    actions = [RegisterEventHandler(OnShutdown(on_shutdown=lambda *_: shutil.rmtree(plan.tmp_dir, ignore_errors=True)))]
    if plan.kortex_launch:
        actions.append(IncludeLaunchDescription(PythonLaunchDescriptionSource(plan.kortex_launch),
                                                launch_arguments=plan.kortex_arguments.items()))
    actions += [
        Node(package="robovla", executable=p.executable, arguments=p.arguments, namespace=plan.namespace,
             exec_name=p.name,  # logs say [perception-1], not [container-2]
             ros_arguments=p.rename_args,  # not name=: see NodeSpec.rename_args
             parameters=[str(plan.params_file)], output="screen", emulate_tty=True)
        for p in plan.processes
    ]
    if plan.rviz_config:
        actions.append(Node(package="rviz2", executable="rviz2", arguments=["-d", plan.rviz_config],
                            namespace=plan.namespace, output="screen"))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=doc)
         for name, (default, doc) in bringup_arguments().items()]
        + [OpaqueFunction(function=_actions)]
    )
