"""Checks of a LeRobot v3 dataset against the format facts of docs/data.md, and a summary of it.

Why: a dataset that parses can still be misread by LeRobot (task strings not stored as the pandas
index read back as 0; stats without quantiles break its quantile normalisation; episode ranges
that do not tile the frames shift every frame). `validate_lerobot` names each such problem.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from robovla.data import lerobot_stats as lstats
from robovla.data.bag_reader import EpisodeError
from robovla.data.lerobot import (
    DEFAULT_FEATURES,
    EPISODES_PATH,
    STATE_KEY,
    TASKS_PATH,
    VIDEO_PATH,
    classify_action_names,
    flat_names,
    plan_import,
    read_info,
    read_tasks,
    state_names_usable,
)

log = logging.getLogger(__name__)

_DEFAULT_DTYPES = {"timestamp": "float32", "frame_index": "int64", "episode_index": "int64", "index": "int64",
                   "task_index": "int64"}
_INFO_INTS = ("total_episodes", "total_frames", "total_tasks", "chunks_size", "data_files_size_in_mb",
              "video_files_size_in_mb")


def _episodes(root: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in sorted((root / "meta" / "episodes").glob("*/*.parquet")):
        rows += pq.read_table(f).to_pylist()
    return sorted(rows, key=lambda r: r.get("episode_index", -1))


def _check_info(info: dict[str, Any], problems: list[str]) -> None:
    if info.get("codebase_version") != "v3.0":
        problems.append(f"info.json: codebase_version {info.get('codebase_version')!r} (LeRobot 0.6 writes 'v3.0')")
    fps = info.get("fps")
    if not isinstance(fps, int) or fps <= 0:
        problems.append(f"info.json: fps {fps!r} is not a positive integer")
    for k in _INFO_INTS:
        if not isinstance(info.get(k), int) or info[k] < (0 if k.startswith("total") else 1):
            problems.append(f"info.json: {k} {info.get(k)!r} is missing or not a valid integer")
    if "{chunk_index" not in str(info.get("data_path", "")):
        problems.append(f"info.json: data_path {info.get('data_path')!r} is not a chunk/file template")
    feats = info.get("features") or {}
    has_video = any(ft.get("dtype") == "video" for ft in feats.values())
    if has_video and not info.get("video_path"):
        problems.append("info.json: video features but no video_path")
    for name, dtype in _DEFAULT_DTYPES.items():
        ft = feats.get(name)
        if ft is None or ft.get("dtype") != dtype or list(ft.get("shape") or []) != [1]:
            problems.append(f"info.json: feature {name!r} must be {dtype} shape [1], got {ft}")
    for name, ft in feats.items():
        if "/" in name:
            problems.append(f"info.json: feature name {name!r} contains '/'")
        if not isinstance(ft.get("shape"), list) or not all(isinstance(s, int) for s in ft["shape"]):
            problems.append(f"info.json: feature {name!r} has no integer shape list")
        if "names" not in ft:
            problems.append(f"info.json: feature {name!r} has no 'names' entry")
        if ft.get("dtype") in ("image", "video") and (len(ft.get("shape") or []) != 3):
            problems.append(f"info.json: visual feature {name!r} shape {ft.get('shape')} is not [H, W, C]")


def _check_stat_block(where: str, feature: str, visual: bool, stats: dict[str, Any], problems: list[str]) -> None:
    missing = [k for k in lstats.STAT_KEYS if k not in stats]
    if missing:
        problems.append(f"{where}: {feature!r} lacks {missing}")
        return
    if np.asarray(stats["count"]).shape != (1,):
        problems.append(f"{where}: {feature!r} count must have shape (1,)")
    if visual:
        for k in lstats.STAT_KEYS:
            if k == "count":
                continue
            v = np.asarray(stats[k], dtype=np.float64)
            if v.shape not in ((3, 1, 1), (1, 1, 1)):
                problems.append(f"{where}: {feature!r} {k} has shape {v.shape}, LeRobot needs (3, 1, 1)")
                break
            if k != "std" and (v.min() < -1e-6 or v.max() > 1 + 1e-6):
                problems.append(f"{where}: {feature!r} {k} is outside [0, 1] (image stats are scaled by 1/255)")
                break


def validate_lerobot(root: str | Path, *, check_videos: bool = True) -> list[str]:
    """Every way the dataset departs from what LeRobot 0.6 reads; an empty list when none."""
    from robovla.data.video import video_duration_s

    root = Path(root)
    problems: list[str] = []
    try:
        info = read_info(root)
    except EpisodeError as exc:
        return [str(exc)]
    _check_info(info, problems)
    feats: dict[str, Any] = info.get("features") or {}
    visual = {k for k, ft in feats.items() if ft.get("dtype") in ("image", "video")}
    videos = [k for k, ft in feats.items() if ft.get("dtype") == "video"]
    numeric = [k for k, ft in feats.items() if ft.get("dtype") not in ("string", "language")]
    fps = float(info.get("fps") or 1)
    # tasks
    tasks_path = root / TASKS_PATH
    tasks: dict[int, str] = {}
    if not tasks_path.is_file():
        problems.append(f"{TASKS_PATH} is missing")
    else:
        table = pq.read_table(tasks_path)
        meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
        if meta.get("index_columns") != ["task"]:
            problems.append(f"{TASKS_PATH}: the task strings are not stored as the pandas index named 'task' "
                            f"(index_columns {meta.get('index_columns')}); LeRobot would read every frame's task as "
                            "its number")
        try:
            tasks = read_tasks(root)
        except EpisodeError as exc:
            problems.append(str(exc))
        if "task_index" in table.column_names and table.column("task_index").to_pylist() != list(range(len(table))):
            problems.append(f"{TASKS_PATH}: task_index is not 0..n-1 in row order (LeRobot looks tasks up by row)")
        if len(set(tasks.values())) != len(tasks):
            problems.append(f"{TASKS_PATH}: repeated task strings")
        if len(tasks) != info.get("total_tasks"):
            problems.append(f"{TASKS_PATH}: {len(tasks)} tasks, info.json says {info.get('total_tasks')}")
    # episodes
    eps = _episodes(root)
    if not eps:
        problems.append(f"{EPISODES_PATH.split('/chunk')[0]} has no episode rows")
    if len(eps) != info.get("total_episodes"):
        problems.append(f"meta/episodes: {len(eps)} episodes, info.json says {info.get('total_episodes')}")
    if [r.get("episode_index") for r in eps] != list(range(len(eps))):
        problems.append("meta/episodes: episode_index is not 0..n-1")
    pos = 0
    for r in eps:
        e = r.get("episode_index")
        span = r.get("dataset_to_index", -1) - r.get("dataset_from_index", 0)
        if r.get("dataset_from_index") != pos or span != r.get("length"):
            problems.append(f"meta/episodes: episode {e} frame range [{r.get('dataset_from_index')}, "
                            f"{r.get('dataset_to_index')}) does not follow on at {pos} with length {r.get('length')}")
            break
        pos = r["dataset_to_index"]
        if not r.get("tasks") or any(t not in tasks.values() for t in r["tasks"]):
            problems.append(f"meta/episodes: episode {e} tasks {r.get('tasks')} are not in {TASKS_PATH}")
        for k in videos:
            if f"videos/{k}/from_timestamp" not in r:
                problems.append(f"meta/episodes: episode {e} has no videos/{k}/... location")
    if eps and pos != info.get("total_frames"):
        problems.append(f"meta/episodes: episodes cover {pos} frames, info.json says {info.get('total_frames')}")
    if eps:
        for k in numeric:
            block = {s: eps[0].get(f"stats/{k}/{s}") for s in lstats.STAT_KEYS if f"stats/{k}/{s}" in eps[0]}
            _check_stat_block("meta/episodes per-episode stats", k, k in visual, block, problems)
    # data
    n_rows = 0
    task_ids: set[int] = set()
    data_files = sorted((root / "data").glob("*/*.parquet"))
    if not data_files:
        problems.append("data/ has no parquet files")
    for f in data_files:
        schema = pq.read_schema(f)
        lacking = [k for k in feats if k not in videos and k not in schema.names]
        if lacking:
            problems.append(f"{f.relative_to(root)}: no column(s) {lacking}")
            continue
        t = pq.read_table(f, columns=["index", "episode_index", "task_index"])
        idx = t.column("index").to_numpy()
        n_rows += len(idx)
        task_ids |= set(np.unique(t.column("task_index").to_numpy()).tolist())
        for r in eps:
            if (r.get("data/chunk_index"), r.get("data/file_index")) != _file_ids(f):
                continue
            rows = np.flatnonzero(t.column("episode_index").to_numpy() == r["episode_index"])
            if len(rows) != r["length"] or (len(rows) and (idx[rows[0]] != r["dataset_from_index"])):
                problems.append(f"{f.relative_to(root)}: episode {r['episode_index']} rows do not match "
                                "its meta/episodes range")
                break
    if n_rows != info.get("total_frames"):
        problems.append(f"data/: {n_rows} frames, info.json says {info.get('total_frames')}")
    if tasks and not task_ids <= set(tasks):
        problems.append(f"data/: task_index values {sorted(task_ids - set(tasks))} are not in {TASKS_PATH}")
    # stats
    stats_path = root / "meta" / "stats.json"
    if not stats_path.is_file():
        problems.append("meta/stats.json is missing")
    else:
        stats = json.loads(stats_path.read_text())
        for k in numeric:
            if k not in stats:
                problems.append(f"meta/stats.json: no stats for {k!r}")
            else:
                _check_stat_block("meta/stats.json", k, k in visual, stats[k], problems)
    # videos
    if check_videos:
        template = info.get("video_path") or VIDEO_PATH
        ends: dict[Path, float] = {}
        for r in eps:
            for k in videos:
                try:
                    p = root / template.format(video_key=k, chunk_index=int(r[f"videos/{k}/chunk_index"]),
                                               file_index=int(r[f"videos/{k}/file_index"]))
                except (KeyError, TypeError):
                    continue
                ends[p] = max(ends.get(p, 0.0), float(r[f"videos/{k}/to_timestamp"]))
        for p, end in sorted(ends.items()):
            if not p.is_file():
                problems.append(f"{p.relative_to(root)} is missing")
            elif video_duration_s(p) + 0.5 / fps < end:
                problems.append(f"{p.relative_to(root)} lasts {video_duration_s(p):.3f} s; episodes reach "
                                f"{end:.3f} s")
    return problems


def _file_ids(path: Path) -> tuple[int, int]:
    return int(path.parent.name.split("-")[1]), int(path.stem.split("-")[1])


def describe_lerobot(root: str | Path) -> dict[str, Any]:
    """What a dataset holds and whether robovla can train on it as it is (for `robovla dataset info`)."""
    root = Path(root)
    info = read_info(root)
    feats = info["features"]
    tasks = read_tasks(root)
    out: dict[str, Any] = {
        "path": str(root), "codebase_version": info.get("codebase_version"), "robot_type": info.get("robot_type"),
        "fps": info.get("fps"), "episodes": info.get("total_episodes"), "frames": info.get("total_frames"),
        "tasks": len(tasks), "first_tasks": [tasks[i] for i in sorted(tasks)[:5]],
        "cameras": {k: feats[k]["dtype"] + " " + "x".join(map(str, feats[k].get("shape", [])))
                    for k in feats if feats[k].get("dtype") in ("video", "image")},
        "features": {k: {"dtype": ft.get("dtype"), "shape": ft.get("shape"), "names": flat_names(ft.get("names"))}
                     for k, ft in feats.items()
                     if k not in DEFAULT_FEATURES and ft.get("dtype") not in ("video", "image")},
    }
    act = feats.get("action")
    out["action_names_say"] = classify_action_names(flat_names(act.get("names"))) if act else "no 'action' feature"
    st = feats.get(STATE_KEY)
    out["state_usable"] = bool(st and state_names_usable(flat_names(st.get("names")),
                                                         int(np.prod(st.get("shape") or [0]))))
    try:
        plan = plan_import(root, info, [])
        out["robovla_reads"] = "yes" + (f" ({'; '.join(plan.notes)})" if plan.notes else "")
    except EpisodeError as exc:
        out["robovla_reads"] = f"no: {exc}"
    return out
