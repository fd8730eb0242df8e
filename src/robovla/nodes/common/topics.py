"""Topic, service and action names of the graph, in one place.

Names are relative so a `namespace` (launch arg) moves the whole graph, ros2_kortex's
controllers included, the way kortex_bringup namespaces them.
"""

from __future__ import annotations

import re
from typing import Iterable

# ros2_kortex (Kinova Gen3 driver) interfaces
JOINT_STATES = "joint_states"
TWIST_COMMANDS = "twist_controller/commands"
JOINT_TRAJECTORY = "joint_trajectory_controller/joint_trajectory"
GRIPPER_ACTION = "robotiq_gripper_controller/gripper_cmd"
RESET_FAULT = "fault_controller/reset_fault"
INTERNAL_FAULT = "fault_controller/internal_fault"
LIST_CONTROLLERS = "controller_manager/list_controllers"
SWITCH_CONTROLLER = "controller_manager/switch_controller"

# robovla graph
OBSERVATION = "robovla/observation"
WINDOW = "robovla/observation_window"
ACTION_CHUNK = "robovla/action_chunk"
ARM_COMMAND = "robovla/arm_command"
SENT_COMMAND = "robovla/sent_command"  # what kinova_control sent to the driver
GRAPH_STATUS = "robovla/status"  # the whole graph in one message (task_manager, GraphStatus, 2 Hz)
CONTROL_STATUS = "robovla/control_status"  # kinova_control's readiness (latched ControlStatus)
INSTRUCTION = "robovla/instruction"
HEARTBEAT = "robovla/heartbeat"  # Heartbeat from the processes the arm's safety depends on (40 Hz)
TASK_OUTCOME = "robovla/task_outcome"
TASK_CHECKER = "robovla/task_checker"  # the sim: which checker judges the running episode, or why none can
DIAGNOSTICS = "/diagnostics"  # diagnostic_msgs/DiagnosticArray, absolute as diagnostic_updater's
CLOCK = "/clock"  # the sim's simulated time (rosgraph_msgs/Clock); every node of a sim graph has use_sim_time
INTENT_MARKERS = "robovla/intent_markers"
EXECUTE_INSTRUCTION = "robovla/execute_instruction"
REPORT_OUTCOME = "robovla/report_outcome"
CONTROL_RESET_FAULT = "robovla/reset_fault"
RECORD_EPISODE = "robovla/record_episode"
STOP_RECORDING = "robovla/stop_recording"
FINISH_EPISODE = "robovla/finish_episode"  # the recorder: end the recording with a verdict (srv FinishEpisode)
JOY = "joy"  # sensor_msgs/Joy from the distro's joy node (a gamepad), or spacenav's /spacenav/joy
TRAIN_POLICY = "robovla/train_policy"
RESET_SIM = "sim/reset"  # the simulator's own service (robovla/srv/ResetSim)
SIM_INJECT_FAULT = "sim/inject_fault"  # the simulator's own: fault the arm (example_interfaces/Trigger)


def camera_topic(name: str, compressed: bool = False) -> str:
    """The graph's own camera topic (what the sim publishes); drivers' names: camera_topics()."""
    return compressed_topic(CAMERA_PRESETS["sim"].format(name=name), compressed)


#: where a camera driver publishes camera <name>'s raw image, relative like the graph's own names
#: (image_transport adds `/compressed`). `sim` is the graph's convention, which the sim publishes;
#: realsense2_camera >= 4.54 publishes /<camera_namespace>/<camera_name>/color/image_raw (defaults
#: camera/camera), so `camera_name:=<name>` matches; usb_cam publishes image_raw in its namespace.
CAMERA_PRESETS: dict[str, str] = {
    "sim": "camera/{name}/image_raw",
    "realsense": "camera/{name}/color/image_raw",
    "usb_cam": "{name}/image_raw",
}

_TOKEN = r"[A-Za-z_][A-Za-z0-9_]*"
_TOPIC = re.compile(rf"[~/]?{_TOKEN}(/{_TOKEN})*")


def parse_camera_topics(entries: Iterable[str]) -> dict[str, str]:
    """NAME=TOPIC entries -> {name: topic}; ValueError naming a malformed entry, so a typo in a launch
    argument stops the launch instead of leaving a camera silent."""
    out: dict[str, str] = {}
    for entry in entries:
        name, sep, topic = (part.strip() for part in str(entry).partition("="))
        if not sep or not name or not topic:
            raise ValueError(f"camera topic {entry!r}: expected NAME=TOPIC, e.g. front=/camera/camera/color/image_raw")
        if not re.fullmatch(_TOKEN, name):
            raise ValueError(f"camera topic {entry!r}: {name!r} is not a camera name")
        if not _TOPIC.fullmatch(topic):
            raise ValueError(f"camera topic {entry!r}: {topic!r} is not a valid ROS topic name")
        if topic.rstrip("/").endswith("/compressed"):
            raise ValueError(f"camera topic {entry!r}: give the raw image topic; the camera's `compressed` "
                             f"flag subscribes to <topic>/compressed")
        if name in out:
            raise ValueError(f"camera topic {entry!r}: camera {name!r} is given twice")
        out[name] = topic
    return out


def camera_topics(cameras: Iterable[str], preset: str = "sim", entries: Iterable[str] = ()) -> dict[str, str]:
    """{camera: raw image topic}: the preset's, unless an entry names the camera. Entries for other
    cameras are left out (one camera_topics value serves camera_sync and the recorder, whose cameras
    may differ; robovla.graph refuses an entry that no node reads). ValueError: an unknown preset or
    a malformed entry."""
    if preset not in CAMERA_PRESETS:
        raise ValueError(f"unknown camera preset {preset!r}; choose one of {', '.join(CAMERA_PRESETS)}")
    given = parse_camera_topics(entries)
    return {c: given.get(c, CAMERA_PRESETS[preset].format(name=c)) for c in cameras}


def compressed_topic(topic: str, compressed: bool) -> str:
    """image_transport's name for the compressed stream of a raw image topic."""
    return topic + "/compressed" if compressed else topic
