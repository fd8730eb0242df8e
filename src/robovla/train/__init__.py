"""Offline training: post-training from cross-embodiment checkpoints (the default), co-training,
from scratch; accelerate for DDP/FSDP/bf16/accumulation; resumable runs.

    from robovla.train import load_train_config, run_training
    result = run_training(load_train_config("tiny"), ["bags/"], "runs/a", base_checkpoint="ckpt/")
"""

from robovla.train.config import TrainConfig, list_presets, load_train_config
from robovla.train.trainer import TrainingError, TrainProgress, TrainResult, run_training

__all__ = ["TrainConfig", "TrainProgress", "TrainResult", "TrainingError", "list_presets", "load_train_config",
           "run_training"]
