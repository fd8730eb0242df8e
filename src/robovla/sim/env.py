"""Gen3SimEnv: the ROS-free MuJoCo core behind the sim node.

It accepts the same commands as ros2_kortex (a tool-frame twist in m/s and deg/s with no timeout,
joint trajectories, a gripper position 0..0.8) and applies the driver's limits, so that code
validated here behaves the same against the real arm. Joints are position servos (500 Hz
physics) whose targets are integrated from the commanded motion at the control rate.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Sequence

import mujoco
import numpy as np

from robovla.sim import scene
from robovla.sim.config import SimConfig
from robovla.sim.embodiment import GEN3, Embodiment, get_embodiment
from robovla.sim.state import BlockState, PrivilegedState
from robovla.sim.tasks import Episode, Layout, continue_episode, get_task, grounded_episode, make_episode

log = logging.getLogger(__name__)

#: Tool orientation at reset: pointing down, fingers closing along base y.
DOWN_ROTATION = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
_READY_SEED = GEN3.ready_seed
_WINDUP = 0.15  # rad: servo targets never run further than this ahead of the measured joints


def ready_configuration(tcp: tuple[float, float, float], embodiment: Embodiment = GEN3) -> np.ndarray:
    """Joint configuration putting the TCP at `tcp` with the tool pointing down."""
    target = np.eye(4)
    target[:3, :3] = DOWN_ROTATION
    target[:3, 3] = np.asarray(tcp) - DOWN_ROTATION[:, 2] * embodiment.tcp_offset
    q, ok = embodiment.kinematics.inverse_kinematics(target, embodiment.ready_seed, max_iters=500)
    if not ok:
        raise ValueError(f"ready TCP {tcp} is not reachable with the tool pointing down")
    return q


@dataclass
class _Trajectory:
    times: np.ndarray  # (N+1,) absolute sim times, first = command time
    positions: np.ndarray  # (N+1, 7), first = servo target at command time


class Gen3SimEnv:
    """MuJoCo Kinova Gen3 + gripper on a table with blocks, a bowl, a drawer and a light button.

    `config.embodiment` swaps the arm, gripper and cameras (robovla.sim.embodiment: "panda"); the
    commands and the tasks stay the same.
    """

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.embodiment = emb = get_embodiment(self.config.embodiment)
        self.arm = emb.kinematics
        self.model = mujoco.MjModel.from_xml_string(
            scene.build_mjcf(scene.SceneOptions(timestep=self.config.physics_dt, image_size=self.config.image_size),
                             emb)
        )
        self.data = mujoco.MjData(self.model)
        m = self.model
        self._joint_names = emb.joint_names
        self._arm_qadr = np.array([m.jnt_qposadr[m.joint(n).id] for n in self._joint_names])
        self._arm_dadr = np.array([m.jnt_dofadr[m.joint(n).id] for n in self._joint_names])
        self._finger_qadr = m.jnt_qposadr[m.joint(emb.finger_joints[0]).id]
        self._gripper_act = m.actuator("gripper_servo").id
        self._block_qadr = {c: m.jnt_qposadr[m.joint(f"{c}_block_joint").id] for c in scene.BLOCK_COLORS}
        self._block_dadr = {c: m.jnt_dofadr[m.joint(f"{c}_block_joint").id] for c in scene.BLOCK_COLORS}
        self._block_geom = {c: m.body(f"{c}_block").geomadr[0] for c in scene.BLOCK_COLORS}
        self._finger_geoms = {m.body(b).geomadr[0] for b in emb.finger_bodies}
        self._drawer_qadr = m.jnt_qposadr[m.joint("drawer_joint").id]
        self._button_qadr = m.jnt_qposadr[m.joint("button_joint").id]
        self._bowl_mocap = m.body("bowl").mocapid[0]
        self._light_geom = m.geom("light").id
        self._tcp_site = m.site("tcp").id
        self._ready_q = ready_configuration(self.config.ready_tcp, emb)
        self._renderer: mujoco.Renderer | None = None
        self.episode: Episode | None = None
        self._start_state: PrivilegedState | None = None
        self._mode = "hold"
        self._twist_tool = np.zeros(6)  # linear m/s, angular rad/s
        self._trajectory: _Trajectory | None = None
        self._target = self._ready_q.copy()
        self._gripper_target = 0.0  # finger travel, m
        self._gripper_ctrl = 0.0
        self._light_on = False
        self._button_latched = False
        self._limit_logged: set[str] = set()
        self.reset(task=None, seed=0)

    # ------------------------------------------------------------------ episodes
    def reset(self, task: str | None = None, seed: int = 0, split: str = "train",
              params: dict | None = None, instruction: str | None = None) -> Episode:
        """Start a new episode: seeded random layout for `task` (None = a neutral layout); `params`
        and `instruction` fix the task's colours and wording (a goal grounded in the sim)."""
        rng = np.random.default_rng(seed)
        episode = make_episode(task, rng, split=split, params=params)
        if instruction is not None:
            episode = replace(episode, instruction=instruction)
        mujoco.mj_resetData(self.model, self.data)
        q0 = self._ready_q + rng.uniform(-1, 1, 7) * self.config.init_joint_noise
        lim = self.embodiment.joint_position_limits
        bounded = np.flatnonzero(np.isfinite(lim[:, 0]))  # the Gen3's continuous joints need no clip
        q0[bounded] = np.clip(q0[bounded], lim[bounded, 0], lim[bounded, 1])
        self.data.qpos[self._arm_qadr] = q0
        self._apply_layout(episode.layout)
        self._mode = "hold"
        self._twist_tool = np.zeros(6)
        self._trajectory = None
        self._target = q0.copy()
        self._gripper_target = self._gripper_ctrl = 0.0
        self._limit_logged.clear()
        self.data.ctrl[: len(self._joint_names)] = q0
        self.data.ctrl[self._gripper_act] = 0.0
        mujoco.mj_forward(self.model, self.data)
        # settle objects onto the table with the arm held still
        for _ in range(int(0.2 / self.config.physics_dt)):
            mujoco.mj_step(self.model, self.data)
        self.data.time = 0.0
        self.episode = episode
        self._start_state = self.state()
        log.debug("reset: task=%s seed=%d instruction=%r", episode.task.name if episode.task else None, seed, episode.instruction)
        return episode

    def continue_with(self, task: str | None = None, seed: int = 0, split: str = "train",
                      candidates: Sequence[str] | None = None, params: dict | None = None,
                      instruction: str | None = None) -> Episode:
        """Start the next task of a chain from the scene as it is (no physics reset).

        The task's checker then compares against the state now, so each link of a chain is judged
        on its own, as in CALVIN's long-horizon evaluation.
        """
        if self.episode is None:
            raise ValueError("continue_with needs a scene: call reset() first")
        self.stop()
        state = self.state()
        if params is not None and task is not None:  # a goal grounded in the sim: this task, these colours
            episode = grounded_episode(get_task(task), params, state, self.episode.layout,
                                       instruction if instruction is not None else "")
        else:
            episode = continue_episode(task, np.random.default_rng(seed), state, self.episode.layout, split=split,
                                       candidates=candidates)
            if instruction is not None:
                episode = replace(episode, instruction=instruction)
        self.episode = episode
        self._start_state = state
        log.debug("continue: task=%s instruction=%r", episode.task.name, episode.instruction)
        return episode

    def _apply_layout(self, layout: Layout) -> None:
        for color, (x, y, yaw) in layout.blocks.items():
            adr = self._block_qadr[color]
            self.data.qpos[adr : adr + 3] = (x, y, scene.BLOCK_HALF + 0.001)
            self.data.qpos[adr + 3 : adr + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        self.data.mocap_pos[self._bowl_mocap] = (layout.bowl[0], layout.bowl[1], 0.0)
        self.data.qpos[self._drawer_qadr] = layout.drawer_opening
        self._set_light(layout.light_on)
        self._button_latched = False

    def _set_light(self, on: bool) -> None:
        self._light_on = bool(on)
        self.model.geom_rgba[self._light_geom] = scene.LIGHT_ON_RGBA if on else scene.LIGHT_OFF_RGBA

    # ------------------------------------------------------------------ commands
    def apply_twist(self, linear: np.ndarray, angular_deg: np.ndarray) -> bool:
        """Tool-frame twist like ros2_kortex: linear m/s, angular deg/s, kept until replaced.

        Non-finite values are refused (the arm stops); magnitudes beyond the driver's limits
        are scaled down to the limit. Returns False when refused.
        """
        lin = np.asarray(linear, dtype=float).reshape(-1)
        ang = np.asarray(angular_deg, dtype=float).reshape(-1)
        if lin.shape != (3,) or ang.shape != (3,):
            log.error("twist refused: linear and angular need 3 components, got %s and %s", lin.shape, ang.shape)
            self._stop()
            return False
        if not (np.all(np.isfinite(lin)) and np.all(np.isfinite(ang))):
            log.error("twist refused: non-finite component (linear=%s, angular=%s deg/s); stopping", lin, ang)
            self._stop()
            return False
        ang = np.deg2rad(ang)
        lin_norm, ang_norm = float(np.linalg.norm(lin)), float(np.linalg.norm(ang))
        if lin_norm > self.config.max_linear_speed:
            log.warning("twist linear speed %.3f m/s clipped to %.3f", lin_norm, self.config.max_linear_speed)
            lin = lin * (self.config.max_linear_speed / lin_norm)
        if ang_norm > self.config.max_angular_speed:
            log.warning("twist angular speed %.3f rad/s clipped to %.3f", ang_norm, self.config.max_angular_speed)
            ang = ang * (self.config.max_angular_speed / ang_norm)
        self._twist_tool = np.concatenate([lin, ang])
        self._trajectory = None
        self._mode = "twist"
        return True

    def apply_joint_trajectory(self, positions: np.ndarray, times_from_start: np.ndarray) -> bool:
        """Follow joint waypoints (linear interpolation from the current target), or refuse.

        Refused (logged, arm holds) when a waypoint is non-finite or beyond the position limits,
        the times are not strictly increasing and positive, or a segment would exceed the joint
        velocity limits (the real arm faults on large jumps).
        """
        pos = np.asarray(positions, dtype=float)
        times = np.asarray(times_from_start, dtype=float).reshape(-1)
        if pos.ndim == 1:
            pos = pos[None]
        if pos.ndim != 2 or pos.shape[1] != 7 or len(times) != len(pos) or len(pos) == 0:
            log.error("joint trajectory refused: need (N, 7) positions and N times, got %s and %s", pos.shape, times.shape)
            return False
        if not np.all(np.isfinite(times)) or times[0] <= 0 or np.any(np.diff(times) <= 0):
            log.error("joint trajectory refused: time_from_start must be positive and increasing, got %s", times)
            return False
        for k, point in enumerate(pos):
            problems = self.arm.check_joint_limits(point)
            if problems:
                log.error("joint trajectory refused: point %d: %s", k, "; ".join(problems))
                return False
        all_pos = np.vstack([self._target, pos])
        all_t = np.concatenate([[0.0], times])
        speeds = np.abs(np.diff(all_pos, axis=0)) / np.diff(all_t)[:, None]
        vel_limits = self.embodiment.joint_velocity_limits
        too_fast = speeds > vel_limits * 1.05
        if np.any(too_fast):
            seg, joint = np.argwhere(too_fast)[0]
            log.error(
                "joint trajectory refused: segment %d needs %s at %.3f rad/s (limit %.3f)",
                seg, self._joint_names[joint], speeds[seg, joint], vel_limits[joint],
            )
            return False
        self._trajectory = _Trajectory(times=all_t + self.data.time, positions=all_pos)
        self._twist_tool = np.zeros(6)
        self._mode = "trajectory"
        return True

    def gripper_command(self, position: float) -> bool:
        """Robotiq-style position: 0 = open .. 0.8 = closed. Non-finite refused; clipped to range."""
        p = float(position)
        if not math.isfinite(p):
            log.error("gripper command refused: position %r is not finite", position)
            return False
        if p < 0.0 or p > scene.GRIPPER_CLOSED_KNUCKLE:
            log.warning("gripper position %.3f clipped to [0, %.1f]", p, scene.GRIPPER_CLOSED_KNUCKLE)
            p = min(max(p, 0.0), scene.GRIPPER_CLOSED_KNUCKLE)
        self._gripper_target = p / scene.GRIPPER_CLOSED_KNUCKLE * self.embodiment.finger_travel
        return True

    @property
    def mode(self) -> str:
        """What drives the arm now: hold | twist | trajectory."""
        return self._mode

    def stop(self) -> None:
        """Hold the current servo targets (what the driver does on a zero twist)."""
        self._stop()

    def _stop(self) -> None:
        self._twist_tool = np.zeros(6)
        self._trajectory = None
        self._mode = "hold"

    # ------------------------------------------------------------------ stepping
    def step(self, n: int = 1) -> PrivilegedState:
        """Advance n control periods (each `config.substeps` physics steps)."""
        cfg = self.config
        lo, hi = self.embodiment.joint_position_limits[:, 0], self.embodiment.joint_position_limits[:, 1]
        finger_step = cfg.gripper_speed * cfg.physics_dt
        for _ in range(n):
            q = self.data.qpos[self._arm_qadr].copy()
            qdot = np.zeros(7)
            if self._mode == "twist" and np.any(self._twist_tool):
                twist_base = self.arm.tool_twist_to_base(q, self._twist_tool)
                qdot = self.arm.ik_velocity(q, twist_base, damping=cfg.ik_damping)
            for _ in range(cfg.substeps):
                if self._mode == "trajectory" and self._trajectory is not None:
                    self._target = self._trajectory_target(self.data.time + cfg.physics_dt)
                else:
                    self._target = self._target + qdot * cfg.physics_dt
                self._enforce_limits(lo, hi)
                self.data.ctrl[:7] = self._target
                self._gripper_ctrl += float(np.clip(self._gripper_target - self._gripper_ctrl, -finger_step, finger_step))
                self.data.ctrl[self._gripper_act] = self._gripper_ctrl
                mujoco.mj_step(self.model, self.data)
            self._update_button()
        return self.state()

    def _enforce_limits(self, lo: np.ndarray, hi: np.ndarray) -> None:
        clipped = np.clip(self._target, lo, hi)
        for j in np.flatnonzero(clipped != self._target):
            name = self._joint_names[j]
            if name not in self._limit_logged:
                log.warning("%s reached its position limit; motion beyond it is refused", name)
                self._limit_logged.add(name)
        q = self.data.qpos[self._arm_qadr]
        self._target = np.clip(clipped, q - _WINDUP, q + _WINDUP)

    def _trajectory_target(self, t: float) -> np.ndarray:
        traj = self._trajectory
        assert traj is not None
        if t >= traj.times[-1]:
            return traj.positions[-1].copy()
        k = int(np.searchsorted(traj.times, t, side="right")) - 1
        k = max(k, 0)
        a = (t - traj.times[k]) / (traj.times[k + 1] - traj.times[k])
        return traj.positions[k] + a * (traj.positions[k + 1] - traj.positions[k])

    def _update_button(self) -> None:
        depth = float(self.data.qpos[self._button_qadr])
        if not self._button_latched and depth > scene.BUTTON_PRESS_DEPTH:
            self._button_latched = True
            self._set_light(not self._light_on)
        elif self._button_latched and depth < 0.3 * scene.BUTTON_PRESS_DEPTH:
            self._button_latched = False

    # ------------------------------------------------------------------ observation
    @property
    def time(self) -> float:
        return float(self.data.time)

    def joint_positions(self) -> np.ndarray:
        return self.data.qpos[self._arm_qadr].copy()

    def joint_velocities(self) -> np.ndarray:
        return self.data.qvel[self._arm_dadr].copy()

    def gripper_knuckle(self) -> float:
        """Measured gripper as robotiq_85_left_knuckle_joint (0 open .. 0.8 closed)."""
        s = float(self.data.qpos[self._finger_qadr])
        return float(np.clip(s / self.embodiment.finger_travel, 0.0, 1.0) * scene.GRIPPER_CLOSED_KNUCKLE)

    def gripper_joint_position(self) -> float:
        """The gripper joint as this arm's /joint_states reports it (Gen3: the knuckle, 0 .. 0.8 rad;
        Panda: one finger's opening, 0.04 .. 0 m)."""
        if self.embodiment.name == "gen3":
            return self.gripper_knuckle()
        return self.embodiment.gripper_joint_position(self.gripper_knuckle() / scene.GRIPPER_CLOSED_KNUCKLE)

    def state(self) -> PrivilegedState:
        d = self.data
        q = self.joint_positions()
        blocks = {
            c: BlockState(pos=d.qpos[a : a + 3].copy(), quat=d.qpos[a + 3 : a + 7].copy())
            for c, a in self._block_qadr.items()
        }
        return PrivilegedState(
            time=float(d.time),
            q=q,
            qdot=self.joint_velocities(),
            gripper=self.gripper_knuckle() / scene.GRIPPER_CLOSED_KNUCKLE,
            gripper_command=self._gripper_target / self.embodiment.finger_travel,
            ee_transform=self.arm.forward_kinematics(q),
            tcp_pos=d.site_xpos[self._tcp_site].copy(),
            blocks=blocks,
            bowl_pos=d.mocap_pos[self._bowl_mocap].copy(),
            drawer_opening=float(d.qpos[self._drawer_qadr]),
            button_depth=float(d.qpos[self._button_qadr]),
            light_on=self._light_on,
            grasped=self._grasped(),
        )

    def _grasped(self) -> dict[str, bool]:
        touching: dict[int, set[int]] = {}
        for i in range(self.data.ncon):
            c = self.data.contact[i]
            for a, b in ((c.geom1, c.geom2), (c.geom2, c.geom1)):
                if a in self._finger_geoms:
                    touching.setdefault(b, set()).add(a)
        return {c: len(touching.get(g, ())) == 2 for c, g in self._block_geom.items()}

    @property
    def start_state(self) -> PrivilegedState:
        assert self._start_state is not None
        return self._start_state

    def success(self, state: PrivilegedState | None = None) -> bool:
        """Whether the running episode's task checker fires on `state` (default: the current one;
        pass the state step() returned to avoid building it twice)."""
        if self.episode is None or self.episode.task is None:
            return False
        return self.episode.task.check(self.episode.params, self.start_state, self.state() if state is None else state)

    # ------------------------------------------------------------------ rendering
    def render(self, cameras: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """RGB uint8 images (image_size x image_size) per camera name."""
        names = tuple(cameras) if cameras is not None else self.config.cameras
        if self._renderer is None:
            size = self.config.image_size
            self._renderer = mujoco.Renderer(self.model, size, size)
        out: dict[str, np.ndarray] = {}
        for name in names:
            if name not in scene.CAMERA_NAMES:
                raise ValueError(f"unknown camera {name!r}; the scene has {scene.CAMERA_NAMES}")
            self._renderer.update_scene(self.data, camera=name)
            out[name] = self._renderer.render().copy()
        return out

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> "Gen3SimEnv":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
