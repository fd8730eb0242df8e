"""Scripted expert: solves every task from privileged state with the commands a policy emits.

Its output is the product's 7-D action (per-step end-effector delta in base_link + gripper
0/1), so demonstrations recorded from it are valid training labels and it exercises exactly
the path a learned policy takes (action -> tool-frame twist + gripper command).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np

from robovla.control import kinematics as kin
from robovla.sim import scene
from robovla.sim.state import PrivilegedState
from robovla.sim.tasks import Episode

log = logging.getLogger(__name__)

DOWN_ROTATION = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
HOVER_Z = 0.13
MAX_APPROACH_JITTER = 0.04  # m; the open fingers clear a cube, and the hook a drawer wall, by about this much
GRASP_Z = scene.BLOCK_HALF + 0.003

Vec = np.ndarray
TargetFn = Callable[[PrivilegedState, PrivilegedState], Vec]  # (now, state at phase entry) -> TCP target
YawFn = Callable[[PrivilegedState, PrivilegedState], float]


@dataclass
class Phase:
    name: str
    target: TargetFn | None  # None: hold the TCP where the phase started
    grip: float  # 0 open, 1 closed
    yaw: YawFn | None = None  # None: keep the yaw at phase entry
    tol: float = 0.008
    speed: float = 0.25  # m/s cap on the TCP
    min_time: float = 0.0
    max_time: float = 6.0
    until: Callable[[PrivilegedState], bool] | None = None
    approach: bool = False  # a waypoint only: ScriptedExpert(approach_jitter=) may offset it


def face_yaw(yaw: float) -> float:
    """The tool yaw in [-pi/4, pi/4] that puts the fingers square to a cube of this yaw."""
    return float((yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)


def _const(p) -> TargetFn:
    arr = np.asarray(p, dtype=float)
    return lambda s, s0: arr


def _block_at(color: str, z: float, dx: float = 0.0, dy: float = 0.0) -> TargetFn:
    return lambda s, s0: np.array([s.blocks[color].pos[0] + dx, s.blocks[color].pos[1] + dy, z])


def _block_yaw(color: str) -> YawFn:
    return lambda s, s0: face_yaw(s.blocks[color].yaw)


def _entry_tcp(dz: float = 0.0) -> TargetFn:
    return lambda s, s0: s0.tcp_pos + np.array([0.0, 0.0, dz])


def _pick(color: str) -> list[Phase]:
    return [
        Phase("above_block", _block_at(color, HOVER_Z), 0.0, _block_yaw(color), tol=0.01, approach=True),
        Phase("descend", _block_at(color, GRASP_Z), 0.0, _block_yaw(color), tol=0.005, speed=0.15),
        Phase("close", None, 1.0, min_time=0.4, max_time=0.6),
        Phase("lift", _entry_tcp(0.13), 1.0, tol=0.012, speed=0.2),
    ]


def _release_and_retreat() -> list[Phase]:
    return [
        Phase("open", None, 0.0, min_time=0.35, max_time=0.5),
        Phase("retreat", _entry_tcp(0.08), 0.0, tol=0.015),
    ]


def drawer_front_x(opening: float) -> float:
    """x of the drawer front's outer face (the drawer slides toward the robot, -x)."""
    return scene.DRAWER_POS[0] - scene.DRAWER_SIZE[0] - opening


#: Drawer strategies that a policy can imitate without centimetre precision. Grasping the 1.2 cm
#: handle plate needed the gripper within about 1 cm of it; a 64 px policy missed by 1-2 cm.
HOOK_INSET = 0.06  # m behind the front face: inside the (roof-less) drawer, clear of the handle
HOOK_Y = 0.045  # m from the drawer's centre line, toward the robot's side (the far side is at the edge of reach)
DRAWER_TOOL_Z = 0.065  # m: fingers below the drawer's rim, above its floor
_FINGERS_ALONG_X: YawFn = lambda s, s0: np.pi / 2  # the finger linkage spans the drawer's length, not its width
PUSH_STANDOFF = 0.06  # m in front of the fully open drawer's front face
PULL_TO_OPENING = 0.17  # m: past the task's DRAWER_OPEN, so the pull does not stop at the threshold
PUSHED_SHUT = 0.01  # m: the push goes on past DRAWER_CLOSED, to the stop


def _open_drawer_by_hooking() -> list[Phase]:
    """Lower the closed gripper inside the drawer behind its front wall, then pull toward the robot."""

    def inside(opening_for_x: float | None = None, z: float = DRAWER_TOOL_Z) -> TargetFn:
        def target(s: PrivilegedState, s0: PrivilegedState) -> Vec:
            opening = s.drawer_opening if opening_for_x is None else opening_for_x
            return np.array([drawer_front_x(opening) + HOOK_INSET, scene.DRAWER_POS[1] + HOOK_Y, z])

        return target

    return [
        Phase("above_drawer", inside(z=0.16), 1.0, _FINGERS_ALONG_X, tol=0.01, approach=True),
        Phase("descend", inside(), 1.0, _FINGERS_ALONG_X, tol=0.008, speed=0.12),
        Phase("pull", inside(opening_for_x=PULL_TO_OPENING), 1.0, tol=0.01, speed=0.12),
        Phase("retreat", _entry_tcp(0.08), 1.0, tol=0.015),
    ]


def _close_drawer_by_pushing() -> list[Phase]:
    """Lower the closed gripper in front of the open drawer, then push its front in to the stop."""
    x_start = drawer_front_x(scene.DRAWER_TRAVEL) - PUSH_STANDOFF  # in front of the drawer at any opening
    y = scene.DRAWER_POS[1]
    return [
        Phase("above_front", _const([x_start, y, 0.16]), 1.0, lambda s, s0: 0.0, tol=0.01, approach=True),
        Phase("lower", _const([x_start, y, DRAWER_TOOL_Z]), 1.0, lambda s, s0: 0.0, tol=0.008, speed=0.12),
        Phase(
            "push", _const([drawer_front_x(0.0), y, DRAWER_TOOL_Z]), 1.0, tol=0.01, speed=0.12, max_time=4.0,
            until=lambda s: s.drawer_opening < PUSHED_SHUT,
        ),
        Phase("retreat", _entry_tcp(0.08), 1.0, tol=0.015),
    ]


def plan(episode: Episode) -> list[Phase]:
    """The phase list for an episode's task (targets are evaluated on the live state)."""
    task = episode.task
    if task is None:
        return []
    colors = episode.params.get("colors", [])
    name = task.name
    if name == "lift_block":
        return _pick(colors[0]) + [Phase("hold", None, 1.0, min_time=0.3, max_time=0.5)]
    if name in ("push_block_left", "push_block_right"):
        sign = 1.0 if name == "push_block_left" else -1.0
        c = colors[0]
        start_off = -sign * 0.07
        return [
            Phase("above_start", _block_at(c, HOVER_Z, dy=start_off), 1.0, _block_yaw(c), tol=0.01),
            Phase("descend", _block_at(c, 0.028, dy=start_off), 1.0, _block_yaw(c), tol=0.006, speed=0.15),
            Phase(
                "push",
                lambda s, s0: np.array([s0.tcp_pos[0], s0.tcp_pos[1] + sign * 0.20, 0.028]),
                1.0, tol=0.01, speed=0.12,
            ),
            Phase("retreat", _entry_tcp(0.1), 1.0, tol=0.015),
        ]
    if name == "place_in_bowl":
        return _pick(colors[0]) + [
            Phase("above_bowl", lambda s, s0: np.array([s.bowl_pos[0], s.bowl_pos[1], 0.16]), 1.0, tol=0.012, approach=True),
            Phase("lower", lambda s, s0: np.array([s.bowl_pos[0], s.bowl_pos[1], 0.075]), 1.0, tol=0.008, speed=0.12),
        ] + _release_and_retreat()
    if name == "stack_blocks":
        top, bottom = colors
        place_z = scene.BLOCK_HALF * 3 + GRASP_Z - scene.BLOCK_HALF + 0.006
        return _pick(top) + [
            Phase("above_bottom", _block_at(bottom, 0.16), 1.0, _block_yaw(bottom), tol=0.008, approach=True),
            Phase("lower", _block_at(bottom, place_z), 1.0, _block_yaw(bottom), tol=0.004, speed=0.08),
        ] + _release_and_retreat()
    if name == "open_drawer":
        return _open_drawer_by_hooking()
    if name == "close_drawer":
        return _close_drawer_by_pushing()
    if name in ("turn_on_light", "turn_off_light"):
        bx, by = scene.BUTTON_POS
        return [
            Phase("above_button", _const([bx, by, 0.15]), 1.0, lambda s, s0: 0.0, tol=0.01, approach=True),
            Phase(
                "press", _const([bx, by, 0.03]), 1.0, tol=0.002, speed=0.06, max_time=3.0,
                until=lambda s: s.button_depth > scene.BUTTON_PRESS_DEPTH + 0.002,
            ),
            Phase("release", _entry_tcp(0.1), 1.0, tol=0.015),
        ]
    raise ValueError(f"the scripted expert has no plan for task {name!r}")


class ScriptedExpert:
    """Phase machine over privileged state; `act` returns one 7-D action per control step."""

    name = "scripted_expert"

    def __init__(
        self,
        dt: float = 0.02,
        noise: float = 0.0,
        seed: int | None = None,
        gain: float = 5.0,
        rot_gain: float = 4.0,
        approach_jitter: float = 0.0,
    ) -> None:
        if dt <= 0:
            raise ValueError(f"dt must be positive, got {dt}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        if not 0.0 <= approach_jitter <= MAX_APPROACH_JITTER:
            raise ValueError(f"approach_jitter must be in [0, {MAX_APPROACH_JITTER}] m, got {approach_jitter}")
        self.dt, self.noise, self.gain, self.rot_gain = float(dt), float(noise), float(gain), float(rot_gain)
        self.approach_jitter = float(approach_jitter)
        self._offset = np.zeros(3)
        self._rng = np.random.default_rng(seed)
        self._phases: list[Phase] = []
        self._index = 0
        self._entry: PrivilegedState | None = None
        self._entry_yaw = 0.0
        self._t_phase = 0.0
        self._grip = 0.0

    def reset(self, episode: Episode) -> None:
        self._phases = plan(episode)
        self._index = 0
        self._entry = None
        self._t_phase = 0.0
        self._grip = 0.0

    @property
    def done(self) -> bool:
        return self._index >= len(self._phases)

    @property
    def phase_name(self) -> str:
        return "done" if self.done else self._phases[self._index].name

    def act(self, state: PrivilegedState) -> np.ndarray:
        """7-D action: base_link delta of end_effector_link over dt (m, rad) + gripper 0/1."""
        action = np.zeros(7)
        if self.done:
            action[6] = self._grip
            return action
        phase = self._phases[self._index]
        if self._entry is None:
            self._entry, self._entry_yaw, self._t_phase = state, state.tool_yaw, 0.0
            self._offset = self._approach_offset() if phase.approach else np.zeros(3)
        target = (phase.target(state, self._entry) + self._offset) if phase.target else self._entry.tcp_pos
        yaw = phase.yaw(state, self._entry) if phase.yaw else self._entry_yaw
        rot_goal = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]]) @ DOWN_ROTATION
        rot_err = kin.rotation_vector(rot_goal @ state.ee_transform[:3, :3].T)
        pos_err = np.asarray(target) - state.tcp_pos

        reached = np.linalg.norm(pos_err) < phase.tol and np.linalg.norm(rot_err) < 0.05
        if phase.until is not None:
            reached = phase.until(state)
        if phase.target is None:
            reached = True
        self._grip = phase.grip
        if (reached and self._t_phase >= phase.min_time) or self._t_phase >= phase.max_time:
            if self._t_phase >= phase.max_time and not reached:
                log.debug("expert phase %s timed out (err %.4f m)", phase.name, np.linalg.norm(pos_err))
            self._index += 1
            self._entry = None
            return self.act(state) if not self.done else self._hold_action()
        self._t_phase += self.dt

        v = self.gain * pos_err
        speed = np.linalg.norm(v)
        if speed > phase.speed:
            v *= phase.speed / speed
        w = self.rot_gain * rot_err
        wn = np.linalg.norm(w)
        if wn > 1.0:
            w /= wn
        if self.noise > 0:
            v = v + self._rng.normal(0.0, self.noise, 3)
            w = w + self._rng.normal(0.0, 2 * self.noise, 3)
        # the action moves end_effector_link: shift the TCP velocity to its origin
        v_ee = v - np.cross(w, state.tcp_pos - state.ee_transform[:3, 3])
        action[:3] = v_ee * self.dt
        action[3:6] = w * self.dt
        action[6] = phase.grip
        return action

    def _approach_offset(self) -> np.ndarray:
        """A waypoint offset (uniform in a disc in x-y, half as much in z).

        Demonstrations that reach the hover point slightly off, then correct on the way down, show
        a policy how to recover from the small misses it will make itself (the DART idea, without
        labels that differ from what was executed).
        """
        j = self.approach_jitter
        if j <= 0:
            return np.zeros(3)
        r, phi = j * np.sqrt(self._rng.uniform()), self._rng.uniform(0, 2 * np.pi)
        return np.array([r * np.cos(phi), r * np.sin(phi), self._rng.uniform(-j / 2, j / 2)])

    def _hold_action(self) -> np.ndarray:
        a = np.zeros(7)
        a[6] = self._grip
        return a


def expert_notes(noise: float, approach_jitter: float, where: str) -> str:
    """The operator notes of an expert demo bag: how it was made, so datasets can be told apart."""
    return f"scripted expert ({where}), noise {noise}, approach jitter {approach_jitter}"


def action_to_velocity(action: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray, float]:
    """7-D action over dt -> (base_link linear m/s, base_link angular rad/s, gripper 0..1): an ArmCommand."""
    a = np.asarray(action, dtype=float)
    return a[:3] / dt, a[3:6] / dt, float(a[6])


def action_to_driver_command(action: np.ndarray, ee_rotation: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray, float]:
    """7-D action -> (tool-frame linear m/s, tool-frame angular deg/s, gripper position 0..0.8).

    This is the conversion a control node makes before publishing a ros2_kortex Twist.
    """
    a = np.asarray(action, dtype=float)
    if a.shape != (7,):
        raise ValueError(f"action must have shape (7,), got {a.shape}")
    lin_tool = ee_rotation.T @ (a[:3] / dt)
    ang_tool = ee_rotation.T @ (a[3:6] / dt)
    gripper = float(np.clip(a[6], 0.0, 1.0)) * scene.GRIPPER_CLOSED_KNUCKLE
    return lin_tool, np.rad2deg(ang_tool), gripper
