"""What the real ros2_kortex stack does with what it is sent, as a ROS-free model.

The sim node serves it on the driver's interfaces (controller_manager services, twist and
trajectory topics, fault topic and reset service), and tests drive it directly, so the harness
fails where the real arm would. Read from the upstream code (ros2_kortex jazzy branch,
picknik_twist_controller, ros2_controllers 4.x; facts in shared notes/ros2_kortex.md):

- kortex_bringup starts joint_trajectory_controller and spawns twist_controller `--inactive`;
  nothing activates it unless someone calls /controller_manager/switch_controller.
- kortex_driver refuses a twist controller and a joint-position controller active together.
- picknik_twist_controller stores the last Twist and re-sends it every cycle; the buffer is
  cleared only on activate/deactivate. The driver sends it with no duration and no limits: there
  is no command timeout anywhere in the stack.
- Jazzy's JTC (allow_nonzero_velocity_at_trajectory_end defaults to false) rejects a trajectory
  whose last point has a non-zero velocity; Humble's default accepted it.
- A fault stops the arm; /fault_controller/reset_fault clears it and the latched twist resumes.

Where it differs: a switch takes effect at once (the real manager applies it at its next 1 kHz
update); JTC checks are the ones that decide acceptance for our messages (joint names, point
sizes, increasing times, end velocity), not its full validation; faults come only from
`inject_fault` (the real arm raises them on a joint jump, a collision, an e-stop).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from robovla.control.controllers import TRAJECTORY_CONTROLLER, TWIST_CONTROLLER

ACTIVE, INACTIVE = "active", "inactive"
#: controllers the driver refuses to run together (both command the arm's joints)
EXCLUSIVE = (TWIST_CONTROLLER, TRAJECTORY_CONTROLLER)
#: kortex_bringup's controllers at start: name -> (type, state)
BRINGUP_CONTROLLERS: dict[str, tuple[str, str]] = {
    "joint_state_broadcaster": ("joint_state_broadcaster/JointStateBroadcaster", ACTIVE),
    TRAJECTORY_CONTROLLER: ("joint_trajectory_controller/JointTrajectoryController", ACTIVE),
    TWIST_CONTROLLER: ("picknik_twist_controller/PicknikTwistController", INACTIVE),
    "robotiq_gripper_controller": ("position_controllers/GripperActionController", ACTIVE),
    "fault_controller": ("picknik_reset_fault_controller/PicknikResetFaultController", ACTIVE),
}
STRICT, BEST_EFFORT = 2, 1  # controller_manager_msgs/SwitchController constants
#: distro -> JTC's allow_nonzero_velocity_at_trajectory_end default
NONZERO_END_VELOCITY_ALLOWED = {"humble": True, "jazzy": False, "kilted": False, "rolling": False}


@dataclass
class Controller:
    name: str
    type: str
    state: str


@dataclass
class KortexDriverModel:
    joint_names: tuple[str, ...]
    distro: str = "jazzy"
    controllers: dict[str, Controller] = field(default_factory=dict)
    faulted: bool = False
    fault_message: str = ""
    _twist: np.ndarray = field(default_factory=lambda: np.zeros(6))

    def __post_init__(self) -> None:
        if self.distro not in NONZERO_END_VELOCITY_ALLOWED:
            raise ValueError(f"unknown distro {self.distro!r}; one of {sorted(NONZERO_END_VELOCITY_ALLOWED)}")
        if not self.controllers:
            self.controllers = {n: Controller(n, t, s) for n, (t, s) in BRINGUP_CONTROLLERS.items()}

    # ------------------------------------------------------------ controller_manager
    def is_active(self, name: str) -> bool:
        c = self.controllers.get(name)
        return c is not None and c.state == ACTIVE

    def switch(self, activate: list[str], deactivate: list[str], strictness: int = STRICT) -> tuple[bool, str]:
        """/controller_manager/switch_controller: (ok, message); nothing changes when not ok."""
        unknown = [n for n in (*activate, *deactivate) if n not in self.controllers]
        if unknown and strictness == STRICT:
            return False, f"unknown controllers {unknown}"
        activate = [n for n in activate if n in self.controllers]
        deactivate = [n for n in deactivate if n in self.controllers]
        wrong = [n for n in activate if self.is_active(n) and n not in deactivate]
        wrong += [n for n in deactivate if not self.is_active(n)]
        if wrong and strictness == STRICT:
            return False, f"controllers already in the requested state: {wrong}"
        after = {n: c.state for n, c in self.controllers.items()}
        for n in deactivate:
            after[n] = INACTIVE
        for n in activate:
            after[n] = ACTIVE
        if all(after[n] == ACTIVE for n in EXCLUSIVE):
            return False, ("kortex driver: twist_controller and joint_trajectory_controller cannot be active "
                           "together (prepare_command_mode_switch refused)")
        for n, state in after.items():
            if self.controllers[n].state != state and n == TWIST_CONTROLLER:
                self._twist = np.zeros(6)  # picknik_twist_controller clears its buffer on (de)activate
            self.controllers[n].state = state
        return True, "switched"

    # ------------------------------------------------------------ twist_controller
    def on_twist(self, linear: np.ndarray, angular_deg: np.ndarray) -> bool:
        """A Twist on twist_controller/commands; False when no active controller takes it."""
        if not self.is_active(TWIST_CONTROLLER):
            return False
        self._twist = np.concatenate([np.asarray(linear, float), np.asarray(angular_deg, float)])
        return True

    def commanded_twist(self) -> np.ndarray | None:
        """Tool-frame twist (m/s, deg/s) the driver sends this cycle; None when the twist
        controller does not drive the arm (inactive), zeros while faulted."""
        if not self.is_active(TWIST_CONTROLLER):
            return None
        return np.zeros(6) if self.faulted else self._twist.copy()

    # ------------------------------------------------------------ joint_trajectory_controller
    def check_trajectory(self, names: list[str], positions: list[list[float]], velocities: list[list[float]],
                         times: list[float]) -> str:
        """'' if JTC takes this trajectory, else why it rejects or ignores it."""
        if not self.is_active(TRAJECTORY_CONTROLLER):
            return "joint_trajectory_controller is not active"
        if self.faulted:
            return "the arm is in fault"
        if sorted(names) != sorted(self.joint_names):
            return f"joint names {names} do not match the controller's {list(self.joint_names)}"
        if not positions:
            return "empty trajectory"
        n = len(self.joint_names)
        for i, (p, v) in enumerate(zip(positions, velocities)):
            if len(p) != n or (v and len(v) != n):
                return f"point {i}: {len(p)} positions / {len(v)} velocities for {n} joints"
            if not np.all(np.isfinite(p)) or (v and not np.all(np.isfinite(v))):
                return f"point {i}: non-finite values"
        if any(b <= a for a, b in zip(times, times[1:])) or (times and times[0] < 0):
            return "time_from_start must increase strictly"
        last_v = velocities[-1] if velocities else []
        if (last_v and np.any(np.asarray(last_v) != 0.0)
                and not NONZERO_END_VELOCITY_ALLOWED[self.distro]):
            return (f"Velocity of last trajectory point is not zero ({self.distro} JTC: "
                    "allow_nonzero_velocity_at_trajectory_end is false)")
        return ""

    # ------------------------------------------------------------ faults
    def inject_fault(self, message: str) -> None:
        self.faulted, self.fault_message = True, message

    def reset_fault(self) -> tuple[bool, str]:
        """fault_controller/reset_fault: clears the fault; the latched twist (if any) resumes."""
        was = self.faulted
        self.faulted, self.fault_message = False, ""
        return True, "fault reset" if was else "no fault"
