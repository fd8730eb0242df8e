"""ros2 launch robovla train.launch.py [runs_root:=~/robovla_runs] [default_preset:=tiny]

Starts the trainer node: a robovla/action/TrainPolicy server on robovla/train_policy (goal: data
dirs, base checkpoint, preset, overrides; feedback: epoch, step, loss, ETA; cancel saves and stops).
Same library as `robovla train`.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("runs_root", default_value="~/robovla_runs", description="default run directory root"),
        DeclareLaunchArgument("default_preset", default_value="tiny", description="preset when a goal names none"),
        Node(package="robovla", executable="trainer", output="screen", emulate_tty=True,
             parameters=[{"runs_root": LaunchConfiguration("runs_root"),
                          "default_preset": LaunchConfiguration("default_preset")}]),
    ])
