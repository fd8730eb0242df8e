"""Topic, service and action names of the graph, in one place.

Names are relative so a `namespace` (launch arg) moves the whole graph, ros2_kortex's
controllers included, the way kortex_bringup namespaces them.
"""

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
CONTROL_STATUS = "robovla/control_status"  # kinova_control's readiness (latched ControlStatus)
INSTRUCTION = "robovla/instruction"
TASK_OUTCOME = "robovla/task_outcome"
INTENT_MARKERS = "robovla/intent_markers"
EXECUTE_INSTRUCTION = "robovla/execute_instruction"
REPORT_OUTCOME = "robovla/report_outcome"
CONTROL_RESET_FAULT = "robovla/reset_fault"
RECORD_EPISODE = "robovla/record_episode"
STOP_RECORDING = "robovla/stop_recording"
TRAIN_POLICY = "robovla/train_policy"
RESET_SIM = "sim/reset"  # the simulator's own service (robovla/srv/ResetSim)
SIM_INJECT_FAULT = "sim/inject_fault"  # the simulator's own: fault the arm (example_interfaces/Trigger)


def camera_topic(name: str, compressed: bool = False) -> str:
    return f"camera/{name}/image_raw" + ("/compressed" if compressed else "")
