"""The rosbags typestore used for every episode bag: ROS 2 Kilted plus robovla's own messages.

Our custom types are registered from the package's .msg files (not hand-written classes), so a
bag written here embeds the exact definitions `ros2 bag info` / `ros2 bag play` expect.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from robovla.resources import share_dir

PACKAGE = "robovla"


def msg_dir() -> Path:
    """Directory holding robovla's .msg files (source tree, or an installed share/robovla/msg)."""
    env = os.environ.get("ROBOVLA_MSG_DIR")
    candidates = [Path(env)] if env else []
    try:
        candidates.append(share_dir() / "msg")  # rosidl installs the .msg files to share/robovla/msg
    except FileNotFoundError:
        pass
    for cand in candidates:
        if (cand / "EpisodeMetadata.msg").is_file():
            return cand
    raise FileNotFoundError(
        "cannot find robovla's msg/ directory (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); set ROBOVLA_MSG_DIR"
    )


@functools.lru_cache(maxsize=1)
def typestore() -> Typestore:
    """ROS2_KILTED typestore with every robovla/msg/* type registered."""
    store = get_typestore(Stores.ROS2_KILTED)
    types: dict = {}
    for path in sorted(msg_dir().glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
    store.register(types)
    return store
