"""Feature statistics in LeRobot v3's layout (docs/data.md, "LeRobot v3.0 format facts").

Why this layout: LeRobot's normalisers read meta/stats.json (its quantile modes raise without
q01/q99) and its aggregate tool merges datasets from the per-episode `stats/...` columns of
meta/episodes. Per episode: min/max/mean/std/count and the q01 q10 q50 q90 q99 quantiles of every
numeric feature over the episode's frames (the quantile is the smallest value whose empirical CDF
reaches q, the definition LeRobot's 5000-bin histogram estimates); for an image or video feature the same per RGB channel,
over a sample of its frames, scaled to [0, 1], shaped (3, 1, 1). The dataset's stats are the
per-episode stats merged as LeRobot merges them (count-weighted means, pooled variance, and
count-weighted means of the quantiles).
"""

from __future__ import annotations

from typing import Any

import numpy as np

QUANTILES: dict[str, float] = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
STAT_KEYS = ("min", "max", "mean", "std", "count", *QUANTILES)


def sample_indices(n: int) -> np.ndarray:
    """The frames LeRobot samples for image stats: n**0.75 of them, at least 100 (or all), at most 10,000."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    k = max(min(100, n), min(int(n ** 0.75), 10_000))
    return np.round(np.linspace(0, n - 1, k)).astype(np.int64)


def _subsample_pixels(imgs: np.ndarray) -> np.ndarray:
    """Large frames (a side >= 300 px) are strided down to about 150 px, as LeRobot does."""
    h, w = imgs.shape[1:3]
    if max(h, w) < 300:
        return imgs
    step = int(w / 150) if w > h else int(h / 150)
    return imgs[:, ::step, ::step]


def vector_stats(x: np.ndarray) -> dict[str, np.ndarray]:
    """Stats of (n,) or (n, d) values over axis 0; a scalar feature gives shape (1,) arrays."""
    x = np.asarray(x)
    x = x.reshape(len(x), -1).astype(np.float64)
    n = len(x)
    if n == 0:
        raise ValueError("no values to compute statistics of")
    out = {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0), "count": np.array([n])}
    if n >= 2:
        qs = np.quantile(x, list(QUANTILES.values()), axis=0, method="inverted_cdf")
    else:  # LeRobot's convention for a single value
        qs = np.repeat(out["mean"][None], len(QUANTILES), 0)
    for i, key in enumerate(QUANTILES):
        out[key] = qs[i]
    return out


def _uint8_quantiles(values: np.ndarray, qs: list[float]) -> np.ndarray:
    """Quantiles of uint8 values from their histogram: exact, O(n), same definition as vector_stats."""
    cum = np.cumsum(np.bincount(values, minlength=256))
    return np.searchsorted(cum, np.asarray(qs) * cum[-1], side="left").astype(np.float64)


def image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel stats of (n, H, W, 3) uint8 RGB frames (a sample of an episode), in [0, 1], shape (3, 1, 1)."""
    frames = _subsample_pixels(np.asarray(frames))
    n = len(frames)
    px = frames.reshape(-1, frames.shape[-1])
    c = px.shape[1]
    f = px.astype(np.float64)
    out: dict[str, np.ndarray] = {
        "min": px.min(0).astype(np.float64), "max": px.max(0).astype(np.float64), "mean": f.mean(0), "std": f.std(0)}
    qv = np.stack([_uint8_quantiles(px[:, ch], list(QUANTILES.values())) for ch in range(c)], axis=1)
    for i, key in enumerate(QUANTILES):
        out[key] = qv[i]
    out = {k: (v / 255.0).reshape(c, 1, 1) for k, v in out.items()}
    out["count"] = np.array([n])
    return out


def aggregate(stats_list: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Merge stats of disjoint parts (episodes) of one feature as LeRobot does."""
    means = np.stack([np.asarray(s["mean"], dtype=np.float64) for s in stats_list])
    var = np.stack([np.asarray(s["std"], dtype=np.float64) ** 2 for s in stats_list])
    counts = np.stack([np.asarray(s["count"], dtype=np.float64).reshape(1) for s in stats_list])  # (E, 1)
    total = counts.sum(0)  # (1,)
    w = counts.reshape((len(counts),) + (1,) * (means.ndim - 1))
    mean = (means * w).sum(0) / total
    variance = ((var + (means - mean) ** 2) * w).sum(0) / total
    out = {"min": np.min(np.stack([s["min"] for s in stats_list]), 0),
           "max": np.max(np.stack([s["max"] for s in stats_list]), 0),
           "mean": mean, "std": np.sqrt(variance), "count": total.astype(np.int64)}
    for key in QUANTILES:
        if all(key in s for s in stats_list):
            out[key] = (np.stack([np.asarray(s[key], dtype=np.float64) for s in stats_list]) * w).sum(0) / total
    return out


def aggregate_features(per_episode: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    keys = {k for ep in per_episode for k in ep}
    return {k: aggregate([ep[k] for ep in per_episode if k in ep]) for k in sorted(keys)}


def to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    return {f: {k: np.asarray(v).tolist() for k, v in s.items()} for f, s in stats.items()}


def episode_columns(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """One episode's stats as meta/episodes columns: `stats/<feature>/<stat>` -> nested lists."""
    return {f"stats/{f}/{k}": np.asarray(v).tolist() for f, s in stats.items() for k, v in s.items()}
