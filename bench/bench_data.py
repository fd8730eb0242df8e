"""Data pipeline throughput: bag decode (first pass) and cached window sampling, frames/s per core.

Writes bench/results/data_<tag>.json and .md. A "frame" is one camera image delivered in a
training window (a sample of T frames x n cameras counts T * n frames).

    source scripts/env.sh && python bench/bench_data.py [--episodes 4] [--seconds 10] [--tag cpu]

`--lerobot` instead measures importing a LeRobot v3 dataset packed as published ones are (many
episodes per mp4): it builds one (default 200 episodes x 500 frames, 64x64, a few mp4 files),
imports it into the episode cache in a child process and reports that process's peak RSS and
frames/s (bench/results/data_lerobot_import.json and .md; goal: peak RSS < 2 GB).

    source scripts/env.sh && python bench/bench_data.py --lerobot [--lr-episodes 200] [--lr-frames 500]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from robovla.data.dataset import DataConfig, WindowDataset, collate, load_episodes
from robovla.data.synthetic import write_synthetic_episode

RESULTS = Path(__file__).resolve().parent / "results"


def _synthetic_episodes(n_eps: int, n_frames: int, hw: int) -> Iterator:
    """Moving gradients plus fixed sensor noise: compresses like camera video, costs nothing to make."""
    from robovla.data.align import EpisodeFrames

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 12, size=(64, hw, hw, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:hw, 0:hw]
    k = np.arange(n_frames)[:, None, None]
    for e in range(n_eps):
        imgs = np.empty((n_frames, 1, hw, hw, 3), np.uint8)
        imgs[:, 0, ..., 0] = ((xx[None] + 2 * k + e) % 64) * 4
        imgs[:, 0, ..., 1] = ((yy[None] + k) % 64) * 4
        imgs[:, 0, ..., 2] = (3 * k + 7 * e) % 256
        imgs[:, 0] += noise[np.arange(n_frames) % 64]
        valid = np.ones(n_frames, bool)
        valid[-1] = False
        yield EpisodeFrames(f"ep{e}", f"task {e % 10}", np.arange(n_frames) / 10.0, imgs, ["front"],
                            rng.normal(size=(n_frames, 8)).astype(np.float32),
                            rng.normal(scale=0.01, size=(n_frames, 7)).astype(np.float32), valid, success=True)


def _import_child(dataset: str, cache: str, size: int) -> None:
    """Runs in its own process so its peak RSS is the import's alone (plus the interpreter and torch)."""
    from robovla.data.dataset import DataConfig, load_episodes

    cfg = DataConfig(rate_hz=10.0, image_size=size, cameras=["front"], cache_dir=cache)
    t = time.perf_counter()
    rep = load_episodes([dataset], cfg)
    dt = time.perf_counter() - t
    frames = sum(len(e) for e in rep.episodes)
    print(json.dumps({"import_s": dt, "episodes": len(rep.episodes), "frames": frames, "problems": rep.problems,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def lerobot_case(args: argparse.Namespace) -> None:
    from robovla.data.lerobot import export_lerobot

    res: dict = {"host": platform.node(), "python": platform.python_version(), "torch": torch.__version__,
                 "config": {k: v for k, v in vars(args).items() if k.startswith("lr_") and k != "lr_tmp"}}
    with tempfile.TemporaryDirectory(dir=args.lr_tmp) as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        ds = export_lerobot(_synthetic_episodes(args.lr_episodes, args.lr_frames, args.lr_hw), root / "ds", fps=10,
                            video_files_size_in_mb=args.lr_video_mb, crf=23)
        res["build_s"] = time.perf_counter() - t
        videos = sorted((ds / "videos").rglob("*.mp4"))
        res["video_files"] = len(videos)
        res["video_mb"] = sum(v.stat().st_size for v in videos) / 2**20
        res["episodes_per_file"] = args.lr_episodes / max(1, len(videos))
        out = subprocess.run([sys.executable, __file__, "--import-child", str(ds), str(root / "cache"),
                              str(args.lr_size)], capture_output=True, text=True, check=True)
        child = json.loads(out.stdout.strip().splitlines()[-1])
        res.update(child)
        res["import_frames_per_s"] = child["frames"] / child["import_s"]
        res["cache_gb"] = sum(f.stat().st_size for f in (root / "cache").rglob("*") if f.is_file()) / 2**30
        out = subprocess.run([sys.executable, __file__, "--import-child", str(ds), str(root / "cache"),
                              str(args.lr_size)], capture_output=True, text=True, check=True)
        again = json.loads(out.stdout.strip().splitlines()[-1])
        res["cached_reopen_s"] = again["import_s"]
        res["cached_reopen_peak_rss_mb"] = again["peak_rss_mb"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"data_lerobot_import{args.tag_suffix}.json").write_text(json.dumps(res, indent=2))
    n = args.lr_episodes * args.lr_frames
    md = [
        f"# LeRobot v3 import ({n} frames, {args.lr_episodes} episodes, {args.lr_hw}x{args.lr_hw} h264 in "
        f"{res['video_files']} mp4 files, to {args.lr_size}x{args.lr_size})", "",
        "| measure | value |", "|---|---|",
        f"| build the dataset (export_lerobot, s) | {res['build_s']:.1f} |",
        f"| mp4 files / total MB / episodes per file | {res['video_files']} / {res['video_mb']:.1f} / "
        f"{res['episodes_per_file']:.0f} |",
        f"| import into the episode cache (s) | {res['import_s']:.1f} |",
        f"| import frames/s | {res['import_frames_per_s']:.0f} |",
        f"| import peak RSS (MB, whole process incl. torch) | {res['peak_rss_mb']:.0f} |",
        f"| reopen from the cache (s) / its peak RSS (MB) | {res['cached_reopen_s']:.2f} / "
        f"{res['cached_reopen_peak_rss_mb']:.0f} |",
        f"| cache on disk (GB) | {res['cache_gb']:.2f} |", "",
        "Goal: peak RSS < 2 GB (2048 MB). Episodes are decoded one at a time over their own frame range",
        "and written to the memory-mapped cache before the next; 2 shared cores.",
    ]
    (RESULTS / f"data_lerobot_import{args.tag_suffix}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--import-child":
        _import_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0, help="episode length")
    ap.add_argument("--camera-hw", type=int, nargs=2, default=(240, 320), help="recorded image size")
    ap.add_argument("--size", type=int, default=224, help="training image size")
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=10)
    ap.add_argument("--measure-s", type=float, default=3.0)
    ap.add_argument("--tag", default="cpu")
    ap.add_argument("--lerobot", action="store_true", help="the LeRobot import case instead")
    ap.add_argument("--lr-episodes", type=int, default=200)
    ap.add_argument("--lr-frames", type=int, default=500, help="frames per episode")
    ap.add_argument("--lr-hw", type=int, default=64, help="recorded frame size")
    ap.add_argument("--lr-size", type=int, default=64, help="training image size imported to")
    ap.add_argument("--lr-video-mb", type=float, default=12.0, help="mp4 file size limit (LeRobot's default: 200)")
    ap.add_argument("--lr-tmp", default=None, help="directory for the dataset and cache (needs ~2 GB)")
    ap.add_argument("--tag-suffix", default="", help="appended to the LeRobot results' file names")
    args = ap.parse_args()
    if args.lerobot:
        lerobot_case(args)
        return
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
