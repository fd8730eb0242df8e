"""Training windows from recorded episodes: the sample format robovla.model consumes.

One sample is the window of T frames ending at frame t, each with the chunk of k future raw
actions starting at that frame (see the preamble contract in robovla.policy.types):
images (T, n_cams, H, W, 3) uint8, state (T, 8), actions (T, k, 7), action_mask (T, k),
valid (T,), instruction. Windows at an episode start are padded by repeating frame 0
(valid=False), exactly like the live ObservationWindow, so training and deployment agree.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from robovla.data.align import EpisodeFrames, align_episode
from robovla.data.bag_reader import EpisodeError, find_episode_bags, read_episode_bag
from robovla.data.cache import cache_key, default_cache_dir, load_cached, save_cached

log = logging.getLogger(__name__)


@dataclass
class DataConfig:
    """How episodes become windows; loadable from the `data:` section of a train preset."""

    rate_hz: float = 10.0  # policy step = 1 / rate_hz (VLAConfig.dt)
    window: int = 8  # T
    chunk: int = 10  # k
    image_size: int = 224
    cameras: list[str] = field(default_factory=lambda: ["front"])  # the sim's and recorder's name
    val_fraction: float = 0.1
    split_seed: int = 0
    cache_dir: str | None = None  # None: $ROBOVLA_CACHE or ~/.cache/robovla/episodes
    include_incomplete: bool = False  # salvaged / unfinished episodes
    only_successful: bool = False
    stride: int = 1  # sample every `stride`-th window end
    instruction_word_dropout: float = 0.0  # training batches only (robovla.data.augment says why)
    # LeRobot datasets (robovla.data.lerobot): their camera (short name or key) -> ours, their feature -> ours
    camera_map: dict[str, str] = field(default_factory=dict)
    feature_map: dict[str, str] = field(default_factory=dict)
    action_space: str = "auto"  # "ee_delta": actions with missing/ambiguous names are end-effector deltas
    require_state: bool = False  # set from model.state_input: a dataset without robovla's state is refused

    def __post_init__(self) -> None:
        if self.window < 1 or self.chunk < 1:
            raise ValueError(f"window and chunk must be >= 1, got {self.window}, {self.chunk}")
        if not 0.0 <= self.instruction_word_dropout < 1.0:
            raise ValueError(f"instruction_word_dropout must be in [0, 1), got {self.instruction_word_dropout}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        for name in ("camera_map", "feature_map"):
            value = getattr(self, name) or {}
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in value.items()):
                raise ValueError(f"{name} must map names to names (THEIRS: OURS), got {value!r}")
            setattr(self, name, dict(value))
        if self.action_space not in ("auto", "ee_delta"):
            raise ValueError(f"action_space must be 'auto' or 'ee_delta', got {self.action_space!r}")


@dataclass
class LoadReport:
    """What happened to every source: used episodes and the problems (file + reason) of the rest."""

    episodes: list[EpisodeFrames] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _is_lerobot(path: Path) -> bool:
    return (path / "meta" / "info.json").is_file()


def _load_source(path: Path, cfg: DataConfig, cache_root: Path, problems: list[str]) -> list[EpisodeFrames]:
    opts: dict[str, Any] = {"rate": cfg.rate_hz, "size": cfg.image_size, "cams": list(cfg.cameras)}
    lerobot = _is_lerobot(path)
    if lerobot:
        opts.update(camera_map=cfg.camera_map, feature_map=cfg.feature_map, action_space=cfg.action_space,
                    require_state=cfg.require_state)
    entry_root = cache_root / cache_key(path, opts)
    done = entry_root / "DONE"
    if done.is_file():
        eps = [load_cached(p) for p in sorted(entry_root.iterdir()) if p.is_dir() and ".tmp" not in p.name]
        skipped = entry_root / "PROBLEMS"
        if skipped.is_file():
            problems.extend(json.loads(skipped.read_text()))
        return [e for e in eps if e is not None]
    entry_root.mkdir(parents=True, exist_ok=True)
    if lerobot:
        from robovla.data.lerobot import iter_lerobot

        # streamed: each episode goes to the cache (memory-mapped) before the next is decoded
        found: list[str] = []
        n = 0
        for ep in iter_lerobot(path, cameras=cfg.cameras, image_size=cfg.image_size, camera_map=cfg.camera_map,
                               feature_map=cfg.feature_map, action_space=cfg.action_space,
                               require_state=cfg.require_state, on_problem=found.append, progress=True):
            if abs(ep.metadata.get("rate_hz", cfg.rate_hz) - cfg.rate_hz) > 1e-6 and n == 0:
                log.warning("LeRobot dataset %s runs at %g fps, the model at %g Hz: one action label is one "
                            "dataset frame, not one model step", path, ep.metadata["rate_hz"], cfg.rate_hz)
            save_cached(entry_root / f"{n:05d}", ep)
            n += 1
        problems.extend(found)
        if found:
            (entry_root / "PROBLEMS").write_text(json.dumps(found))
    else:
        size = (cfg.image_size, cfg.image_size)
        raw = read_episode_bag(path, image_size=size, cameras=list(cfg.cameras))
        save_cached(entry_root / f"{0:05d}", align_episode(raw, cfg.rate_hz, list(cfg.cameras)))
        n = 1
    done.write_text("ok\n")
    return [e for e in (load_cached(entry_root / f"{i:05d}") for i in range(n)) if e is not None]


def load_episodes(data: list[str | Path] | str | Path, cfg: DataConfig) -> LoadReport:
    """Every usable episode under the given dirs (bag episodes, recording roots, LeRobot v3 datasets).

    A bad bag (corrupt, truncated, missing topic, zero length) is logged with its path and skipped;
    the others still load.
    """
    roots = [Path(d) for d in ([data] if isinstance(data, (str, Path)) else data)]
    cache_root = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    sources: list[Path] = []
    report = LoadReport()
    for root in roots:
        if _is_lerobot(root):
            sources.append(root)
            continue
        try:
            found = find_episode_bags(root)
        except FileNotFoundError as exc:
            report.problems.append(str(exc))
            log.error("%s", exc)
            continue
        if not found:
            msg = f"no episode bags found under {root}"
            report.problems.append(msg)
            log.warning(msg)
        sources.extend(found)
    for src in tqdm(sources, desc="episodes", unit="ep", disable=len(sources) < 4, leave=False):
        try:
            eps = _load_source(src, cfg, cache_root, report.problems)
        except (EpisodeError, OSError, ValueError) as exc:
            report.problems.append(str(exc))
            log.warning("skipping %s", exc)
            continue
        for ep in eps:
            if not ep.complete and not cfg.include_incomplete:
                msg = f"episode {ep.episode_id} ({ep.source}) is incomplete (interrupted recording); skipped"
                report.problems.append(msg)
                log.warning(msg)
                continue
            if cfg.only_successful and not ep.success:
                continue
            if not ep.action_valid.any():
                msg = f"episode {ep.episode_id} ({ep.source}) has no action labels (zero-length); skipped"
                report.problems.append(msg)
                log.warning(msg)
                continue
            report.episodes.append(ep)
    log.info("loaded %d episodes (%d frames); %d problem(s)", len(report.episodes),
             sum(len(e) for e in report.episodes), len(report.problems))
    return report


def split_episodes(episodes: list[EpisodeFrames], val_fraction: float, seed: int = 0
                   ) -> tuple[list[EpisodeFrames], list[EpisodeFrames]]:
    """Split by episode (never by frame: neighbouring frames are near duplicates), stable by id."""
    if val_fraction <= 0 or len(episodes) < 2:
        return list(episodes), []

    def score(ep: EpisodeFrames) -> str:
        return hashlib.sha1(f"{seed}:{ep.episode_id}:{ep.source}".encode()).hexdigest()

    ranked = sorted(episodes, key=score)
    n_val = min(len(episodes) - 1, max(1, int(round(val_fraction * len(episodes)))))
    val_ids = {id(e) for e in ranked[:n_val]}
    return [e for e in episodes if id(e) not in val_ids], [e for e in episodes if id(e) in val_ids]


def episode_actions(episodes: list[EpisodeFrames]) -> np.ndarray:
    """(N, 7) every valid raw action label (the input of ActionStats.from_actions)."""
    arrs = [e.actions[e.action_valid] for e in episodes]
    return np.concatenate(arrs, axis=0) if arrs else np.zeros((0, 7), dtype=np.float32)


class WindowDataset(Dataset):
    """Windows of T frames with k-step action chunks over a list of aligned episodes."""

    def __init__(self, episodes: list[EpisodeFrames], window: int, chunk: int, stride: int = 1) -> None:
        if not episodes:
            raise ValueError("WindowDataset needs at least one episode")
        cams = episodes[0].camera_names
        for ep in episodes:
            if ep.camera_names != cams:
                raise ValueError(f"episode {ep.episode_id} has cameras {ep.camera_names}, expected {cams}")
        self.episodes = episodes
        self.window = window
        self.chunk = chunk
        index = []
        for e, ep in enumerate(episodes):
            ends = np.flatnonzero(ep.action_valid)[::stride]
            index.append(np.stack([np.full(len(ends), e), ends], axis=1))
        self.index = np.concatenate(index, axis=0).astype(np.int64)
        self._offsets = np.arange(window) - (window - 1)
        self._future = np.arange(chunk)

    def __len__(self) -> int:
        return int(len(self.index))

    def sample(self, i: int) -> dict[str, Any]:
        """The window as numpy arrays (used by the benchmark and the LeRobot export)."""
        e, t = self.index[i]
        ep = self.episodes[e]
        n = len(ep)
        idx = t + self._offsets
        valid = idx >= 0
        idx = np.maximum(idx, 0)
        fut = idx[:, None] + self._future[None, :]
        fut_c = np.minimum(fut, n - 1)
        mask = (fut < n) & ep.action_valid[fut_c] & valid[:, None]
        actions = ep.actions[fut_c] * mask[..., None]
        return {
            "images": np.asarray(ep.images[idx]),
            "state": ep.state[idx],
            "actions": actions.astype(np.float32),
            "action_mask": mask,
            "valid": valid,
            "instruction": ep.instruction,
        }

    def __getitem__(self, i: int) -> dict[str, Any]:
        s = self.sample(i)
        return {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in s.items()}


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a list of samples; `instruction` becomes list[str]."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        vals = [s[key] for s in samples]
        out[key] = torch.stack(vals) if isinstance(vals[0], torch.Tensor) else list(vals)
    return out
