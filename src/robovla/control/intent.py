"""What the policy intends: the end-effector path implied by an action chunk (for RViz)."""

from __future__ import annotations

import numpy as np

from robovla.policy.types import ActionChunk


def predicted_path(chunk: ActionChunk, ee_position: np.ndarray) -> np.ndarray:
    """(k+1, 3) positions: the current one, then after each predicted step (base-frame deltas)."""
    deltas = np.asarray(chunk.actions, dtype=np.float64)[:, :3]
    return np.vstack([ee_position[None, :3], ee_position[None, :3] + np.cumsum(deltas, axis=0)])
