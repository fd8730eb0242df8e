"""Small in-memory episodes for the LeRobot tests (no bags, no sim: milliseconds to make)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from robovla.data.align import EpisodeFrames


def episode(i: int, n: int = 30, cams: tuple[str, ...] = ("front",), hw: tuple[int, int] = (48, 64),
            instruction: str | None = None) -> EpisodeFrames:
    """Smooth moving gradients (h264 keeps them well) that differ per frame, camera and episode."""
    rng = np.random.default_rng(i)
    yy, xx = np.mgrid[0: hw[0], 0: hw[1]]
    k = np.arange(n)[:, None, None]
    imgs = np.empty((n, len(cams), hw[0], hw[1], 3), np.uint8)
    for c in range(len(cams)):
        imgs[:, c, ..., 0] = ((xx[None] + 3 * k + 20 * i) % 64) * 4
        imgs[:, c, ..., 1] = ((yy[None] + 2 * k) % 48) * 5
        imgs[:, c, ..., 2] = 60 + 50 * c + 2 * k
    valid = np.ones(n, bool)
    valid[-1] = False
    return EpisodeFrames(
        episode_id=f"ep{i}", instruction=instruction if instruction is not None else f"task {i % 2}",
        timestamps=np.arange(n) / 10.0, images=imgs, camera_names=list(cams),
        state=rng.normal(size=(n, 8)).astype(np.float32), actions=rng.normal(size=(n, 7)).astype(np.float32),
        action_valid=valid, success=True)


def edit_info(root: Path, fn: Any) -> None:
    """Rewrite meta/info.json through fn(info) (to make datasets of other robots from ours)."""
    path = Path(root) / "meta" / "info.json"
    info = json.loads(path.read_text())
    fn(info)
    path.write_text(json.dumps(info))
