"""ros2 launch robovla bringup.launch.py [sim:=true] [robot_ip:=192.168.1.10] [checkpoint:=DIR]
[cameras:=front,wrist] [namespace:=arm] [control_mode:=twist|joint_trajectory] [record:=false] [rviz:=false]

Starts the nodes of config/graph.yaml with config/robovla.yaml, composed into processes as it
says: the same description that `robovla bringup` uses on machines without launch_ros. With
sim:=false and a robot_ip, the ros2_kortex driver (kortex_bringup gen3.launch.py, Robotiq
2F-85) is started too.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from robovla.graph import group_processes, launch_flag, resolve_graph, write_params_file

ARGS = {
    "sim": ("true", "run the MuJoCo Gen3 simulation instead of a real arm"),
    "robot_ip": ("", "Gen3 address; with sim:=false, also start the ros2_kortex driver"),
    "checkpoint": ("", "VLA checkpoint dir (default: the config's policy)"),
    "cameras": ("", "comma-separated camera names (default: the config's)"),
    "namespace": ("", "namespace for the whole graph"),
    "control_mode": ("", "twist | joint_trajectory (default: the config's)"),
    "record": ("false", "also start the recorder node (RecordEpisode action, rosbag2 episodes)"),
    "rviz": ("false", "open RViz with config/robovla.rviz (arm, policy intent, cameras)"),
}


def _nodes(context):
    import tempfile
    from pathlib import Path

    from ament_index_python.packages import get_package_share_directory

    value = {name: LaunchConfiguration(name).perform(context) for name in ARGS}
    sim = launch_flag(value["sim"])
    specs = resolve_graph(
        sim=sim,
        record=launch_flag(value["record"]),
        arguments={k: value[k] for k in ("checkpoint", "cameras", "control_mode")},
    )
    # a node-keyed file, not per-node dicts: launch_ros applies a dict to every node of a process
    params_file = str(write_params_file(specs, Path(tempfile.mkdtemp(prefix="robovla-launch-")) / "params.yaml"))
    actions = [
        Node(package="robovla", executable=p.executable, arguments=p.arguments, namespace=value["namespace"] or None,
             ros_arguments=p.rename_args,  # not name=: see NodeSpec.rename_args
             parameters=[params_file], output="screen", emulate_tty=True)
        for p in group_processes(specs)
    ]
    if not sim and value["robot_ip"]:
        kortex = get_package_share_directory("kortex_bringup") + "/launch/gen3.launch.py"
        actions.insert(0, IncludeLaunchDescription(
            PythonLaunchDescriptionSource(kortex),
            launch_arguments={"robot_ip": value["robot_ip"], "gripper": "robotiq_2f_85",
                              "launch_rviz": "false"}.items(),
        ))
    if launch_flag(value["rviz"]):
        rviz_config = get_package_share_directory("robovla") + "/config/robovla.rviz"
        actions.append(Node(package="rviz2", executable="rviz2", arguments=["-d", rviz_config],
                            namespace=value["namespace"] or None, output="screen"))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=doc) for name, (default, doc) in ARGS.items()]
        + [OpaqueFunction(function=_nodes)]
    )
