"""Which ros2_control controllers a control mode needs, and the switch that gets there.

kortex_bringup leaves joint_trajectory_controller active and twist_controller inactive, and the
driver refuses both active at once; a Twist sent to an inactive controller goes nowhere without
an error. So kinova_control asks the controller manager for this plan's switch at start,
checks the result with list_controllers, and refuses episodes until the arm is driven by the
controller its mode publishes to.
"""

from __future__ import annotations

from dataclasses import dataclass

TWIST_CONTROLLER = "twist_controller"
TRAJECTORY_CONTROLLER = "joint_trajectory_controller"
#: control mode -> (the controller it commands, the one the driver cannot run beside it)
MODE_CONTROLLERS: dict[str, tuple[str, str]] = {
    "twist": (TWIST_CONTROLLER, TRAJECTORY_CONTROLLER),
    "joint_trajectory": (TRAJECTORY_CONTROLLER, TWIST_CONTROLLER),
}


@dataclass(frozen=True)
class SwitchPlan:
    activate: tuple[str, ...]
    deactivate: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.activate or self.deactivate)


def required_switch(mode: str, states: dict[str, str]) -> SwitchPlan:
    """The switch_controller request that makes `mode`'s controller the active one; `states` is
    list_controllers' name -> state. ValueError naming what is missing from the manager."""
    if mode not in MODE_CONTROLLERS:
        raise ValueError(f"unknown control mode {mode!r}; one of {sorted(MODE_CONTROLLERS)}")
    wanted, rival = MODE_CONTROLLERS[mode]
    if wanted not in states:
        raise ValueError(f"the controller manager has no {wanted!r} (loaded: {sorted(states)}); "
                         f"{mode} mode needs it (kortex_bringup loads it)")
    activate = () if states[wanted] == "active" else (wanted,)
    deactivate = (rival,) if states.get(rival) == "active" else ()
    return SwitchPlan(activate, deactivate)


def restore_switch(mode: str, states: dict[str, str], restore: str) -> SwitchPlan:
    """On shutdown: deactivate the mode's controller (a latched twist dies with it) and, if
    `restore` names one, activate it again (the user's controller before we switched)."""
    wanted, _ = MODE_CONTROLLERS[mode]
    deactivate = (wanted,) if states.get(wanted) == "active" and restore != wanted else ()
    activate = (restore,) if restore and restore in states and states[restore] != "active" else ()
    return SwitchPlan(activate, deactivate)
