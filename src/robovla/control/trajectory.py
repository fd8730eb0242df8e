"""Joint-trajectory commands that fail safe: every message ends at rest.

ros2_kortex's joint_trajectory_controller follows the last trajectory it was sent, and Jazzy's
JTC rejects one whose last point still moves (allow_nonzero_velocity_at_trajectory_end is false
by default). So each command is a short trajectory that keeps the commanded joint velocity for
`horizon_s`, then decelerates uniformly to rest over another `horizon_s`. While commands stream
in (50 Hz) the arm only ever follows the first segment; when they stop, for whatever reason, the
arm is at rest within 2 x horizon_s, having travelled at most 1.5 x |qdot| x horizon_s.
"""

from __future__ import annotations

import numpy as np


def trajectory_to_rest(q: np.ndarray, qdot: np.ndarray, horizon_s: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """[(positions, velocities, time_from_start)] from joint state q at joint velocity qdot."""
    if not horizon_s > 0:
        raise ValueError(f"horizon_s must be positive, got {horizon_s}")
    q, qdot = np.asarray(q, float), np.asarray(qdot, float)
    cruise = q + qdot * horizon_s
    rest = cruise + 0.5 * qdot * horizon_s  # uniform deceleration from qdot to 0 over horizon_s
    return [(cruise, qdot.copy(), horizon_s), (rest, np.zeros_like(qdot), 2.0 * horizon_s)]
