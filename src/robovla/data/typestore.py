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


# ------------------------------------------------------------------ bags written with older definitions
#: rosbag2 joins a message's definition and its dependencies' with this line
_SECTION = "\n" + "=" * 80 + "\n"


def _normal(definition: str) -> list[str]:
    """A .msg text as its field lines: comments, blank lines and spacing aside."""
    lines = (line.split("#", 1)[0].strip() for line in definition.splitlines())
    return [" ".join(line.split()) for line in lines if line]


def our_definition(msgtype: str) -> str:
    return (msg_dir() / (msgtype.rsplit("/", 1)[-1] + ".msg")).read_text()


def bag_typestore(connections) -> Typestore:
    """The typestore that reads a bag's robovla messages as they were written.

    A bag recorded before one of our messages gained a field (Instruction.task) holds the older
    layout; read with today's definition its CDR does not parse. rosbag2 stores each topic's
    definition with the bag, so the bag's own definitions are registered wherever they differ.
    """
    ours = typestore()
    older: dict = {}
    for conn in connections:
        data = getattr(getattr(conn, "msgdef", None), "data", "") or ""
        if not conn.msgtype.startswith(PACKAGE + "/") or not data or conn.msgtype in older:
            continue
        top = data.split(_SECTION, 1)[0]
        try:
            same = _normal(top) == _normal(our_definition(conn.msgtype))
        except FileNotFoundError:  # a type this version no longer has: read it as the bag says
            same = False
        if not same:
            older.update(get_types_from_msg(top, conn.msgtype))
    if not older:
        return ours
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(older)
    store.register({name: d for name, d in ours.fielddefs.items() if name.startswith(PACKAGE + "/") and name not in older})
    return store


def _default(spec) -> object:
    """The ROS default of a base-type field ((Nodetype, (type, bound)) in rosbags' fielddefs)."""
    kind, (base, _bound) = spec[0], spec[1]
    if kind.name != "BASE":
        raise ValueError("only base-type fields can be filled")
    return "" if base in ("string", "wstring") else False if base == "bool" else 0.0 if base.startswith("float") else 0


def upgrade_cdr(raw: bytes, msgtype: str, source: Typestore) -> bytes:
    """CDR of a message written with `source`'s definition, re-encoded with today's (fields added
    since take their ROS defaults); unchanged when the definitions agree."""
    ours = typestore()
    if source is ours or source.fielddefs.get(msgtype) == ours.fielddefs.get(msgtype):
        return raw
    old = source.deserialize_cdr(raw, msgtype)
    values = {}
    for name, spec in ours.fielddefs[msgtype][1]:
        if hasattr(old, name):
            values[name] = getattr(old, name)
            continue
        try:
            values[name] = _default(spec)
        except ValueError as exc:
            raise ValueError(f"{msgtype}: cannot fill the field {name!r} a newer definition added ({exc})") from None
    return bytes(ours.serialize_cdr(ours.types[msgtype](**values), msgtype))
