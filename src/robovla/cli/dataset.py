"""`robovla dataset`: inspect, check, export and import LeRobot v3 datasets.

    robovla dataset info DIR                      what a LeRobot dataset (or episode-bag root) holds
    robovla dataset validate DIR                  check it against LeRobot's format facts (exit 1 on a problem)
    robovla dataset export-lerobot --data BAGS --out DIR
    robovla dataset import-lerobot DIR --camera-map laptop=front   decode into the training cache

import-lerobot decodes the dataset into robovla's episode cache with the data options of a
training preset, so a later `robovla train --preset P --data DIR` with the same options starts
from the cache.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def name_map(items: list[str] | None, what: str) -> dict[str, str]:
    """THEIRS=OURS pairs as a dict; a malformed pair is a clear error."""
    out: dict[str, str] = {}
    for item in items or []:
        for pair in item.split(","):
            theirs, sep, ours = pair.partition("=")
            if not sep or not theirs.strip() or not ours.strip():
                raise ValueError(f"{what} {pair!r} is not THEIRS=OURS (e.g. laptop=front)")
            out[theirs.strip()] = ours.strip()
    return out


def add_lerobot_options(p: argparse.ArgumentParser) -> None:
    """The LeRobot mapping options shared by `train` and `dataset import-lerobot`."""
    p.add_argument("--camera-map", nargs="+", metavar="THEIRS=OURS", default=None,
                   help="LeRobot datasets: their camera (e.g. laptop or observation.images.laptop) -> ours (front)")
    p.add_argument("--feature-map", nargs="+", metavar="THEIRS=OURS", default=None,
                   help="LeRobot datasets: their feature -> ours (action, observation.state)")
    p.add_argument("--action-space", choices=("auto", "ee_delta"), default=None,
                   help="LeRobot datasets: ee_delta declares actions whose names are missing or ambiguous to be "
                        "end-effector deltas in robovla's order (joint-space names are always refused)")


def lerobot_overrides(args: argparse.Namespace) -> list[str]:
    """The mapping options as `data.*` config overrides."""
    out = []
    if args.camera_map:
        out.append(f"data.camera_map={json.dumps(name_map(args.camera_map, '--camera-map'))}")
    if args.feature_map:
        out.append(f"data.feature_map={json.dumps(name_map(args.feature_map, '--feature-map'))}")
    if args.action_space:
        out.append(f"data.action_space={args.action_space}")
    return out


def register(subparsers: Any, help_text: str) -> None:
    p = subparsers.add_parser("dataset", help=help_text, description=__doc__.splitlines()[0],
                              epilog="\n".join(__doc__.splitlines()[1:]),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    i = sub.add_parser("info", help="what a LeRobot dataset or episode-bag root holds")
    i.add_argument("path")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=run_info)
    v = sub.add_parser("validate", help="check a LeRobot dataset against the format LeRobot reads")
    v.add_argument("path")
    v.add_argument("--no-videos", action="store_true", help="skip opening the video files")
    v.set_defaults(func=run_validate)
    e = sub.add_parser("export-lerobot", help="episode bags (or a LeRobot dataset) -> a LeRobot v3.0 dataset",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("--data", nargs="+", required=True, metavar="DIR", help="episode bags / recording roots")
    e.add_argument("--out", required=True, help="new dataset directory")
    e.add_argument("--cameras", default="front", help="comma-separated cameras to export")
    e.add_argument("--image-size", type=int, default=224, help="exported frame size (square)")
    e.add_argument("--fps", type=int, default=10, help="frame rate (episodes are resampled to it)")
    e.add_argument("--images", action="store_true", help="PNG images in the parquet files instead of mp4 videos")
    e.add_argument("--robot-type", default=None,
                   help="LeRobot robot_type (default: from the bags' robot tag, e.g. kinova_gen3, franka_panda)")
    e.add_argument("--include-failures", action="store_true", help="also export unsuccessful episodes")
    e.add_argument("--cache-dir", default=None, help="episode cache (default $ROBOVLA_CACHE)")
    e.set_defaults(func=run_export)
    m = sub.add_parser("import-lerobot", help="decode a LeRobot dataset into the training cache",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    m.add_argument("path")
    m.add_argument("--preset", default="tiny", help="training preset whose data options to use")
    m.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset field as `robovla train --set` does")
    add_lerobot_options(m)
    m.set_defaults(func=run_import)


def _is_lerobot(path: Path) -> bool:
    return (path / "meta" / "info.json").is_file()


def run_info(args: argparse.Namespace) -> int:
    from robovla.data.bag_reader import EpisodeError

    path = Path(args.path)
    if _is_lerobot(path):
        from robovla.data.lerobot_check import describe_lerobot

        try:
            desc = describe_lerobot(path)
        except EpisodeError as exc:
            log.error("%s", exc)
            return 1
    else:
        from robovla.data.bag_reader import find_episode_bags

        try:
            bags = find_episode_bags(path)
        except FileNotFoundError as exc:
            log.error("%s", exc)
            return 1
        desc = {"path": str(path), "format": "rosbag2 episodes", "episodes": len(bags),
                "first": [str(b) for b in bags[:5]]}
    if args.json:
        print(json.dumps(desc, indent=2))
    else:
        for k, val in desc.items():
            if isinstance(val, dict):
                print(f"{k}:")
                for kk, vv in val.items():
                    print(f"  {kk}: {vv}")
            else:
                print(f"{k}: {val}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from robovla.data.lerobot_check import validate_lerobot

    path = Path(args.path)
    if not _is_lerobot(path):
        log.error("%s is not a LeRobot dataset (no meta/info.json)", path)
        return 1
    problems = validate_lerobot(path, check_videos=not args.no_videos)
    for p in problems:
        print(f"problem: {p}")
    print(f"{path}: " + ("valid LeRobot v3.0 dataset" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


def run_export(args: argparse.Namespace) -> int:
    from robovla.data.dataset import DataConfig, load_episodes
    from robovla.data.lerobot import export_lerobot

    cams = [c for c in args.cameras.split(",") if c]
    cfg = DataConfig(rate_hz=float(args.fps), image_size=args.image_size, cameras=cams, cache_dir=args.cache_dir,
                     include_incomplete=False, only_successful=not args.include_failures)
    report = load_episodes(args.data, cfg)
    for problem in report.problems:
        log.warning("data: %s", problem)
    if not report.episodes:
        log.error("no usable episodes in %s", args.data)
        return 1
    try:
        out = export_lerobot(report.episodes, args.out, fps=args.fps, robot_type=args.robot_type,
                             use_videos=not args.images, progress=sys.stderr.isatty())
    except (FileExistsError, ValueError) as exc:
        log.error("%s", exc)
        return 1
    print(json.dumps({"dataset": str(out), "episodes": len(report.episodes),
                      "frames": sum(len(e) for e in report.episodes), "skipped": len(report.problems)}, indent=2))
    return 0


def run_import(args: argparse.Namespace) -> int:
    from robovla.data.dataset import load_episodes
    from robovla.train.config import load_train_config

    path = Path(args.path)
    if not _is_lerobot(path):
        log.error("%s is not a LeRobot dataset (no meta/info.json)", path)
        return 1
    try:
        cfg = load_train_config(args.preset, list(args.overrides) + lerobot_overrides(args))
    except (FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 1
    t = time.perf_counter()
    report = load_episodes([path], cfg.data)
    dt = time.perf_counter() - t
    for problem in report.problems:
        log.error("%s", problem)
    frames = sum(len(e) for e in report.episodes)
    print(json.dumps({"dataset": str(path), "episodes": len(report.episodes), "frames": frames,
                      "problems": len(report.problems), "seconds": round(dt, 2),
                      "image_size": cfg.data.image_size, "cameras": cfg.data.cameras}, indent=2))
    return 0 if report.episodes else 1
