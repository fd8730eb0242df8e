"""Decode-once cache of aligned episodes: images as a memory-mapped .npy, the rest in .npz.

Why: decoding bags (CDR + JPEG + resize) runs at a few hundred frames/s, while training reads
each frame tens of times; after the first pass a window is a memmap slice (thousands of
frames/s per core). Entries are keyed by the source file's identity and every option that
changes the result, and written to a temporary directory renamed into place, so a killed
build never leaves a half-written entry that looks valid.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from robovla.data.align import EpisodeFrames

log = logging.getLogger(__name__)

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    return Path(os.environ.get("ROBOVLA_CACHE", Path.home() / ".cache" / "robovla" / "episodes"))


def cache_key(source: Path, options: dict[str, Any]) -> str:
    """Identity of a source (every file's name, size, mtime) plus the decode options."""
    source = Path(source).resolve()
    files = sorted(source.rglob("*")) if source.is_dir() else [source]
    ident = [(str(f.relative_to(source) if source.is_dir() else f.name), f.stat().st_size, f.stat().st_mtime_ns)
             for f in files if f.is_file()]
    blob = json.dumps({"v": CACHE_VERSION, "src": str(source), "files": ident, "opt": options}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def save_cached(entry: Path, ep: EpisodeFrames) -> None:
    entry = Path(entry)
    tmp = entry.with_name(entry.name + f".tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    np.save(tmp / "images.npy", np.ascontiguousarray(ep.images))
    np.savez(tmp / "lowdim.npz", timestamps=ep.timestamps, state=ep.state, actions=ep.actions,
             action_valid=ep.action_valid)
    meta = {"episode_id": ep.episode_id, "instruction": ep.instruction, "camera_names": ep.camera_names,
            "source": ep.source, "success": ep.success, "complete": ep.complete, "metadata": ep.metadata}
    (tmp / "meta.json").write_text(json.dumps(meta, sort_keys=True))
    try:
        os.rename(tmp, entry)
    except OSError:  # another process built the same entry first
        shutil.rmtree(tmp, ignore_errors=True)


def load_cached(entry: Path) -> EpisodeFrames | None:
    entry = Path(entry)
    if not (entry / "meta.json").is_file():
        return None
    meta = json.loads((entry / "meta.json").read_text())
    low = np.load(entry / "lowdim.npz")
    return EpisodeFrames(
        episode_id=meta["episode_id"],
        instruction=meta["instruction"],
        timestamps=low["timestamps"],
        images=np.load(entry / "images.npy", mmap_mode="r"),
        camera_names=list(meta["camera_names"]),
        state=low["state"],
        actions=low["actions"],
        action_valid=low["action_valid"],
        source=meta["source"],
        success=bool(meta["success"]),
        complete=bool(meta["complete"]),
        metadata=meta.get("metadata", {}),
    )
