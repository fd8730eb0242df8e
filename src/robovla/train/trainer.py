"""The training loop behind `robovla train` and the TrainPolicy action.

Recipe (RoboVLMs): with a base checkpoint of another embodiment the default is post-training —
load it, keep every weight that fits, re-initialise what does not (e.g. a different chunk),
replace the action statistics with the target data's, fine-tune on the target episodes.
`recipe: co_train` instead mixes cross-embodiment data into every batch at `co_train_ratio`.

Run directory::

    train_config.yaml  run.json   resolved config, data dirs, base checkpoint (fixed at first start)
    state/step_NNNNNNN/           accelerate state (model, optimizer, scheduler, RNG) + trainer_state.json
    best/ final/ stopped/         checkpoints in robovla.model's format (load_vla / load_policy)
    tb/                           TensorBoard logs;  metrics.jsonl  result.json
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader
from tqdm import tqdm

from robovla.data.augment import drop_instruction_words
from robovla.data.dataset import WindowDataset, collate, episode_actions, load_episodes, split_episodes
from robovla.model import ActionStats, VLAConfig, VLAModel, build_vla, load_vla
from robovla.model.checkpoint import read_checkpoint_config
from robovla.train.config import TrainConfig
from robovla.train.sampler import MixedBatchSampler

log = logging.getLogger(__name__)

#: Model fields a post-training run takes from the preset; the rest comes from the base checkpoint.
EMBODIMENT_FIELDS = ("window", "chunk", "cameras", "dt", "finetune", "lora_r", "lora_alpha", "lora_dropout",
                     "lora_targets", "lora_modules", "arm_loss", "huber_delta", "arm_loss_weight",
                     "gripper_loss_weight", "gripper_pos_weight", "seed")


class TrainingError(RuntimeError):
    """Training cannot start or continue; the message says why (data, checkpoint, config)."""


@dataclass
class TrainProgress:
    epoch: int
    step: int
    total_steps: int
    loss: float
    eta_s: float
    state: str  # loading | training | validating | saving | done
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    success: bool
    message: str
    run_dir: str
    checkpoint_dir: str = ""
    steps_done: int = 0
    final_loss: float = float("nan")
    val_metrics: dict[str, float] = field(default_factory=dict)
    stopped: bool = False
    data_problems: list[str] = field(default_factory=list)


class _LossModule(nn.Module):
    """forward(batch) -> loss dict, so DDP/FSDP wrappers see a forward call."""

    def __init__(self, model: VLAModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        return self.model.compute_loss(batch)


def resolve_model_config(cfg: TrainConfig, base_checkpoint: str | None, model_overrides: dict[str, Any]) -> VLAConfig:
    """Post-training keeps the base's architecture and takes the embodiment fields from the preset."""
    if not base_checkpoint:
        return cfg.model
    try:
        base_cfg, base_stats = read_checkpoint_config(base_checkpoint)
    except (FileNotFoundError, ValueError) as exc:
        raise TrainingError(f"base checkpoint {base_checkpoint}: {exc}") from exc
    if base_cfg.action_dim != cfg.model.action_dim or base_stats.dim != cfg.model.action_dim:
        raise TrainingError(
            f"base checkpoint {base_checkpoint} predicts {base_cfg.action_dim}-D actions (statistics: "
            f"{base_stats.dim}-D) but this data has {cfg.model.action_dim}-D actions "
            "(dx dy dz droll dpitch dyaw gripper); convert the base's action space or train from scratch")
    changes = {k: getattr(cfg.model, k) for k in EMBODIMENT_FIELDS}
    changes.update({k: v for k, v in model_overrides.items() if k in VLAConfig.__dataclass_fields__})
    return base_cfg.replace(**changes)


def _batch_to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


def _atomic_save_checkpoint(model: VLAModel, target: Path) -> Path:
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_checkpoint(tmp)
    old = target.with_name(target.name + ".old")
    if target.exists():
        if old.exists():
            shutil.rmtree(old)
        os.rename(target, old)
    os.rename(tmp, target)
    if old.exists():
        shutil.rmtree(old)
    return target


def latest_state(run_dir: Path) -> Path | None:
    states = sorted((run_dir / "state").glob("step_*[0-9]")) if (run_dir / "state").is_dir() else []
    states = [s for s in states if (s / "trainer_state.json").is_file()]
    return states[-1] if states else None


@torch.no_grad()
def evaluate(model: VLAModel, loader: DataLoader | None, max_batches: int, device: torch.device) -> dict[str, float]:
    """Mean validation metrics (normalised action MSE, gripper accuracy, loss) over fixed batches."""
    if loader is None:
        return {}
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    for i, batch in enumerate(loader):
        if i >= max_batches:
            break
        out = model.compute_loss(_batch_to(batch, device))
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v)
        n += 1
    model.train(was_training)
    if n == 0:
        return {}
    m = {k: v / n for k, v in sums.items()}
    return {"val_loss": m["loss"], "val_action_mse": m.get("action_mse", float("nan")),
            "val_gripper_accuracy": m.get("gripper_acc", float("nan")),
            **{f"val_{k}": v for k, v in m.items() if k not in ("loss", "action_mse", "gripper_acc")}}


def run_training(cfg: TrainConfig, data_dirs: list[str], out_dir: str | Path, base_checkpoint: str | None = None,
                 *, model_overrides: dict[str, Any] | None = None,
                 on_progress: Callable[[TrainProgress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, show_progress: bool = True) -> TrainResult:
    """Train (post-train with a base checkpoint) and return where the chosen checkpoint is.

    An existing run directory is resumed from its last saved state with its saved configuration and
    the same data order. `should_stop` is polled every step: when true the state and a `stopped/`
    checkpoint are saved and the run returns with stopped=True.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    run = Path(out_dir)
    run.mkdir(parents=True, exist_ok=True)
    progress = on_progress or (lambda p: None)
    stop = should_stop or (lambda: False)
    resume_from = latest_state(run)
    if resume_from is not None:
        saved = json.loads((run / "run.json").read_text())
        cfg = TrainConfig.from_dict(yaml.safe_load((run / "train_config.yaml").read_text()))
        data_dirs, base_checkpoint = saved["data_dirs"], saved["base_checkpoint"]
        model_cfg = VLAConfig.from_dict(saved["model"])
        log.info("resuming %s from %s (saved configuration and data order)", run, resume_from.name)
    else:
        model_cfg = resolve_model_config(cfg, base_checkpoint, model_overrides or {})
    # windows must match the model actually trained
    cfg.data.window, cfg.data.chunk, cfg.data.image_size = model_cfg.window, model_cfg.chunk, model_cfg.image_size
    cfg.data.cameras, cfg.data.rate_hz = list(model_cfg.cameras), 1.0 / model_cfg.dt
    cfg.data.require_state = bool(model_cfg.state_input)
    recipe = cfg.recipe if cfg.recipe != "auto" else ("post_train" if base_checkpoint else "scratch")
    if recipe == "co_train" and not cfg.co_train_data:
        raise TrainingError("recipe co_train needs co_train_data (cross-embodiment dataset dirs)")

    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.grad_accum,
                              cpu=not torch.cuda.is_available())
    main = accelerator.is_main_process
    progress(TrainProgress(0, 0, cfg.steps, float("nan"), float("nan"), "loading"))

    report = load_episodes(data_dirs, cfg.data)
    if not report.episodes:
        raise TrainingError(f"no usable episodes in {data_dirs}: " + "; ".join(report.problems[:5]))
    train_eps, val_eps = split_episodes(report.episodes, cfg.data.val_fraction, cfg.data.split_seed)
    co_eps = []
    if recipe == "co_train":
        co_report = load_episodes(cfg.co_train_data, cfg.data)
        co_eps = co_report.episodes
        report.problems += co_report.problems
        if not co_eps:
            raise TrainingError(f"no usable co-training episodes in {cfg.co_train_data}")
    stats = ActionStats.from_actions(episode_actions(train_eps + co_eps))
    train_ds = WindowDataset(train_eps, model_cfg.window, model_cfg.chunk, cfg.data.stride)
    sources = [train_ds]
    counts = [cfg.batch_size]
    if co_eps:
        n_co = max(1, min(cfg.batch_size - 1, round(cfg.co_train_ratio * cfg.batch_size)))
        sources.append(WindowDataset(co_eps, model_cfg.window, model_cfg.chunk, cfg.data.stride))
        counts = [cfg.batch_size - n_co, n_co]

    set_seed(cfg.seed)
    try:
        if base_checkpoint:
            model = load_vla(base_checkpoint, adapt_config=model_cfg, action_stats=stats)
        else:
            model = build_vla(model_cfg, stats)
    except (ValueError, FileNotFoundError) as exc:
        raise TrainingError(f"cannot build the model ({'base ' + base_checkpoint if base_checkpoint else 'scratch'}):"
                            f" {exc}") from exc
    model.action_stats = stats
    if resume_from is None and main:
        (run / "train_config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        (run / "run.json").write_text(json.dumps({
            "data_dirs": [str(d) for d in data_dirs], "base_checkpoint": base_checkpoint, "recipe": recipe,
            "model": model_cfg.to_dict(), "train_episodes": [e.episode_id for e in train_eps],
            "val_episodes": [e.episode_id for e in val_eps], "co_train_episodes": len(co_eps),
            "parameters": model.parameter_counts()}, indent=2))
    head_ids = {id(p) for m in model.fresh_modules() for p in m.parameters()}
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if id(p) not in head_ids], "lr": cfg.lr},
              {"params": [p for p in params if id(p) in head_ids], "lr": cfg.head_lr or cfg.lr}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=cfg.weight_decay)

    def lr_lambda(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        frac = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))  # cosine to 10 %

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    wrapped = _LossModule(model)
    # the schedule counts optimizer steps of the global batch: not prepared, because accelerate's
    # prepared scheduler steps once per process on each step (the cosine ran out at half the run
    # with 2 ranks); saved and restored with the state all the same
    wrapped, optimizer = accelerator.prepare(wrapped, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    step = 0
    best = float("inf")
    best_metrics: dict[str, float] = {}
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        ts = json.loads((resume_from / "trainer_state.json").read_text())
        step, best, best_metrics = int(ts["step"]), float(ts["best"]), ts["best_metrics"]
    world = accelerator.num_processes
    if resume_from is not None and int(ts.get("world", world)) != world:
        # the data order is numbered in global batches of world x grad_accum x batch_size: another
        # world size would skip or repeat data and change the batch the learning rate was set for
        raise TrainingError(f"{run} was trained with {ts['world']} process(es) and is resumed with {world}: "
                            f"resume it with the same number (e.g. torchrun --nproc_per_node {ts['world']} "
                            "-m robovla.cli.main train ...)")
    sampler = MixedBatchSampler([len(s) for s in sources], counts, seed=cfg.seed,
                                start=step * cfg.grad_accum * world, rank=accelerator.process_index, world=world)
    loader = DataLoader(ConcatDataset(sources), batch_sampler=sampler, collate_fn=collate,
                        num_workers=cfg.num_workers, pin_memory=torch.cuda.is_available())
    val_loader = (DataLoader(WindowDataset(val_eps, model_cfg.window, model_cfg.chunk, max(1, cfg.data.stride)),
                             batch_size=cfg.batch_size, shuffle=False, collate_fn=collate) if val_eps else None)
    writer = None
    if main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run / "tb"))
    metrics_file = run / "metrics.jsonl"
    device = accelerator.device
    inner: VLAModel = accelerator.unwrap_model(wrapped).model

    def save_state(tag_step: int) -> None:
        # every rank writes its own RNG state into tmp: the stale tmp of a killed run goes before
        # anyone writes, and tmp is renamed only once all ranks have written (without the middle
        # barrier rank 0 moved the directory under rank 1, which died mid-save)
        target = run / "state" / f"step_{tag_step:07d}"
        tmp = run / "state" / f"step_{tag_step:07d}.tmp"
        if main and tmp.exists():
            shutil.rmtree(tmp)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
        if main:
            (tmp / "trainer_state.json").write_text(json.dumps(
                {"step": tag_step, "best": best, "best_metrics": best_metrics, "world": world}))
            if target.exists():
                shutil.rmtree(target)
            os.rename(tmp, target)
            for old in sorted((run / "state").glob("step_*[0-9]"))[: -cfg.keep_states]:
                shutil.rmtree(old, ignore_errors=True)
        accelerator.wait_for_everyone()

    def validate() -> dict[str, float]:
        nonlocal best, best_metrics
        progress(TrainProgress(sampler.epoch_of(step * cfg.grad_accum * world), step, cfg.steps, last_loss,
                               float("nan"), "validating"))
        m = evaluate(inner, val_loader, cfg.val_batches, device)
        if m and main:
            for k, v in m.items():
                writer.add_scalar(f"val/{k}", v, step)
            with metrics_file.open("a") as f:
                f.write(json.dumps({"step": step, **m}) + "\n")
            if m["val_action_mse"] < best:
                best, best_metrics = m["val_action_mse"], {**m, "step": step}
                _atomic_save_checkpoint(inner, run / "best")
            log.info("step %d validation: %s", step, ", ".join(f"{k}={v:.4g}" for k, v in m.items()))
        return m

    wrapped.train()
    last_loss = float("nan")
    t_start = time.monotonic()
    start_step = step
    bar = tqdm(total=cfg.steps, initial=step, desc="train", unit="step", disable=not (main and show_progress))
    it = iter(loader)
    stopped = False
    window_losses: list[float] = []
    while step < cfg.steps:
        if stop():
            stopped = True
            break
        for micro in range(cfg.grad_accum):
            batch = next(it)
            # seeded by the global batch number the sampler dealt this rank: a resumed run drops the
            # same words, and so does a 1-process run accumulating what 2 ranks take at once
            # (p = 0 leaves them as they are)
            rng = np.random.default_rng((cfg.seed, (step * cfg.grad_accum + micro) * world + accelerator.process_index))
            batch["instruction"] = drop_instruction_words(batch["instruction"], cfg.data.instruction_word_dropout, rng)
            batch = _batch_to(batch, device)
            with accelerator.accumulate(wrapped):
                out = wrapped(batch)
                accelerator.backward(out["loss"])
                if accelerator.sync_gradients and cfg.grad_clip > 0:
                    accelerator.clip_grad_norm_(wrapped.parameters(), cfg.grad_clip)
                optimizer.step()
                optimizer.zero_grad()
            window_losses.append(float(out["loss"].detach()))
        scheduler.step()
        step += 1
        last_loss = sum(window_losses[-cfg.grad_accum:]) / cfg.grad_accum
        if world > 1:  # the loss of the global batch, not rank 0's share of it
            last_loss = float(accelerator.reduce(torch.tensor(last_loss, device=device), reduction="mean"))
        bar.update(1)
        elapsed = time.monotonic() - t_start
        eta = elapsed / max(1, step - start_step) * (cfg.steps - step)
        epoch = sampler.epoch_of(step * cfg.grad_accum * world)
        if step % cfg.log_every == 0 or step == cfg.steps:
            bar.set_postfix(loss=f"{last_loss:.4f}", epoch=epoch)
            if main:
                with metrics_file.open("a") as f:
                    f.write(json.dumps({"step": step, "train_loss": last_loss, "lr": scheduler.get_last_lr()[0]}) + "\n")
                writer.add_scalar("train/loss", last_loss, step)
                writer.add_scalar("train/lr", scheduler.get_last_lr()[0], step)
                for k in ("arm_loss", "gripper_loss", "action_mse", "gripper_acc"):
                    if k in out:
                        writer.add_scalar(f"train/{k}", float(out[k]), step)
            progress(TrainProgress(epoch, step, cfg.steps, last_loss, eta, "training"))
        if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
            validate()
        if cfg.save_every and step % cfg.save_every == 0 and step < cfg.steps:
            progress(TrainProgress(epoch, step, cfg.steps, last_loss, eta, "saving"))
            save_state(step)
    bar.close()
    if not stopped:
        validate()
    progress(TrainProgress(sampler.epoch_of(step * cfg.grad_accum * world), step, cfg.steps, last_loss, 0.0, "saving"))
    save_state(step)
    final = run / ("stopped" if stopped else "final")
    if main:
        _atomic_save_checkpoint(inner, final)
    chosen = run / "best" if (run / "best").is_dir() and not stopped else final
    metrics = best_metrics if chosen.name == "best" else evaluate(inner, val_loader, cfg.val_batches, device)
    if writer is not None:
        writer.close()
    result = TrainResult(success=True, message=("stopped on request; state saved" if stopped else
                                                f"trained {step} steps ({recipe})"),
                         run_dir=str(run), checkpoint_dir=str(chosen), steps_done=step, final_loss=last_loss,
                         val_metrics={k: float(v) for k, v in metrics.items()}, stopped=stopped,
                         data_problems=report.problems)
    if main:
        (run / "result.json").write_text(json.dumps(asdict(result), indent=2))
        _link_checkpoint(run, chosen)
    progress(TrainProgress(sampler.epoch_of(step * cfg.grad_accum * world), step, cfg.steps, last_loss, 0.0,
                           "done", result.val_metrics))
    log.info("%s; checkpoint %s", result.message, chosen)
    return result


def _link_checkpoint(run: Path, chosen: Path) -> None:
    """RUN/checkpoint -> the checkpoint the run chose (best or final): one path to deploy or
    evaluate (`robovla eval --policy RUN/checkpoint`) whatever the run's validation did."""
    link = run / "checkpoint"
    tmp = run / ".checkpoint.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(chosen.name, target_is_directory=True)
    tmp.replace(link)
