"""Gamepad (and SpaceMouse) teleoperation through sensor_msgs/Joy, as the distro's `joy` node
(joy_node) or `spacenav` publishes it: axes -> a 6-D direction, buttons -> episode events.

As in teleop_twist_joy, motion needs a held enable (deadman) button: a dropped controller or a
bumped stick does not move the arm. Button events fire on the press (the rising edge), once.
Defaults fit an Xbox-layout pad under joy_node (Linux joystick API numbering);
`JoyMapping.spacemouse()` fits spacenav's /spacenav/joy (6 axes, 2 buttons, no deadman there:
the device's own axes rest at zero)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from robovla.teleop.controls import Event


@dataclass
class JoyMapping:
    #: per output axis (x y z roll pitch yaw): (Joy axis index, scale); index -1 = unused
    axes: list[tuple[int, float]] = field(default_factory=lambda: [
        (1, 1.0),   # left stick up: forward
        (0, 1.0),   # left stick left: left
        (4, 1.0),   # right stick up: up
        (3, -1.0),  # right stick left/right: roll
        (7, 1.0),   # d-pad up/down: pitch
        (6, 1.0),   # d-pad left/right: yaw
    ])
    deadzone: float = 0.1
    enable_button: int = 4  # LB held = motion allowed; -1 = always (devices that rest at zero)
    buttons: dict[int, Event] = field(default_factory=lambda: {
        0: Event.KEEP_SUCCESS,  # A
        1: Event.KEEP_FAILURE,  # B
        2: Event.GRIPPER,  # X
        3: Event.PAUSE,  # Y
        6: Event.DISCARD,  # Back
        7: Event.START,  # Start
        5: Event.HALT,  # RB
    })

    @classmethod
    def spacemouse(cls) -> JoyMapping:
        return cls(axes=[(0, 1.0), (1, 1.0), (2, 1.0), (3, 1.0), (4, 1.0), (5, 1.0)], deadzone=0.15,
                   enable_button=-1, buttons={0: Event.GRIPPER, 1: Event.HALT})

    def __post_init__(self) -> None:
        if len(self.axes) != 6:
            raise ValueError(f"JoyMapping.axes needs 6 (index, scale) pairs (x y z roll pitch yaw), got {len(self.axes)}")
        if not 0 <= self.deadzone < 1:
            raise ValueError(f"deadzone must be in [0, 1), got {self.deadzone}")


class JoyTeleop:
    def __init__(self, mapping: JoyMapping | None = None) -> None:
        self.mapping = mapping or JoyMapping()
        self._pressed: set[int] = set()
        self._direction = np.zeros(6)
        self.complaint = ""  # why the last message was not used (too few axes, ...)

    def update(self, axes: list[float], buttons: list[int]) -> list[Event]:
        """One Joy message: store the direction; return the events of newly pressed buttons."""
        m = self.mapping
        needed = max(i for i, _ in m.axes)
        if len(axes) <= needed:
            self.complaint = f"Joy message has {len(axes)} axes; the mapping reads axis {needed}"
            self._direction = np.zeros(6)
            return []
        self.complaint = ""
        raw = np.array([axes[i] * s if i >= 0 else 0.0 for i, s in m.axes], dtype=np.float64)
        raw = np.nan_to_num(raw, nan=0.0)
        raw = np.where(np.abs(raw) < m.deadzone, 0.0, raw)
        enabled = m.enable_button < 0 or (m.enable_button < len(buttons) and buttons[m.enable_button])
        self._direction = np.clip(raw, -1.0, 1.0) if enabled else np.zeros(6)
        pressed = {i for i, b in enumerate(buttons) if b}
        new = pressed - self._pressed
        self._pressed = pressed
        return [m.buttons[i] for i in sorted(new) if i in m.buttons]

    def direction(self) -> np.ndarray:
        return self._direction.copy()

    def lost(self) -> None:
        """No Joy message for too long (joy_node stopped, pad unplugged): no motion."""
        self._direction = np.zeros(6)
        self._pressed = set()
