"""LeRobot dataset v3.0 import/export (parquet + mp4): the format cross-embodiment data ships in.

Layout (see /work/shared/notes/sim-and-data.md): data/chunk-XXX/file-XXX.parquet (many
episodes per file), videos/<key>/chunk-XXX/file-XXX.mp4 (episodes concatenated, located by
from/to timestamps in the episodes table), meta/info.json, meta/stats.json, meta/tasks.parquet,
meta/episodes/chunk-XXX/file-XXX.parquet. Export keeps robovla's `action_valid` flag as an extra
boolean feature so an export/import round trip is exact for everything but the (lossy) video.
"""

from __future__ import annotations

import json
import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robovla.data.align import EpisodeFrames
from robovla.data.bag_reader import EpisodeError
from robovla.policy.types import ACTION_DIM, ACTION_NAMES

log = logging.getLogger(__name__)

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
STATE_NAMES = [f"joint_{i}" for i in range(1, 8)] + ["gripper"]
VALID_KEY = "robovla.action_valid"
IMAGE_PREFIX = "observation.images."


def _stats(x: np.ndarray) -> dict[str, Any]:
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    return {"min": x.min(0).tolist(), "max": x.max(0).tolist(), "mean": x.mean(0).tolist(),
            "std": x.std(0).tolist(), "count": [int(len(x))]}


def _write_video(path: Path, frames: np.ndarray, fps: float, codec: str, crf: int) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "g": "2"} if codec in ("libx264", "h264") else {}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _read_video(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if not frames:
        raise EpisodeError(f"LeRobot video {path} holds no frames")
    return np.stack(frames)


def export_lerobot(episodes: list[EpisodeFrames], out: str | Path, fps: float, *, robot_type: str = "kinova_gen3",
                   codec: str = "libx264", crf: int = 18) -> Path:
    """Write episodes as one LeRobot v3.0 dataset (a single data/video file per key)."""
    out = Path(out)
    if (out / "meta" / "info.json").exists():
        raise FileExistsError(f"{out} already holds a LeRobot dataset")
    if not episodes:
        raise ValueError("export_lerobot: no episodes to export")
    cams = episodes[0].camera_names
    tasks: dict[str, int] = {}
    cols: dict[str, list[Any]] = {k: [] for k in ("observation.state", "action", VALID_KEY, "timestamp",
                                                  "frame_index", "episode_index", "index", "task_index")}
    ep_rows: dict[str, list[Any]] = {k: [] for k in ("episode_index", "tasks", "length", "data/chunk_index",
                                                     "data/file_index", "dataset_from_index", "dataset_to_index",
                                                     "meta/episodes/chunk_index", "meta/episodes/file_index")}
    for c in cams:
        for suffix in ("chunk_index", "file_index", "from_timestamp", "to_timestamp"):
            ep_rows[f"videos/{IMAGE_PREFIX}{c}/{suffix}"] = []
    index = 0
    for e, ep in enumerate(episodes):
        if ep.camera_names != cams:
            raise ValueError(f"episode {ep.episode_id} has cameras {ep.camera_names}, expected {cams}")
        n = len(ep)
        tid = tasks.setdefault(ep.instruction, len(tasks))
        cols["observation.state"] += [r.tolist() for r in ep.state.astype(np.float32)]
        cols["action"] += [r.tolist() for r in ep.actions.astype(np.float32)]
        cols[VALID_KEY] += ep.action_valid.tolist()
        cols["timestamp"] += (np.arange(n) / fps).astype(np.float32).tolist()
        cols["frame_index"] += list(range(n))
        cols["episode_index"] += [e] * n
        cols["index"] += list(range(index, index + n))
        cols["task_index"] += [tid] * n
        start = sum(ep_rows["length"])
        for k, v in (("episode_index", e), ("tasks", [ep.instruction]), ("length", n), ("data/chunk_index", 0),
                     ("data/file_index", 0), ("dataset_from_index", index), ("dataset_to_index", index + n),
                     ("meta/episodes/chunk_index", 0), ("meta/episodes/file_index", 0)):
            ep_rows[k].append(v)
        for c in cams:
            key = f"videos/{IMAGE_PREFIX}{c}/"
            ep_rows[key + "chunk_index"].append(0)
            ep_rows[key + "file_index"].append(0)
            ep_rows[key + "from_timestamp"].append(start / fps)
            ep_rows[key + "to_timestamp"].append((start + n) / fps)
        index += n
    data_path = out / DATA_PATH.format(chunk_index=0, file_index=0)
    data_path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "observation.state": pa.array(cols["observation.state"], type=pa.list_(pa.float32(), 8)),
        "action": pa.array(cols["action"], type=pa.list_(pa.float32(), ACTION_DIM)),
        VALID_KEY: pa.array(cols[VALID_KEY], type=pa.bool_()),
        "timestamp": pa.array(cols["timestamp"], type=pa.float32()),
        **{k: pa.array(cols[k], type=pa.int64()) for k in ("frame_index", "episode_index", "index", "task_index")},
    })
    pq.write_table(table, data_path)
    h, w = episodes[0].images.shape[2:4]
    for ci, c in enumerate(cams):
        frames = np.concatenate([np.asarray(ep.images[:, ci]) for ep in episodes], axis=0)
        _write_video(out / VIDEO_PATH.format(video_key=IMAGE_PREFIX + c, chunk_index=0, file_index=0),
                     frames, fps, codec, crf)
    ep_path = out / EPISODES_PATH.format(chunk_index=0, file_index=0)
    ep_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(ep_rows), ep_path)
    pq.write_table(pa.table({"task_index": pa.array(list(tasks.values()), type=pa.int64()),
                             "task": pa.array(list(tasks.keys()), type=pa.string())}), out / "meta" / "tasks.parquet")
    features: dict[str, Any] = {
        f"{IMAGE_PREFIX}{c}": {"dtype": "video", "shape": [int(h), int(w), 3], "names": ["height", "width", "channels"],
                               "info": {"video.fps": fps, "video.height": int(h), "video.width": int(w),
                                        "video.channels": 3, "video.codec": "h264" if "264" in codec else codec,
                                        "video.pix_fmt": "yuv420p", "video.is_depth_map": False, "has_audio": False}}
        for c in cams
    }
    features.update({
        "observation.state": {"dtype": "float32", "shape": [8], "names": STATE_NAMES},
        "action": {"dtype": "float32", "shape": [ACTION_DIM], "names": list(ACTION_NAMES)},
        VALID_KEY: {"dtype": "bool", "shape": [1], "names": None},
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        **{k: {"dtype": "int64", "shape": [1], "names": None}
           for k in ("frame_index", "episode_index", "index", "task_index")},
    })
    info = {
        "codebase_version": CODEBASE_VERSION, "robot_type": robot_type, "total_episodes": len(episodes),
        "total_frames": index, "total_tasks": len(tasks), "chunks_size": 1000, "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 500, "fps": fps, "splits": {"train": f"0:{len(episodes)}"},
        "data_path": DATA_PATH, "video_path": VIDEO_PATH, "features": features,
    }
    (out / "meta" / "info.json").write_text(json.dumps(info, indent=2))
    all_state = np.concatenate([e.state for e in episodes])
    all_act = np.concatenate([e.actions for e in episodes])
    (out / "meta" / "stats.json").write_text(json.dumps(
        {"observation.state": _stats(all_state), "action": _stats(all_act)}, indent=2))
    log.info("exported %d episodes (%d frames) to LeRobot v3.0 dataset %s", len(episodes), index, out)
    return out


def _task_table(root: Path) -> dict[int, str]:
    path = root / "meta" / "tasks.parquet"
    if not path.is_file():
        return {}
    t = pq.read_table(path).to_pydict()
    names = t.get("task") or t.get("__index_level_0__") or []
    return {int(i): str(s) for i, s in zip(t["task_index"], names)}


def import_lerobot(root: str | Path, *, cameras: list[str], image_size: int | None = 224,
                   camera_map: dict[str, str] | None = None, action_key: str = "action",
                   state_key: str = "observation.state") -> list[EpisodeFrames]:
    """Read a LeRobot v3.0 dataset into aligned episodes (its fps is the alignment rate).

    camera_map maps our camera names to the dataset's video keys (default: observation.images.<name>,
    or the only video key when one camera is asked for and the dataset has exactly one).
    """
    from robovla.control.image import resize

    root = Path(root)
    info = json.loads((root / "meta" / "info.json").read_text())
    if not str(info.get("codebase_version", "")).startswith("v3"):
        raise EpisodeError(f"LeRobot dataset {root}: codebase_version {info.get('codebase_version')!r} "
                           "is not v3.x (convert it with lerobot's v2.1 -> v3.0 script)")
    feats = info["features"]
    fps = float(info["fps"])
    if action_key not in feats:
        raise EpisodeError(f"LeRobot dataset {root}: no {action_key!r} feature (has {sorted(feats)})")
    adim = int(np.prod(feats[action_key]["shape"]))
    if adim != ACTION_DIM:
        raise EpisodeError(f"LeRobot dataset {root}: {action_key!r} has {adim} dims; robovla needs {ACTION_DIM} "
                           "(dx dy dz droll dpitch dyaw gripper)")
    video_keys = [k for k, v in feats.items() if v.get("dtype") == "video"]
    cmap = dict(camera_map or {})
    for c in cameras:
        if c not in cmap:
            if IMAGE_PREFIX + c in video_keys:
                cmap[c] = IMAGE_PREFIX + c
            elif len(cameras) == 1 and len(video_keys) == 1:
                cmap[c] = video_keys[0]
            else:
                raise EpisodeError(f"LeRobot dataset {root}: no video for camera {c!r} (video keys {video_keys}); "
                                   "pass a camera_map")
    tasks = _task_table(root)
    data_files = sorted((root / "data").rglob("*.parquet"))
    if not data_files:
        raise EpisodeError(f"LeRobot dataset {root}: no parquet files under data/")
    table = pa.concat_tables([pq.read_table(f) for f in data_files]).to_pydict()
    ep_files = sorted((root / "meta" / "episodes").rglob("*.parquet"))
    ep_table = pa.concat_tables([pq.read_table(f) for f in ep_files]).to_pylist() if ep_files else []
    ep_info = {int(r["episode_index"]): r for r in ep_table}
    ep_col = np.asarray(table["episode_index"])
    frame_col = np.asarray(table["frame_index"])
    videos: dict[tuple[str, int, int], np.ndarray] = {}
    out: list[EpisodeFrames] = []
    for e in np.unique(ep_col):
        rows = np.flatnonzero(ep_col == e)
        rows = rows[np.argsort(frame_col[rows])]
        n = len(rows)
        if n == 0:
            continue
        actions = np.asarray([table[action_key][r] for r in rows], dtype=np.float32).reshape(n, ACTION_DIM)
        if state_key in table:
            st = np.asarray([table[state_key][r] for r in rows], dtype=np.float32).reshape(n, -1)
        else:
            st = np.zeros((n, 0), dtype=np.float32)
        state = np.zeros((n, 8), dtype=np.float32)
        state[:, : min(8, st.shape[1])] = st[:, :8]
        valid = (np.asarray([table[VALID_KEY][r] for r in rows], dtype=bool) if VALID_KEY in table
                 else np.ones(n, dtype=bool))
        meta = ep_info.get(int(e), {})
        imgs = []
        for c in cameras:
            key = cmap[c]
            ci, fi = int(meta.get(f"videos/{key}/chunk_index", 0)), int(meta.get(f"videos/{key}/file_index", 0))
            vk = (key, ci, fi)
            if vk not in videos:
                vpath = root / info.get("video_path", VIDEO_PATH).format(video_key=key, chunk_index=ci, file_index=fi)
                videos[vk] = _read_video(vpath)
            first = int(round(float(meta.get(f"videos/{key}/from_timestamp", 0.0)) * fps))
            frames = videos[vk][first: first + n]
            if len(frames) != n:
                raise EpisodeError(f"LeRobot dataset {root}: episode {e} needs {n} frames of {key}, "
                                   f"video has {len(frames)} from frame {first}")
            if image_size is not None and frames.shape[1:3] != (image_size, image_size):
                frames = np.stack([resize(f, image_size, image_size)
                                   for f in frames])
            imgs.append(frames)
        tid = int(table["task_index"][rows[0]]) if "task_index" in table else -1
        tasks_list = meta.get("tasks") or []
        instruction = tasks.get(tid) or (tasks_list[0] if tasks_list else "")
        out.append(EpisodeFrames(
            episode_id=f"{root.name}/episode_{int(e):06d}", instruction=instruction,
            timestamps=np.arange(n) / fps, images=np.stack(imgs, axis=1), camera_names=list(cameras),
            state=state, actions=actions, action_valid=valid, source=str(root), success=True, complete=True,
            metadata={"robot": info.get("robot_type", ""), "rate_hz": fps, "lerobot_episode": int(e)},
        ))
    log.info("imported %d episodes from LeRobot dataset %s", len(out), root)
    return out
