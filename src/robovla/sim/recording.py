"""Scripted-expert demonstrations written straight from the env core into episode bags.

`robovla collect` records through the ROS graph in real time, as a real arm would be recorded.
That costs wall-clock seconds per demo; this path steps the same simulator and expert
in-process, faster than real time, and writes the same bag layout the recorder node writes
(same topics, types, rates and metadata), stamped with simulation time. `make train-demo` uses
it so collecting a hundred demos takes minutes, not a quarter of an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from robovla.data import messages as m
from robovla.data.episode_writer import EpisodeWriter
from robovla.data.metadata import GEN3_ROBOT, EpisodeMetadata
from robovla.sim.config import camera_due
from robovla.sim.env import Gen3SimEnv
from robovla.sim.expert import ScriptedExpert, action_to_velocity, expert_notes
from robovla.sim.rollout import EXPERT_GIVE_UP_STEPS, apply_action

ROBOT = f"{GEN3_ROBOT} (mujoco sim)"


def robot_tag(env: Gen3SimEnv) -> str:
    """EpisodeMetadata.robot of the env's arm: its tag, marked as simulated."""
    return f"{env.embodiment.signature.robot} (mujoco sim)"


@dataclass(frozen=True)
class RecordedDemo:
    path: Path
    task: str
    seed: int
    instruction: str
    success: bool
    duration_s: float


def record_expert_demo(
    env: Gen3SimEnv,
    root: str | Path,
    task: str,
    seed: int,
    *,
    cameras: tuple[str, ...] = ("front", "wrist"),
    camera_hz: float = 15.0,
    noise: float = 0.0,
    approach_jitter: float = 0.0,
    split: str = "train",
    lead_in_s: float = 0.3,
    tail_s: float = 0.3,
    episode_id: str | None = None,
) -> RecordedDemo:
    """One demo: reset to (task, seed), a still lead-in, the expert until success (then a tail), the
    end of its plan or the time limit.

    Every control step writes /joint_states and the expert's ArmCommand + driver Twist; the cameras
    come at camera_hz, as the sim node renders them. The success flag is the task checker's verdict.
    """
    cfg = env.config
    unknown = [c for c in cameras if c not in cfg.cameras]
    if unknown:
        raise ValueError(f"camera(s) {unknown} are not rendered by the sim (has {list(cfg.cameras)})")
    episode = env.reset(task, seed, split=split)
    episode_id = episode_id or f"{task}_{seed:05d}"
    expert = ScriptedExpert(dt=cfg.control_dt, noise=noise, seed=seed, approach_jitter=approach_jitter)
    expert.reset(episode)
    meta = EpisodeMetadata(
        episode_id=episode_id, instruction=episode.instruction, robot=robot_tag(env), camera_names=list(cameras),
        camera_rate_hz=camera_hz, control_rate_hz=cfg.control_hz,
        operator_notes=expert_notes(noise, approach_jitter, "in-process sim"),
        extra={"task": task, "seed": seed, "split": split},
    )
    lead = int(round(lead_in_s * cfg.control_hz))
    tail = int(round(tail_s * cfg.control_hz))
    limit = lead + int(cfg.max_episode_s * cfg.control_hz)
    t0 = env.time

    def ns() -> int:
        return m.BAG_T0_NS + int(round((env.time - t0) * 1e9))

    writer = EpisodeWriter(root, meta, fsync=False, clock=ns)  # one time base: sim time from BAG_T0_NS
    sig = env.embodiment.signature

    state = env.state()
    success, after, idle, k = False, 0, 0, 0
    try:
        while k < limit + tail:
            stamp = ns()
            writer.write(m.JOINT_STATES_TOPIC, "sensor_msgs/msg/JointState",
                         m.joint_state_msg(env.joint_positions(), env.gripper_joint_position(), stamp,
                                           sig.arm_joints, sig.gripper_joint), stamp)
            if camera_due(k, cfg.control_hz, camera_hz):
                for name, img in env.render(cameras).items():
                    writer.write(m.camera_topic(name), "sensor_msgs/msg/Image", m.image_msg(img, stamp, f"{name}_camera"),
                                 stamp)
            if k == lead:
                writer.write(m.INSTRUCTION_TOPIC, "robovla/msg/Instruction",
                             m.instruction_msg(episode.instruction, stamp, episode_id,
                                               task=episode.task.name if episode.task else ""), stamp)
            if lead <= k and not success:
                action = expert.act(state)
                lin, ang_deg, _ = apply_action(env, action, state)
                writer.write(m.ARM_COMMAND_TOPIC, "robovla/msg/ArmCommand",
                             m.arm_command_msg(*action_to_velocity(action, cfg.control_dt), stamp, episode_id), stamp)
                writer.write(m.TWIST_TOPIC, "geometry_msgs/msg/Twist", m.twist_msg(lin, ang_deg), stamp)
            elif success:
                env.stop()
                after += 1
                if after > tail:
                    break
            state = env.step()
            if not success and lead <= k and env.success(state):
                success = True
            idle = idle + 1 if expert.done and not success else 0
            if idle > EXPERT_GIVE_UP_STEPS:  # the plan is over and the checker never fired: a failed demo
                break
            k += 1
        duration = env.time - t0
        path = writer.finish(success)
    except BaseException:
        writer.abort()
        raise
    env.stop()
    return RecordedDemo(path=Path(path), task=task, seed=seed, instruction=episode.instruction, success=success,
                        duration_s=float(duration))
