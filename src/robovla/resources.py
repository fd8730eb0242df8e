"""Where the package's resources are: configs, presets, .msg files, the demo checkpoint.

One lookup for all of them, so the source checkout, a --symlink-install and a plain copy install
(a robot PC's `colcon build`) find the same files. ROS-free and torch-free: the launch file and
the trainer both use it.
"""

from __future__ import annotations

import os
from pathlib import Path


def share_dir() -> Path:
    """$ROBOVLA_SHARE_DIR, else the source checkout this module runs from (a --symlink-install
    links back into it), else share/robovla of the first AMENT_PREFIX_PATH prefix that has it."""
    env = os.environ.get("ROBOVLA_SHARE_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "config" / "graph.yaml").is_file() and (parent / "package.xml").is_file():
            return parent
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        share = Path(prefix) / "share" / "robovla"
        if prefix and (share / "package.xml").is_file():
            return share
    raise FileNotFoundError("cannot find robovla's share directory: source the install's setup.bash "
                            "(or set ROBOVLA_SHARE_DIR)")


def demo_checkpoint() -> Path:
    """The committed demo VLA (checkpoints/demo, installed to share/robovla/checkpoints/demo)."""
    return share_dir() / "checkpoints" / "demo"
