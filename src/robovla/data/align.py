"""Resampling a RawEpisode onto a fixed-rate timeline: the training view of an episode.

Why a fixed rate: the policy runs at one step per `1/rate_hz`, and an action label is the motion
over exactly one such step, so labels from bags recorded at different camera/joint rates mean
the same thing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robovla.data.actions import ee_trajectory, relative_actions
from robovla.data.bag_reader import EpisodeError, RawEpisode

log = logging.getLogger(__name__)


@dataclass
class EpisodeFrames:
    """One episode on the fixed-rate timeline (n frames); row t of `actions` is taken at frame t."""

    episode_id: str
    instruction: str
    timestamps: np.ndarray  # (n,) s
    images: np.ndarray  # (n, n_cams, H, W, 3) uint8 (may be a read-only memmap)
    camera_names: list[str]
    state: np.ndarray  # (n, 8) float32: 7 joint positions + gripper 0..1
    actions: np.ndarray  # (n, 7) float32 raw labels
    action_valid: np.ndarray  # (n,) bool (the last frame of a bag has no next step)
    source: str = ""
    success: bool = False
    complete: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(len(self.timestamps))


_SIMULTANEOUS_S = 1e-6


def _hold(t_src: np.ndarray, t_query: np.ndarray) -> np.ndarray:
    """Index of the latest sample at or before each query time (within 1 us: sample-and-hold)."""
    return np.clip(np.searchsorted(t_src, t_query + _SIMULTANEOUS_S, side="right") - 1, 0, len(t_src) - 1)


def align_episode(raw: RawEpisode, rate_hz: float, cameras: list[str], gripper_threshold: float = 0.5) -> EpisodeFrames:
    """Resample joints (linear), images and gripper commands (sample-and-hold) at rate_hz."""
    if rate_hz <= 0:
        raise ValueError(f"rate_hz must be positive, got {rate_hz}")
    missing = [c for c in cameras if c not in raw.camera_t]
    if missing:
        raise EpisodeError(f"episode bag {raw.path}: missing camera topic(s) /camera/{missing[0]}/image_raw "
                           f"(cameras in bag: {sorted(raw.camera_t)})")
    starts = [raw.joint_t[0]] + [raw.camera_t[c][0] for c in cameras]
    ends = [raw.joint_t[-1]] + [raw.camera_t[c][-1] for c in cameras]
    t0, t1 = max(starts), min(ends)
    if t1 < t0:
        raise EpisodeError(f"episode bag {raw.path}: camera and joint streams do not overlap in time")
    n = int(np.floor((t1 - t0) * rate_hz + 1e-6)) + 1
    if n < 2:
        raise EpisodeError(f"episode bag {raw.path}: zero-length episode ({t1 - t0:.3f} s at {rate_hz} Hz)")
    ticks = t0 + np.arange(n) / rate_hz
    jt = raw.joint_t
    q = np.stack([np.interp(ticks, jt, raw.joint_q[:, j]) for j in range(7)], axis=1)
    grip = np.interp(ticks, jt, raw.gripper)
    if len(raw.command_t):
        # the commanded gripper is the intent; the measured knuckle lags it by a few steps
        grip_target = (raw.command_gripper[_hold(raw.command_t, ticks)] > gripper_threshold).astype(np.float64)
    else:
        grip_target = (np.append(grip[1:], grip[-1]) > gripper_threshold).astype(np.float64)
    arm = relative_actions(ee_trajectory(q), grip_target)
    actions = np.zeros((n, 7), dtype=np.float32)
    actions[: n - 1] = arm
    valid = np.zeros(n, dtype=bool)
    valid[: n - 1] = True
    images = (np.stack([raw.camera_frames[c][_hold(raw.camera_t[c], ticks)] for c in cameras], axis=1)
              if cameras else np.zeros((n, 0, 1, 1, 3), dtype=np.uint8))
    state = np.concatenate([q, grip[:, None]], axis=1).astype(np.float32)
    return EpisodeFrames(
        episode_id=raw.metadata.episode_id or raw.path.name,
        instruction=raw.instruction,
        timestamps=ticks + raw.t0_ns * 1e-9,
        images=images,
        camera_names=list(cameras),
        state=state,
        actions=actions,
        action_valid=valid,
        source=str(raw.path),
        success=raw.metadata.success,
        complete=not raw.incomplete,
        metadata={"robot": raw.metadata.robot, "operator_notes": raw.metadata.operator_notes,
                  "rate_hz": rate_hz},
    )
