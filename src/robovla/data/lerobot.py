"""LeRobot dataset v3.0 import/export (parquet + mp4): the format cross-embodiment data ships in.

The format facts this module relies on (checked against lerobot 0.6.1's own reader, writer and
aggregate tool) are listed in docs/data.md, "LeRobot v3.0 format facts". Export keeps robovla's
`action_valid` flag as an extra boolean feature so an export/import round trip is exact for
everything but the (lossy) video.

Import is a stream (`iter_lerobot`): one episode at a time, decoding only that episode's frame
range of a multi-episode mp4, so importing a published dataset holds one episode in memory, not
the dataset. What a feature means is read from its `names`: joint-space or absolute actions and a
state that is not robovla's 7 joints + gripper are refused (or, for an unused state, dropped with
a warning), never reinterpreted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robovla.data import lerobot_stats as lstats
from robovla.data.align import EpisodeFrames
from robovla.data.bag_reader import EpisodeError
from robovla.data.robots import GEN3, robot_type_for
from robovla.data.video import VideoError, VideoReader, VideoWriter, video_codec
from robovla.policy.types import ACTION_DIM, ACTION_NAMES

log = logging.getLogger(__name__)

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
TASKS_PATH = "meta/tasks.parquet"
STATE_NAMES = [f"joint_{i}" for i in range(1, 8)] + ["gripper"]
VALID_KEY = "robovla.action_valid"
IMAGE_PREFIX = "observation.images."
ACTION_KEY = "action"
STATE_KEY = "observation.state"
#: the per-frame bookkeeping columns every LeRobot dataset has
DEFAULT_FEATURES = ("timestamp", "frame_index", "episode_index", "index", "task_index")
ACTION_SPACES = ("auto", "ee_delta")
MB = 1024 * 1024


def _next_file(chunk: int, file: int, chunks_size: int) -> tuple[int, int]:
    """LeRobot's file numbering: file-000..file-(chunks_size-1) per chunk, then the next chunk."""
    return (chunk + 1, 0) if file == chunks_size - 1 else (chunk, file + 1)


def _int_fps(fps: float) -> int:
    if fps <= 0 or abs(fps - round(fps)) > 1e-9:
        raise ValueError(f"LeRobot stores fps as a positive integer; got {fps} (set the rate to a whole Hz)")
    return int(round(fps))


def tasks_table(tasks: list[str]) -> pa.Table:
    """meta/tasks.parquet as pandas writes a DataFrame indexed by `task` (LeRobot reads the index)."""
    table = pa.table({"task_index": pa.array(range(len(tasks)), type=pa.int64()),
                      "task": pa.array(tasks, type=pa.string())})
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
                            "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64",
             "metadata": None},
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object",
             "metadata": None}],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


def read_tasks(root: Path) -> dict[int, str]:
    """task_index -> task, whether the task is stored as the pandas index or as a plain column."""
    path = Path(root) / TASKS_PATH
    if not path.is_file():
        return {}
    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
    names = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
    col = next((c for c in [*names, "task", "__index_level_0__"] if c in table.column_names), None)
    if col is None or "task_index" not in table.column_names:
        raise EpisodeError(f"LeRobot dataset {root}: {TASKS_PATH} has no task/task_index columns "
                           f"({table.column_names})")
    d = table.to_pydict()
    return {int(i): str(s) for i, s in zip(d["task_index"], d[col])}


def read_info(root: str | Path) -> dict[str, Any]:
    root = Path(root)
    path = root / "meta" / "info.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise EpisodeError(f"LeRobot dataset {root}: cannot read {path}: {exc}") from exc
    if not str(info.get("codebase_version", "")).startswith("v3"):
        raise EpisodeError(f"LeRobot dataset {root}: codebase_version {info.get('codebase_version')!r} "
                           "is not v3.x (convert it with lerobot's v2.1 -> v3.0 script)")
    if "features" not in info or "fps" not in info:
        raise EpisodeError(f"LeRobot dataset {root}: meta/info.json has no features/fps")
    return info


# ----------------------------------------------------------------------------------------------
# export


def _png(img: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def _data_schema(cams: list[str], use_videos: bool) -> pa.Schema:
    fields = [pa.field(STATE_KEY, pa.list_(pa.float32(), len(STATE_NAMES))),
              pa.field(ACTION_KEY, pa.list_(pa.float32(), ACTION_DIM)),
              pa.field(VALID_KEY, pa.bool_())]
    if not use_videos:
        fields += [pa.field(IMAGE_PREFIX + c, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
                   for c in cams]
    fields += [pa.field("timestamp", pa.float32())] + [pa.field(k, pa.int64()) for k in DEFAULT_FEATURES[1:]]
    return pa.schema(fields)


class _Exporter:
    """State of one export: open data/video files, their sizes, and the episodes table rows."""

    def __init__(self, out: Path, fps: int, use_videos: bool, codec: str, crf: int, gop: int,
                 video_mb: float, data_mb: float, chunks_size: int) -> None:
        self.out, self.fps, self.use_videos = out, fps, use_videos
        self.codec, self.crf, self.gop = codec, crf, gop
        self.video_mb, self.data_mb, self.chunks_size = video_mb, data_mb, chunks_size
        self.cams: list[str] | None = None
        self.hw: tuple[int, int] = (0, 0)
        self.tasks: dict[str, int] = {}
        self.rows: list[dict[str, Any]] = []
        self.ep_stats: list[dict[str, dict[str, np.ndarray]]] = []
        self.frames = 0
        self.data_pos = (0, 0)
        self.data_writer: pq.ParquetWriter | None = None
        self.data_bytes = 0
        self.videos: dict[str, tuple[tuple[int, int], VideoWriter]] = {}

    def add(self, ep: EpisodeFrames) -> None:
        n = len(ep)
        if n == 0:
            raise ValueError(f"episode {ep.episode_id} has no frames")
        if self.cams is None:
            self.cams = list(ep.camera_names)
            self.hw = (int(ep.images.shape[2]), int(ep.images.shape[3]))
            self.schema = _data_schema(self.cams, self.use_videos)
        if list(ep.camera_names) != self.cams:
            raise ValueError(f"episode {ep.episode_id} has cameras {ep.camera_names}, expected {self.cams}")
        if tuple(ep.images.shape[2:4]) != self.hw:
            raise ValueError(f"episode {ep.episode_id} has {ep.images.shape[2:4]} images, expected {self.hw}")
        e = len(self.rows)
        tid = self.tasks.setdefault(ep.instruction, len(self.tasks))
        state = np.asarray(ep.state, dtype=np.float32).reshape(n, -1)
        if state.shape[1] != len(STATE_NAMES):
            raise ValueError(f"episode {ep.episode_id}: state has {state.shape[1]} dims, expected {len(STATE_NAMES)}")
        if not np.isfinite(state).all():
            raise ValueError(f"episode {ep.episode_id} has no usable state (imported from a dataset whose state "
                             "is not robovla's); it cannot be exported")
        actions = np.asarray(ep.actions, dtype=np.float32).reshape(n, ACTION_DIM)
        valid = np.asarray(ep.action_valid, dtype=bool)
        cols: dict[str, Any] = {
            STATE_KEY: state, ACTION_KEY: actions, VALID_KEY: valid,
            "timestamp": (np.arange(n) / self.fps).astype(np.float32), "frame_index": np.arange(n),
            "episode_index": np.full(n, e), "index": np.arange(self.frames, self.frames + n),
            "task_index": np.full(n, tid),
        }
        stats = {k: lstats.vector_stats(v) for k, v in cols.items()}
        row: dict[str, Any] = {"episode_index": e, "tasks": [ep.instruction], "length": n}
        sample = lstats.sample_indices(n)
        for ci, c in enumerate(self.cams):
            stats[IMAGE_PREFIX + c] = lstats.image_stats(np.asarray(ep.images[sample, ci]))
        if self.use_videos:
            for ci, c in enumerate(self.cams):
                row.update(self._add_video(IMAGE_PREFIX + c, ep, ci))
        arrays = [pa.FixedSizeListArray.from_arrays(pa.array(state.reshape(-1)), len(STATE_NAMES)),
                  pa.FixedSizeListArray.from_arrays(pa.array(actions.reshape(-1)), ACTION_DIM),
                  pa.array(valid)]
        if not self.use_videos:
            for ci, c in enumerate(self.cams):
                arrays.append(pa.array([{"bytes": _png(ep.images[t, ci]), "path": f"frame-{t:06d}.png"}
                                        for t in range(n)], type=self.schema.field(IMAGE_PREFIX + c).type))
        arrays += [pa.array(cols["timestamp"])] + [pa.array(cols[k], type=pa.int64()) for k in DEFAULT_FEATURES[1:]]
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        if self.data_writer is not None and self.data_bytes + table.nbytes >= self.data_mb * MB:
            self.data_writer.close()
            self.data_writer, self.data_bytes = None, 0
            self.data_pos = _next_file(*self.data_pos, self.chunks_size)
        if self.data_writer is None:
            path = self.out / DATA_PATH.format(chunk_index=self.data_pos[0], file_index=self.data_pos[1])
            path.parent.mkdir(parents=True, exist_ok=True)
            self.data_writer = pq.ParquetWriter(str(path), self.schema, compression="snappy")
        self.data_writer.write_table(table)  # one row group per episode, as LeRobot writes
        self.data_bytes += table.nbytes
        row.update({"data/chunk_index": self.data_pos[0], "data/file_index": self.data_pos[1],
                    "dataset_from_index": self.frames, "dataset_to_index": self.frames + n})
        row.update(lstats.episode_columns(stats))
        row.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
        self.rows.append(row)
        self.ep_stats.append(stats)
        self.frames += n

    def _add_video(self, key: str, ep: EpisodeFrames, ci: int) -> dict[str, Any]:
        n = len(ep)
        pos, writer = self.videos.get(key, ((0, 0), None))
        if writer is not None and writer.frames:
            projected = writer.bytes + writer.bytes / writer.frames * n
            if projected >= self.video_mb * MB:
                writer.close()
                pos, writer = _next_file(*pos, self.chunks_size), None
        if writer is None:
            path = self.out / VIDEO_PATH.format(video_key=key, chunk_index=pos[0], file_index=pos[1])
            writer = VideoWriter(path, self.fps, self.hw[1], self.hw[0], codec=self.codec, crf=self.crf, gop=self.gop)
            self.videos[key] = (pos, writer)
        start = writer.duration_s
        for t in range(0, n, 256):  # bounded memory for memory-mapped episodes
            writer.write(np.asarray(ep.images[t: t + 256, ci]))
        return {f"videos/{key}/chunk_index": pos[0], f"videos/{key}/file_index": pos[1],
                f"videos/{key}/from_timestamp": start, f"videos/{key}/to_timestamp": start + n / self.fps}

    def close(self) -> None:
        if self.data_writer is not None:
            self.data_writer.close()
            self.data_writer = None
        for _, writer in self.videos.values():
            writer.close()

    def features(self) -> dict[str, Any]:
        h, w = self.hw
        feats: dict[str, Any] = {}
        for c in self.cams or []:
            ft: dict[str, Any] = {"dtype": "video" if self.use_videos else "image", "shape": [h, w, 3],
                                  "names": ["height", "width", "channels"]}
            if self.use_videos:
                first = self.out / VIDEO_PATH.format(video_key=IMAGE_PREFIX + c, chunk_index=0, file_index=0)
                ft["info"] = {"video.height": h, "video.width": w, "video.codec": video_codec(first),
                              "video.pix_fmt": "yuv420p", "video.fps": self.fps, "video.channels": 3,
                              "video.g": self.gop, "video.crf": self.crf, "has_audio": False, "is_depth_map": False}
            feats[IMAGE_PREFIX + c] = ft
        feats.update({
            STATE_KEY: {"dtype": "float32", "shape": [len(STATE_NAMES)], "names": STATE_NAMES},
            ACTION_KEY: {"dtype": "float32", "shape": [ACTION_DIM], "names": list(ACTION_NAMES)},
            VALID_KEY: {"dtype": "bool", "shape": [1], "names": None},
            "timestamp": {"dtype": "float32", "shape": [1], "names": None},
            **{k: {"dtype": "int64", "shape": [1], "names": None} for k in DEFAULT_FEATURES[1:]},
        })
        return feats


def export_lerobot(episodes: Iterable[EpisodeFrames], out: str | Path, fps: float, *,
                   robot_type: str | None = None, use_videos: bool = True, codec: str = "libx264", crf: int = 18,
                   gop: int = 2, video_files_size_in_mb: float = 200, data_files_size_in_mb: float = 100,
                   chunks_size: int = 1000, progress: bool = False) -> Path:
    """Write episodes as one LeRobot v3.0 dataset that LeRobot reads as its own.

    Episodes are streamed (each written, then dropped) into data/video files that rotate at the
    given sizes like LeRobot's; use_videos=False stores PNG images in the parquet files instead.
    The dataset is built beside `out` and renamed into place, so `out` is complete or absent.
    robot_type=None takes it from the episodes' robot tags (robovla.data.robots; "kinova_gen3" when
    none is a known arm); episodes of two known arms then need it named.
    """
    out = Path(out)
    if (out / "meta" / "info.json").exists():
        raise FileExistsError(f"{out} already holds a LeRobot dataset")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty")
    fps_i = _int_fps(fps)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    exp = _Exporter(tmp, fps_i, use_videos, codec, crf, gop, video_files_size_in_mb, data_files_size_in_mb,
                    chunks_size)
    try:
        from tqdm import tqdm

        total = len(episodes) if hasattr(episodes, "__len__") else None  # type: ignore[arg-type]
        robot_types: set[str] = set()
        for ep in tqdm(episodes, desc="export", unit="ep", total=total, disable=not progress, leave=False):
            exp.add(ep)
            known = robot_type_for(str(ep.metadata.get("robot", "")))
            if known is not None:
                robot_types.add(known)
        exp.close()
        if not exp.rows:
            raise ValueError("export_lerobot: no episodes to export")
        if robot_type is None:
            if len(robot_types) > 1:
                raise ValueError(f"export_lerobot: episodes of several robots {sorted(robot_types)}; name robot_type")
            robot_type = robot_types.pop() if robot_types else GEN3.robot_type
        ep_path = tmp / EPISODES_PATH.format(chunk_index=0, file_index=0)
        ep_path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(exp.rows), ep_path)
        pq.write_table(tasks_table(list(exp.tasks)), tmp / TASKS_PATH)
        n_eps = len(exp.rows)
        info = {
            "codebase_version": CODEBASE_VERSION, "robot_type": robot_type, "total_episodes": n_eps,
            "total_frames": exp.frames, "total_tasks": len(exp.tasks), "chunks_size": chunks_size,
            "data_files_size_in_mb": int(data_files_size_in_mb) or 1,
            "video_files_size_in_mb": int(video_files_size_in_mb) or 1, "fps": fps_i,
            "splits": {"train": f"0:{n_eps}"}, "data_path": DATA_PATH, "video_path": VIDEO_PATH if use_videos else None,
            "features": exp.features(),
        }
        (tmp / "meta" / "info.json").write_text(json.dumps(info, indent=4))
        (tmp / "meta" / "stats.json").write_text(json.dumps(lstats.to_json(lstats.aggregate_features(exp.ep_stats)),
                                                            indent=4))
    except BaseException:
        exp.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    log.info("exported %d episodes (%d frames) to LeRobot v3.0 dataset %s", len(exp.rows), exp.frames, out)
    return out


# ----------------------------------------------------------------------------------------------
# what the features mean


def flat_names(names: Any) -> list[str] | None:
    """A feature's `names` as a flat list (v2-era datasets nest them: {"motors": [...]})."""
    if names is None:
        return None
    if isinstance(names, dict):
        out: list[str] = []
        for v in names.values():
            sub = flat_names(v)
            if sub is None:
                return None
            out += sub
        return out
    if isinstance(names, (list, tuple)):
        if all(isinstance(n, str) for n in names):
            return list(names)
        out = []
        for v in names:
            sub = flat_names(v)
            if sub is None:
                return None
            out += sub
        return out
    return None


_JOINT_TOKENS = {"joint", "joints", "shoulder", "elbow", "wrist", "waist", "forearm", "pan", "lift", "flex",
                 "knuckle", "servo", "qpos"}
_AXES = {"x": "x", "y": "y", "z": "z", "roll": "roll", "pitch": "pitch", "yaw": "yaw", "rx": "roll", "ry": "pitch",
         "rz": "yaw"}
_AXIS_ORDER = ["x", "y", "z", "roll", "pitch", "yaw"]
_DELTA_TOKENS = {"delta", "d", "rel", "relative", "diff"}
_RATE_TOKENS = {"vel", "velocity", "twist", "speed", "rate"}
_QUAT_TOKENS = {"qx", "qy", "qz", "qw", "quat", "quaternion"}
_GRIP_TOKENS = {"gripper", "grip", "grasp", "claw", "finger", "fingers", "hand", "open", "close"}
_GENERIC = re.compile(r"^(motor|motors|action|actions|act|dim|axis|a|state|obs)?[_\s\-.]*\d+$")


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]


def _is_joint(name: str) -> bool:
    toks = _tokens(name)
    return any(t in _JOINT_TOKENS or re.fullmatch(r"(j|joint|q)\d+", t) for t in toks)


def _is_grip(name: str) -> bool:
    return any(t in _GRIP_TOKENS or t.startswith("grip") for t in _tokens(name))


def _axis(name: str) -> tuple[str | None, bool]:
    """(axis, delta-marked) of one pose-coordinate name: 'dx' -> ('x', True), 'ee_pos_x' -> ('x', False)."""
    toks = _tokens(name)
    delta = any(t in _DELTA_TOKENS for t in toks)
    for t in toks:
        if t in _AXES:
            return _AXES[t], delta
        if t.startswith("d") and t[1:] in _AXES:
            return _AXES[t[1:]], True
        if t.startswith("delta") and t[5:] in _AXES:
            return _AXES[t[5:]], True
    return None, delta


def classify_action_names(names: list[str] | None) -> str:
    """What an action feature's names say it is: ee_delta | joint | absolute | velocity | misordered | unknown."""
    if not names:
        return "unknown"
    if list(names) == list(ACTION_NAMES):
        return "ee_delta"
    if any(_is_joint(n) for n in names):
        return "joint"
    if all(_GENERIC.match(n.strip().lower()) for n in names):
        return "unknown"
    toks = {t for n in names for t in _tokens(n)}
    if toks & _QUAT_TOKENS:
        return "absolute"
    if toks & _RATE_TOKENS:
        return "velocity"
    parsed = [_axis(n) for n in names[:6]]
    if len(names) == ACTION_DIM and all(a is not None for a, _ in parsed) and _is_grip(names[6]):
        if all(d for _, d in parsed):
            return "ee_delta" if [a for a, _ in parsed] == _AXIS_ORDER else "misordered"
        if not any(d for _, d in parsed):
            return "absolute"
    if any(a is not None for a, _ in parsed) and not any(d for _, d in parsed):
        return "absolute"
    return "unknown"


def state_names_usable(names: list[str] | None, dim: int) -> bool:
    """True for robovla's state: 7 joint positions then the gripper (by name)."""
    if dim != len(STATE_NAMES) or not names or len(names) != dim:
        return False
    if list(names) == STATE_NAMES:
        return True
    return all(_is_joint(n) for n in names[:7]) and _is_grip(names[7]) and not _is_grip(names[6])


_KIND_TEXT = {
    "joint": "joint-space actions",
    "absolute": "absolute end-effector poses",
    "velocity": "end-effector velocities",
    "misordered": "end-effector deltas in another axis order",
    "unknown": "actions whose names do not say what they are",
}


@dataclass
class ImportPlan:
    """Which dataset feature becomes which robovla input (the result of the name checks)."""

    action_key: str
    state_key: str | None
    valid_key: str | None
    cameras: dict[str, str]  # our camera -> dataset feature key
    kinds: dict[str, str]  # dataset feature key -> "video" | "image"
    notes: list[str] = field(default_factory=list)


def _short(key: str) -> str:
    return key.removeprefix(IMAGE_PREFIX)


def plan_import(root: Path, info: dict[str, Any], cameras: list[str], *, camera_map: dict[str, str] | None = None,
                feature_map: dict[str, str] | None = None, action_space: str = "auto",
                require_state: bool = False) -> ImportPlan:
    """Check a dataset's features against what robovla trains on; a clear EpisodeError if it cannot.

    camera_map: dataset camera (short name or full key) -> our camera. feature_map: dataset
    feature -> ours ("action", "observation.state"). action_space "ee_delta" declares actions whose
    names are missing or ambiguous to be end-effector deltas in robovla's order (joint-space names
    are refused whatever it says).
    """
    feats: dict[str, Any] = info["features"]
    where = f"LeRobot dataset {root}"
    if action_space not in ACTION_SPACES:
        raise ValueError(f"action_space must be one of {ACTION_SPACES}, got {action_space!r}")
    ours_for = {ACTION_KEY: ACTION_KEY, STATE_KEY: STATE_KEY}
    for theirs, ours in (feature_map or {}).items():
        if ours not in ours_for:
            raise EpisodeError(f"{where}: feature_map maps {theirs!r} to {ours!r}; robovla's features are "
                               f"{sorted(ours_for)}")
        if theirs not in feats:
            raise EpisodeError(f"{where}: feature_map names {theirs!r}, which the dataset does not have "
                               f"(features: {sorted(feats)})")
        ours_for[ours] = theirs
    notes: list[str] = []
    action_key = ours_for[ACTION_KEY]
    if action_key not in feats:
        raise EpisodeError(f"{where}: no {action_key!r} feature (has {sorted(feats)}); map one with "
                           f"feature_map (--feature-map THEIRS=action)")
    ft = feats[action_key]
    names = flat_names(ft.get("names"))
    adim = int(np.prod(ft.get("shape") or [0]))
    kind = classify_action_names(names)
    ours_text = " ".join(ACTION_NAMES)
    if kind == "joint" or (kind == "misordered"):
        raise EpisodeError(f"{where}: feature {action_key!r} holds {_KIND_TEXT[kind]} (names {names}); robovla "
                           f"trains {ACTION_DIM}-D end-effector deltas ({ours_text}) and does not convert them; "
                           "map another feature with feature_map")
    if adim != ACTION_DIM:
        raise EpisodeError(f"{where}: {action_key!r} has {adim} dims; robovla needs {ACTION_DIM} ({ours_text})")
    if kind != "ee_delta":
        if action_space != "ee_delta":
            raise EpisodeError(f"{where}: feature {action_key!r} holds {_KIND_TEXT[kind]} (names {names}); robovla "
                               f"trains end-effector deltas ({ours_text}). If they are such deltas in this order, "
                               "say so with action_space=ee_delta (--action-space ee_delta)")
        notes.append(f"{action_key!r} taken as end-effector deltas ({ours_text}) by action_space=ee_delta "
                     f"(names {names})")
    state_key: str | None = ours_for[STATE_KEY]
    if state_key in feats:
        sft = feats[state_key]
        snames = flat_names(sft.get("names"))
        sdim = int(np.prod(sft.get("shape") or [0]))
        if not state_names_usable(snames, sdim):
            msg = (f"feature {state_key!r} ({sdim}-D, names {snames}) is not robovla's state (7 joint positions "
                   f"+ gripper, {STATE_NAMES})")
            if require_state:
                raise EpisodeError(f"{where}: {msg}; the model reads the state (model.state_input), so this "
                                   "dataset cannot train it")
            notes.append(msg + "; not used (the model does not read the state)")
            state_key = None
    else:
        if require_state:
            raise EpisodeError(f"{where}: no state feature {state_key!r}; the model reads the state "
                               "(model.state_input)")
        state_key = None
    visual = {k: v["dtype"] for k, v in feats.items() if v.get("dtype") in ("video", "image")}
    short = {_short(k): k for k in visual}
    cams: dict[str, str] = {}
    for theirs, ours in (camera_map or {}).items():
        key = theirs if theirs in visual else short.get(theirs)
        if key is None:
            raise EpisodeError(f"{where}: camera_map names camera {theirs!r}, which the dataset does not have "
                               f"(cameras: {sorted(short)})")
        if ours not in cameras:
            raise EpisodeError(f"{where}: camera_map maps {theirs!r} to {ours!r}, which is not a camera being "
                               f"loaded ({cameras})")
        if ours in cams:
            raise EpisodeError(f"{where}: camera_map maps two cameras to {ours!r}")
        cams[ours] = key
    for c in cameras:
        if c in cams:
            continue
        if IMAGE_PREFIX + c in visual:
            cams[c] = IMAGE_PREFIX + c
        else:  # never guessed: a wrist view trained as the front view is silently wrong
            example = min(short) if short else "NAME"
            raise EpisodeError(f"{where}: no video or image for camera {c!r} (the dataset's cameras: "
                               f"{sorted(short)}); pass a camera_map, e.g. --camera-map {example}={c}")
    valid_key = VALID_KEY if VALID_KEY in feats else None
    return ImportPlan(action_key, state_key, valid_key, cams, {k: visual[k] for k in cams.values()}, notes)


# ----------------------------------------------------------------------------------------------
# import


def _column_2d(table: pa.Table, col: str, dim: int, where: str) -> np.ndarray:
    arr = table.column(col).combine_chunks()
    if pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type) or pa.types.is_large_list(arr.type):
        vals = arr.flatten().to_numpy(zero_copy_only=False)
        if vals.size != len(arr) * dim:
            raise EpisodeError(f"{where}: column {col!r} does not hold {dim} values per frame")
        return vals.reshape(len(arr), dim)
    return arr.to_numpy(zero_copy_only=False).reshape(len(arr), -1)


def _decode_image(cell: dict[str, Any] | None, root: Path, where: str) -> np.ndarray:
    import cv2

    if cell is None:
        raise EpisodeError(f"{where}: missing image")
    data = cell.get("bytes")
    if data is None and cell.get("path"):
        p = Path(cell["path"])
        data = (p if p.is_absolute() else root / p).read_bytes()
    if not data:
        raise EpisodeError(f"{where}: image has neither bytes nor a readable path")
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise EpisodeError(f"{where}: cannot decode image ({len(data)} bytes)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class _RowStream:
    """The image columns of one parquet file, handed out episode by episode (bounded memory)."""

    def __init__(self, pf: pq.ParquetFile, cols: list[str]) -> None:
        self._it = pf.iter_batches(batch_size=64, columns=cols)
        self._cols = cols
        self._buf: dict[str, list[Any]] = {c: [] for c in cols}

    def take(self, n: int) -> dict[str, list[Any]]:
        while len(self._buf[self._cols[0]]) < n:
            batch = next(self._it, None)
            if batch is None:
                raise EpisodeError(f"image columns {self._cols} end before the frame rows do")
            for c in self._cols:
                self._buf[c] += batch.column(c).to_pylist()
        out = {c: v[:n] for c, v in self._buf.items()}
        self._buf = {c: v[n:] for c, v in self._buf.items()}
        return out


def _episode_table(root: Path, plan: ImportPlan) -> dict[int, dict[str, Any]]:
    files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    want = {"episode_index", "tasks", "length"}
    for key, kind in plan.kinds.items():
        if kind == "video":
            want |= {f"videos/{key}/{s}" for s in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")}
    out: dict[int, dict[str, Any]] = {}
    for f in files:
        schema = pq.read_schema(f)
        table = pq.read_table(f, columns=[c for c in schema.names if c in want])
        for row in table.to_pylist():
            out[int(row["episode_index"])] = row
    return out


def iter_lerobot(root: str | Path, *, cameras: list[str], image_size: int | None = 224,
                 camera_map: dict[str, str] | None = None, feature_map: dict[str, str] | None = None,
                 action_space: str = "auto", require_state: bool = False, chunk: int = 64,
                 on_problem: Callable[[str], None] | None = None, progress: bool = False) -> Iterator[EpisodeFrames]:
    """Episodes of a LeRobot v3.x dataset, one at a time (its fps is the alignment rate).

    Only the episode being built is in memory: parquet files are read column-wise, images in
    batches, and videos decoded over the episode's own frame range `chunk` frames at a time.
    A broken episode raises EpisodeError, or with on_problem is reported there and skipped.
    """
    from tqdm import tqdm

    from robovla.control.image import resize

    root = Path(root)
    info = read_info(root)
    fps = float(info["fps"])
    plan = plan_import(root, info, list(cameras), camera_map=camera_map, feature_map=feature_map,
                       action_space=action_space, require_state=require_state)
    for note in plan.notes:
        log.warning("LeRobot dataset %s: %s", root, note)
    feats = info["features"]
    tasks = read_tasks(root)
    ep_meta = _episode_table(root, plan)
    if image_size is not None:
        out_hw = (image_size, image_size)
    else:
        shapes = {tuple(feats[k]["shape"][:2]) for k in plan.cameras.values()}
        if len(shapes) != 1:
            raise EpisodeError(f"LeRobot dataset {root}: cameras have different sizes {shapes}; set an image_size")
        out_hw = next(iter(shapes))

    def convert(img: np.ndarray) -> np.ndarray:
        return resize(img, out_hw[1], out_hw[0])

    tol = min(0.25 / fps, 0.02)
    video_path = info.get("video_path") or VIDEO_PATH
    readers: dict[str, tuple[Path, VideoReader]] = {}
    image_keys = [k for k, kind in plan.kinds.items() if kind == "image"]
    lowdim = [plan.action_key, "timestamp", "frame_index", "episode_index", "task_index"]
    lowdim += [k for k in (plan.state_key, plan.valid_key) if k]
    data_files = sorted((root / "data").glob("*/*.parquet"))
    if not data_files:
        raise EpisodeError(f"LeRobot dataset {root}: no parquet files under data/")
    total = int(info.get("total_episodes") or 0) or None
    bar = tqdm(total=total, desc=f"import {root.name}", unit="ep", disable=None if progress else True, leave=False)
    seen: set[int] = set()

    def reader_for(key: str, path: Path) -> VideoReader:
        cur = readers.get(key)
        if cur is not None and cur[0] == path:
            return cur[1]
        if cur is not None:
            cur[1].close()
        r = VideoReader(path)
        readers[key] = (path, r)
        return r

    def build(e: int, table: pa.Table, s: int, stop: int, rows_img: dict[str, list[Any]] | None) -> EpisodeFrames:
        where = f"LeRobot dataset {root}, episode {e}"
        n = stop - s
        part = table.slice(s, n)
        order = np.argsort(part.column("frame_index").to_numpy(zero_copy_only=False), kind="stable")
        actions = _column_2d(part, plan.action_key, ACTION_DIM, where)[order].astype(np.float32)
        if not np.isfinite(actions).all():
            raise EpisodeError(f"{where}: non-finite action values")
        # a state robovla cannot read stays unknown (NaN), never zeros that read as an open gripper
        state = np.full((n, len(STATE_NAMES)), np.nan, dtype=np.float32)
        if plan.state_key:
            state[:] = _column_2d(part, plan.state_key, len(STATE_NAMES), where)[order]
        valid = (part.column(plan.valid_key).to_numpy(zero_copy_only=False).astype(bool)[order] if plan.valid_key
                 else np.ones(n, dtype=bool))
        ts = part.column("timestamp").to_numpy(zero_copy_only=False).astype(np.float64)[order]
        meta = ep_meta.get(e, {})
        images = np.empty((n, len(cameras), out_hw[0], out_hw[1], 3), dtype=np.uint8)
        for ci, c in enumerate(cameras):
            key = plan.cameras[c]
            if plan.kinds[key] == "image":
                cells = rows_img[key] if rows_img else []
                for i, r in enumerate(order):
                    images[i, ci] = convert(_decode_image(cells[r], root, f"{where}, {key} frame {i}"))
                continue
            if f"videos/{key}/from_timestamp" not in meta:
                raise EpisodeError(f"{where}: meta/episodes has no video location for {key!r}")
            path = root / video_path.format(video_key=key, chunk_index=int(meta[f"videos/{key}/chunk_index"]),
                                            file_index=int(meta[f"videos/{key}/file_index"]))
            try:
                reader = reader_for(key, path)
                got = 0
                for off, frames in reader.read(float(meta[f"videos/{key}/from_timestamp"]) + ts, tol, chunk=chunk,
                                               convert=convert):
                    images[off: off + len(frames), ci] = frames
                    got += len(frames)
            except VideoError as exc:
                stale = readers.pop(key, None)
                if stale is not None:
                    stale[1].close()
                raise EpisodeError(f"{where}: {exc}") from exc
            if got != n:
                raise EpisodeError(f"{where}: {key} gave {got} frames for {n} rows")
        tids = part.column("task_index").to_numpy(zero_copy_only=False)
        tid = int(tids[order[0]])
        ep_tasks = meta.get("tasks") or []
        instruction = tasks.get(tid) if tid in tasks else (ep_tasks[0] if ep_tasks else "")
        return EpisodeFrames(
            episode_id=f"{root.name}/episode_{e:06d}", instruction=instruction, timestamps=np.arange(n) / fps,
            images=images, camera_names=list(cameras), state=state, actions=actions, action_valid=valid,
            source=str(root), success=True, complete=True,
            metadata={"robot": info.get("robot_type") or "", "rate_hz": fps, "lerobot_episode": e,
                      "lerobot_action": plan.action_key, "lerobot_state": plan.state_key,
                      "lerobot_cameras": dict(plan.cameras)})

    try:
        for f in data_files:
            pf = pq.ParquetFile(f)
            names = pf.schema_arrow.names
            missing = [c for c in lowdim + image_keys if c not in names]
            if missing:
                raise EpisodeError(f"LeRobot dataset {root}: {f.relative_to(root)} has no column(s) {missing}")
            table = pf.read(columns=lowdim)
            eps = table.column("episode_index").to_numpy(zero_copy_only=False)
            if len(eps) == 0:
                continue
            starts = np.flatnonzero(np.r_[True, eps[1:] != eps[:-1]])
            stops = np.r_[starts[1:], len(eps)]
            stream = _RowStream(pf, image_keys) if image_keys else None
            for s, stop in zip(starts, stops):
                e = int(eps[s])
                rows_img = stream.take(int(stop - s)) if stream else None
                if e in seen:
                    raise EpisodeError(f"LeRobot dataset {root}: rows of episode {e} are not contiguous")
                seen.add(e)
                try:
                    ep = build(e, table, int(s), int(stop), rows_img)
                except EpisodeError as exc:
                    if on_problem is None:
                        raise
                    on_problem(str(exc))
                    log.warning("skipping %s", exc)
                    continue
                finally:
                    bar.update(1)
                yield ep
    finally:
        bar.close()
        for _, r in readers.values():
            r.close()


def import_lerobot(root: str | Path, *, cameras: list[str], image_size: int | None = 224,
                   camera_map: dict[str, str] | None = None, feature_map: dict[str, str] | None = None,
                   action_space: str = "auto", require_state: bool = False) -> list[EpisodeFrames]:
    """All episodes of a (small) LeRobot dataset in memory; large ones go through `iter_lerobot`."""
    return list(iter_lerobot(root, cameras=cameras, image_size=image_size, camera_map=camera_map,
                             feature_map=feature_map, action_space=action_space, require_state=require_state))
