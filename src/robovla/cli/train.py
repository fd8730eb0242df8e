"""`robovla train`: post-train (default with --base-checkpoint) or train a VLA on recorded episodes."""

from __future__ import annotations

import argparse
import json
import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any, help_text: str) -> None:
    p = subparsers.add_parser(
        "train", help=help_text, description=(
            "Train a VLA on rosbag2 episode directories / recording roots / LeRobot v3 datasets (cameras and "
            "features of other names through --camera-map / --feature-map). With "
            "--base-checkpoint the run post-trains a checkpoint of another embodiment (RoboVLMs' best recipe). "
            "An existing --out directory is resumed from its last saved state with the same data order. "
            "Multi-GPU: `accelerate launch -m robovla.cli.main train ...`."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="episode bags, recording roots or LeRobot dirs")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory (checkpoints, TensorBoard logs)")
    p.add_argument("--base-checkpoint", metavar="DIR", default=None, help="checkpoint to post-train from")
    p.add_argument("--preset", default="tiny", help="config/train/<NAME>.yaml or a YAML path")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the preset's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset field, e.g. --set lr=1e-4 --set model.window=8 (repeatable)")
    p.add_argument("--co-train", nargs="+", default=None, metavar="DIR",
                   help="co-train: mix these cross-embodiment dirs into every batch (see --set co_train_ratio=)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar (logs only)")
    p.add_argument("--node", action="store_true",
                   help="send the job to a running trainer node (ros2 launch robovla train.launch.py) as a "
                        "TrainPolicy goal and print its feedback; paths are the trainer machine's")
    from robovla.cli.dataset import add_lerobot_options

    add_lerobot_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from robovla.cli.dataset import lerobot_overrides
    from robovla.train import TrainingError, load_train_config, run_training
    from robovla.train.config import parse_overrides

    overrides = list(args.overrides)
    if args.co_train:
        overrides += ["recipe=co_train", f"co_train_data={json.dumps(args.co_train)}"]
    try:
        overrides += lerobot_overrides(args)
        if args.node:
            return _run_on_node(args, overrides)
        cfg = load_train_config(args.preset, overrides, args.steps)
        model_overrides = {k.split(".", 1)[1]: v for k, v in parse_overrides(args.overrides) if k.startswith("model.")}
        result = run_training(cfg, args.data, args.out, args.base_checkpoint, model_overrides=model_overrides,
                              show_progress=not args.no_progress)
    except (TrainingError, FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 1
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # a data-parallel job's other ranks: the result is rank 0's to report
    for problem in result.data_problems:
        log.warning("data: %s", problem)
    print(json.dumps({"checkpoint": result.checkpoint_dir, "steps": result.steps_done,
                      "final_loss": result.final_loss, **result.val_metrics}, indent=2))
    return 0


def _run_on_node(args: argparse.Namespace, overrides: list[str]) -> int:
    from robovla.nodes.common.train_client import train_via_node

    def show(fb: Any) -> None:
        print(f"[{fb.state}] step {fb.step}/{fb.total_steps} loss {fb.loss:.4f} eta {fb.eta_s:.0f} s", flush=True)

    try:
        res = train_via_node(args.data, str(args.out), args.base_checkpoint or "", args.preset, args.steps or 0,
                             overrides, on_feedback=None if args.no_progress else show)
    except RuntimeError as exc:
        log.error("%s", exc)
        return 1
    print(json.dumps({"success": res.success, "message": res.message, "checkpoint": res.checkpoint_dir,
                      "steps": res.steps_done, "final_loss": res.final_loss, **json.loads(res.metrics_json or "{}")},
                     indent=2))
    return 0 if res.success else 1
