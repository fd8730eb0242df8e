"""Data pipeline throughput: bag decode (first pass) and cached window sampling, frames/s per core.

Writes bench/results/data_<tag>.json and .md. A "frame" is one camera image delivered in a
training window (a sample of T frames x n cameras counts T * n frames).

    source scripts/env.sh && python bench/bench_data.py [--episodes 4] [--seconds 10] [--tag cpu]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from robovla.data.dataset import DataConfig, WindowDataset, collate, load_episodes
from robovla.data.synthetic import write_synthetic_episode

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0, help="episode length")
    ap.add_argument("--camera-hw", type=int, nargs=2, default=(240, 320), help="recorded image size")
    ap.add_argument("--size", type=int, default=224, help="training image size")
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=10)
    ap.add_argument("--measure-s", type=float, default=3.0)
    ap.add_argument("--tag", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(1)  # per-core figures
    res: dict = {"host": platform.node(), "python": platform.python_version(), "torch": torch.__version__,
                 "config": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        n_msgs = 0
        for i in range(args.episodes):
            write_synthetic_episode(root / "bags", f"ep{i}", seed=i, duration_s=args.seconds, camera_rate_hz=30.0,
                                    joint_rate_hz=100.0, image_hw=tuple(args.camera_hw))
            n_msgs += int(args.seconds * 30 + 1) + 3 * int(args.seconds * 100 + 1)
        dt = time.perf_counter() - t
        res["bag_write_msgs_per_s"] = n_msgs / dt
        bag_mb = sum(f.stat().st_size for f in (root / "bags").rglob("*.mcap")) / 2**20
        res["bag_mb"] = bag_mb
        cfg = DataConfig(rate_hz=10.0, window=args.window, chunk=args.chunk, image_size=args.size,
                         cameras=["front"], cache_dir=str(root / "cache"))
        t = time.perf_counter()
        eps = load_episodes(root / "bags", cfg).episodes
        dt = time.perf_counter() - t
        cam_msgs = args.episodes * int(args.seconds * 30 + 1)
        res["first_pass_camera_msgs_per_s"] = cam_msgs / dt  # decode+resize every recorded image, align, cache
        res["first_pass_s"] = dt
        t = time.perf_counter()
        eps = load_episodes(root / "bags", cfg).episodes
        res["cached_open_s"] = time.perf_counter() - t
        ds = WindowDataset(eps, args.window, args.chunk)
        rng = np.random.default_rng(0)
        frames_per_sample = args.window * len(cfg.cameras)
        n = 0
        t = time.perf_counter()
        while time.perf_counter() - t < args.measure_s:
            ds[int(rng.integers(len(ds)))]
            n += 1
        dt = time.perf_counter() - t
        res["cached_samples_per_s"] = n / dt
        res["cached_frames_per_s_per_core"] = n * frames_per_sample / dt
        loader = DataLoader(ds, batch_size=8, shuffle=True, collate_fn=collate, num_workers=0)
        n = 0
        t = time.perf_counter()
        while time.perf_counter() - t < args.measure_s:
            for batch in loader:
                n += batch["images"].shape[0]
                if time.perf_counter() - t >= args.measure_s:
                    break
        dt = time.perf_counter() - t
        res["loader_frames_per_s_per_core"] = n * frames_per_sample / dt
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"data_{args.tag}.json").write_text(json.dumps(res, indent=2))
    md = [
        f"# Data pipeline ({args.tag}, 1 thread, {args.size}x{args.size}, window {args.window}, 1 camera)", "",
        "| measure | value |", "|---|---|",
        f"| bag write (msgs/s, {args.camera_hw[1]}x{args.camera_hw[0]} rgb8 + joints + commands) | {res['bag_write_msgs_per_s']:.0f} |",
        f"| first pass: decode+resize+align+cache (camera msgs/s) | {res['first_pass_camera_msgs_per_s']:.0f} |",
        f"| cached window sampling (frames/s per core) | {res['cached_frames_per_s_per_core']:.0f} |",
        f"| DataLoader batch 8 + collate (frames/s per core) | {res['loader_frames_per_s_per_core']:.0f} |",
        f"| reopen cached dataset (s) | {res['cached_open_s']:.3f} |", "",
        "Goal: >= 2000 frames/s per core once cached.",
    ]
    (RESULTS / f"data_{args.tag}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
