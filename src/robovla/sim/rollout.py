"""Closed-loop episodes in the env core (no ROS): expert or any per-step action source."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from robovla.sim.env import Gen3SimEnv
from robovla.sim.expert import ScriptedExpert, action_to_driver_command
from robovla.sim.state import PrivilegedState

log = logging.getLogger(__name__)

#: control steps the expert may hold after its plan ends before an episode counts as failed
EXPERT_GIVE_UP_STEPS = 25

ActionFn = Callable[[PrivilegedState, dict[str, np.ndarray] | None], np.ndarray]


@dataclass
class EpisodeResult:
    task: str
    seed: int
    instruction: str
    success: bool
    steps: int  # control steps until success (or the limit)
    frames: list[dict[str, np.ndarray]] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)


def apply_action(env: Gen3SimEnv, action: np.ndarray, state: PrivilegedState) -> tuple[np.ndarray, np.ndarray, float]:
    """Send a 7-D action through the driver-level commands; returns them (tool m/s, tool deg/s, gripper)."""
    lin, ang_deg, grip = action_to_driver_command(action, state.ee_transform[:3, :3], env.config.control_dt)
    env.apply_twist(lin, ang_deg)
    env.gripper_command(grip)
    return lin, ang_deg, grip


def run_expert_episode(
    env: Gen3SimEnv,
    task: str,
    seed: int,
    expert: ScriptedExpert | None = None,
    max_steps: int | None = None,
    render: bool = False,
    split: str = "train",
    extra_steps_after_done: int = EXPERT_GIVE_UP_STEPS,
) -> EpisodeResult:
    """Reset to (task, seed) and let the scripted expert act until success or the step limit."""
    expert = expert or ScriptedExpert(dt=env.config.control_dt)
    episode = env.reset(task, seed, split=split)
    expert.reset(episode)
    limit = max_steps or int(env.config.max_episode_s * env.config.control_hz)
    state = env.state()
    result = EpisodeResult(task=task, seed=seed, instruction=episode.instruction, success=False, steps=limit)
    after_done = 0
    for step in range(limit):
        if render:
            result.frames.append(env.render())
        action = expert.act(state)
        result.actions.append(action.astype(np.float32))
        apply_action(env, action, state)
        state = env.step()
        if episode.task is not None and env.success(state):
            result.success, result.steps = True, step + 1
            break
        if expert.done:
            after_done += 1
            if after_done > extra_steps_after_done:
                result.steps = step + 1
                break
    env.stop()
    return result
