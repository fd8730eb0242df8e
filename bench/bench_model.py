#!/usr/bin/env python3
"""Benchmark VLAPolicy.step(): latency and VLM calls per step, per backbone x formulation.

Always: tiny random configs on CPU (float32). With --full and a CUDA GPU: full-size random-weight
PaliGemma-3B and KosMos-2, policy head, window 16, bf16, comparing the cached step() against
recomputing the whole window every step (the RoboVLMs way). Without CUDA the --full part is
skipped and recorded as skipped. With --full-cpu: the same full-size models on the CPU in bf16,
one policy step and one LoRA training step (batch 1, the whole window through the VLM, AdamW)
each, with time and peak memory, so that real-size shape and memory problems show on any machine
before a GPU user meets them (slow: minutes per model on 2 cores).

    source scripts/env.sh && python bench/bench_model.py [--steps 20] [--full] [--full-cpu] [--backbones ...]

Writes bench/results/model_latency.json and .md.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from tqdm import tqdm

from robovla.model import BACKBONES, FORMULATIONS, VLAConfig, VLAModel, build_vla
from robovla.model.backbones import adapter_class
from robovla.model.backbones.tiny import tiny_tokenizer
from robovla.policy.types import Observation, ObservationWindow
from robovla.policy.vla import VLAPolicy

RESULTS = Path(__file__).resolve().parent / "results"
log = logging.getLogger("bench_model")


def _obs(cfg: VLAConfig, i: int) -> Observation:
    rng = np.random.default_rng(i)
    imgs = {c: rng.integers(0, 256, (cfg.image_size, cfg.image_size, 3), dtype=np.uint8) for c in cfg.cameras}
    return Observation(stamp=i * cfg.dt, images=imgs, joint_positions=np.zeros(7), gripper=0.0,
                       ee_pose=np.array([0.4, 0, 0.3, 0, 0, 0, 1.0]), episode_id="bench")


def _window(obs: list[Observation], n: int) -> ObservationWindow:
    real = obs[-n:]
    pad = n - len(real)
    return ObservationWindow(observations=tuple([real[0]] * pad + real),
                             valid=np.array([False] * pad + [True] * len(real)))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(model: VLAModel, steps: int, device: str = "cpu", dtype: Any = None, warmup: int = 2,
            recompute: bool = False) -> dict[str, Any]:
    """Steady-state step() latency over a sliding window (each step adds one new frame)."""
    policy = VLAPolicy(model, device=device, dtype=dtype)
    cfg, bb = model.cfg, model.backbone
    obs = [_obs(cfg, i) for i in range(warmup + steps + cfg.window)]
    policy.reset()
    # fill the window first so the measured steps are in steady state
    for i in range(1, cfg.window + warmup + 1):
        policy.step(_window(obs[:i], cfg.window), "pick up the red block")
    times, calls, frames = [], [], []
    for i in range(cfg.window + warmup + 1, cfg.window + warmup + steps + 1):
        w = _window(obs[:i], cfg.window)
        c0, f0 = bb.vlm_calls, bb.vlm_images
        _sync(policy.device)
        t0 = time.perf_counter()
        if recompute:  # no cache: every frame of the window through the VLM again
            imgs = torch.from_numpy(np.stack([np.stack([o.images[c] for c in cfg.cameras])
                                              for o in w.observations]))[None]
            model.predict(imgs, torch.as_tensor(w.valid)[None], "pick up the red block")
        else:
            policy.step(w, "pick up the red block")
        _sync(policy.device)
        times.append(time.perf_counter() - t0)
        calls.append(bb.vlm_calls - c0)
        frames.append((bb.vlm_images - f0) / len(cfg.cameras))
    return {
        "mode": "recompute" if recompute else "cached_step",
        "ms_median": round(1e3 * statistics.median(times), 3),
        "ms_p90": round(1e3 * float(np.percentile(times, 90)), 3),
        "vlm_calls_per_step": statistics.mean(calls),
        "vlm_frames_per_step": statistics.mean(frames),
        "steps": steps,
    }


def bench_tiny(backbones: list[str], formulations: list[str], steps: int, window: int) -> list[dict[str, Any]]:
    rows = []
    for b, f in tqdm([(b, f) for b in backbones for f in formulations], desc="tiny cpu", file=sys.stderr):
        one = f.startswith("one_step")
        cfg = VLAConfig(backbone=b, formulation=f, window=1 if one else window, chunk=4, image_size=64,
                        head="lstm", head_hidden=64, head_layers=1, finetune="full", pretrained=None)
        model = build_vla(cfg)
        r = measure(model, steps)
        rows.append({"backbone": b, "formulation": f, "window": cfg.window, "chunk": cfg.chunk, "device": "cpu",
                     "dtype": "float32", "hf_class": model.backbone.hf_class_name,
                     "params": model.parameter_counts()["total"], **r})
        if f == "policy_head_continuous":
            r2 = measure(model, steps, recompute=True)
            rows.append({**rows[-1], **r2})
    return rows


def full_size_model(backbone: str, window: int, device: str = "cuda", finetune: str = "full",
                    activation_checkpointing: bool = False) -> VLAModel:
    """Full-size architecture with random weights built directly on `device` in bf16 (no download)."""
    from transformers import GemmaConfig, Kosmos2Config, PaliGemmaConfig, SiglipVisionConfig

    cls = adapter_class(backbone)
    tok = tiny_tokenizer()
    if backbone == "paligemma":
        hf_cfg = PaliGemmaConfig(
            vision_config=SiglipVisionConfig(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                                             num_attention_heads=16, image_size=224, patch_size=14,
                                             vision_use_head=False),
            text_config=GemmaConfig(vocab_size=257216, hidden_size=2048, intermediate_size=16384,
                                    num_hidden_layers=18, num_attention_heads=8, num_key_value_heads=1,
                                    head_dim=256),
            image_token_index=tok.convert_tokens_to_ids("<image>"), projection_dim=2048, hidden_size=2048,
            vocab_size=257216,
        )
    elif backbone == "kosmos2":
        hf_cfg = Kosmos2Config()  # defaults are microsoft/kosmos-2-patch14-224's sizes
    else:
        raise ValueError(f"no full-size benchmark config for {backbone}")
    with torch.device(device):
        hf = cls.hf_class._from_config(hf_cfg, dtype=torch.bfloat16)
        adapter = cls(hf, tok, cls.tiny_image_processor(224), 224)
        cfg = VLAConfig(backbone=backbone, formulation="policy_head_continuous", head="lstm", window=window,
                        chunk=10, image_size=224, head_hidden=1024, head_layers=4, finetune=finetune, dtype="bfloat16",
                        activation_checkpointing=activation_checkpointing)
        model = VLAModel(cfg, adapter, None)
    return model


class PeakRSS:
    """Peak resident memory of this process over a phase, sampled every 20 ms (ru_maxrss never resets)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096 / 2**20

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.now_mb())

    def __enter__(self) -> "PeakRSS":
        self.peak = self.now_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now_mb())


def _train_batch(cfg: VLAConfig) -> dict[str, Any]:
    """One window of random frames and actions, as data.dataset.collate lays out a batch of 1."""
    g = torch.Generator().manual_seed(0)
    t, k, n_cams = cfg.window, cfg.chunk, len(cfg.cameras)
    batch = {
        "images": torch.randint(0, 256, (1, t, n_cams, cfg.image_size, cfg.image_size, 3), dtype=torch.uint8, generator=g),
        "actions": torch.rand(1, t, k, cfg.action_dim, generator=g) * 2 - 1,
        "action_mask": torch.ones(1, t, k, dtype=torch.bool),
        "valid": torch.ones(1, t, dtype=torch.bool),
        "instruction": ["pick up the red block"],
    }
    if cfg.state_input:
        batch["state"] = torch.zeros(1, t, 8)
    return batch


def bench_full_cpu(backbones: list[str], window: int, grad_checkpointing: bool) -> list[dict[str, Any]]:
    """Full-size models on the CPU in bf16: one policy step, one LoRA training step; time and peak RSS."""
    rows = []
    for b in backbones:
        with PeakRSS() as build_mem:
            t0 = time.perf_counter()
            model = full_size_model(b, window, device="cpu", finetune="lora", activation_checkpointing=grad_checkpointing)
            build_s = time.perf_counter() - t0
        counts = model.parameter_counts()
        row: dict[str, Any] = {"backbone": b, "hf_class": model.backbone.hf_class_name, "window": window,
                               "chunk": model.cfg.chunk, "dtype": "bfloat16", "device": "cpu",
                               "cpu_threads": torch.get_num_threads(), "params": counts["total"],
                               "trainable": counts.get("trainable"), "build_s": round(build_s, 1),
                               "rss_after_build_mb": round(build_mem.peak), "grad_checkpointing": grad_checkpointing}
        policy = VLAPolicy(model, device="cpu", dtype=torch.bfloat16)
        obs = [_obs(model.cfg, i) for i in range(2)]
        policy.reset()
        with PeakRSS() as mem, torch.no_grad():
            t0 = time.perf_counter()
            policy.step(_window(obs[:1], window), "pick up the red block")  # first frame: empty cache
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            policy.step(_window(obs[:2], window), "pick up the red block")  # one new frame through the VLM
            row.update(infer_first_s=round(first, 2), infer_step_s=round(time.perf_counter() - t0, 2),
                       infer_peak_rss_mb=round(mem.peak))
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4)
        batch = _train_batch(model.cfg)
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):  # as the trainer's mixed_precision: bf16 does
                loss = model.compute_loss(batch)["loss"]
            fwd = time.perf_counter() - t0
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            row.update(train_step_s=round(time.perf_counter() - t0, 1), train_forward_s=round(fwd, 1),
                       train_peak_rss_mb=round(mem.peak), loss_finite=bool(torch.isfinite(loss).item()))
        log.info("full-size cpu %s: %s", b, row)
        rows.append(row)
        del model, policy, opt, params, loss
    return rows


def bench_full(steps: int, window: int) -> list[dict[str, Any]]:
    if not torch.cuda.is_available():
        log.warning("--full: no CUDA device, skipping the full-size GPU benchmark")
        return [{"backbone": b, "skipped": "no CUDA device"} for b in ("paligemma", "kosmos2")]
    rows = []
    for b in ("paligemma", "kosmos2"):
        model = full_size_model(b, window)
        base = {"backbone": b, "formulation": "policy_head_continuous", "window": window, "chunk": 10,
                "device": torch.cuda.get_device_name(0), "dtype": "bfloat16", "hf_class": model.backbone.hf_class_name,
                "params": model.parameter_counts()["total"]}
        cached = measure(model, steps, device="cuda", dtype=torch.bfloat16, warmup=3)
        full = measure(model, max(3, steps // 4), device="cuda", dtype=torch.bfloat16, warmup=1, recompute=True)
        rows += [{**base, **cached}, {**base, **full,
                                      "speedup_vs_recompute": round(full["ms_median"] / cached["ms_median"], 2)}]
        del model
        torch.cuda.empty_cache()
    return rows


def full_cpu_isolated(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One process per backbone: freed weights stay in the allocator, so a second model measured in
    the same process would carry the first one's memory in its peak."""
    import subprocess
    import tempfile

    rows = []
    for b in args.full_backbones:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "one.json"
            cmd = [sys.executable, __file__, "--skip-tiny", "--full-cpu", "--full-backbones", b,
                   "--full-window", str(args.full_window), "--out", str(out)]
            subprocess.run(cmd + (["--grad-checkpointing"] if args.grad_checkpointing else []), check=True)
            rows += json.loads(out.read_text())["full_cpu"]
    return rows


def to_markdown(report: dict[str, Any]) -> str:
    lines = [f"# VLAPolicy.step() latency ({report['host']}, torch {report['torch']}, "
             f"transformers {report['transformers']})", ""]
    for section in ("tiny_cpu", "full_gpu"):
        rows = report.get(section) or []
        if not rows:
            continue
        lines += [f"## {section}", ""]
        if all("skipped" in r for r in rows):
            lines += [f"- {r['backbone']}: skipped ({r['skipped']})" for r in rows] + [""]
            continue
        lines += ["| backbone | formulation | window | mode | ms median | ms p90 | VLM calls/step | VLM frames/step |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if "skipped" in r:
                continue
            lines.append(f"| {r['backbone']} | {r['formulation']} | {r['window']} | {r['mode']} | {r['ms_median']} | "
                         f"{r['ms_p90']} | {r['vlm_calls_per_step']:g} | {r['vlm_frames_per_step']:g} |")
        lines.append("")
    if report.get("full_cpu"):
        lines += ["## full_cpu (full-size, random weights, bf16, LoRA on the language model, batch 1)", "",
                  "| backbone | params | trainable | window | grad ckpt | build (s) | RSS after build (MB) | "
                  "first step (s) | step, 1 new frame (s) | infer peak RSS (MB) | train step (s) | of it forward (s) | "
                  "train peak RSS (MB) |", "|---" * 13 + "|"]
        for r in report["full_cpu"]:
            lines.append(f"| {r['backbone']} | {r['params'] / 1e9:.2f} B | {(r['trainable'] or 0) / 1e6:.1f} M | "
                         f"{r['window']} | {r['grad_checkpointing']} | {r['build_s']} | {r['rss_after_build_mb']} | "
                         f"{r['infer_first_s']} | {r['infer_step_s']} | {r['infer_peak_rss_mb']} | {r['train_step_s']} | "
                         f"{r['train_forward_s']} | {r['train_peak_rss_mb']} |")
        lines.append("")
        lines.append(f"{report['full_cpu'][0]['cpu_threads']} CPU threads. Command: `{report.get('command', '')}`")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=20, help="measured steps per configuration")
    p.add_argument("--window", type=int, default=8, help="window of the tiny multi-frame formulations")
    p.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=BACKBONES)
    p.add_argument("--formulations", nargs="+", default=list(FORMULATIONS), choices=FORMULATIONS)
    p.add_argument("--full", action="store_true", help="also full-size PaliGemma-3B / KosMos-2 on CUDA (bf16)")
    p.add_argument("--full-window", type=int, default=16)
    p.add_argument("--full-cpu", action="store_true", help="full-size models on the CPU in bf16: one step, one LoRA train step")
    p.add_argument("--full-backbones", nargs="+", default=["paligemma", "kosmos2"], choices=["paligemma", "kosmos2"])
    p.add_argument("--grad-checkpointing", action="store_true", help="--full-cpu: model.activation_checkpointing")
    p.add_argument("--skip-tiny", action="store_true", help="only the full-size parts")
    p.add_argument("--out", type=Path, default=RESULTS / "model_latency.json")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    transformers.logging.set_verbosity_error()
    logging.getLogger("robovla.model.vla").setLevel(logging.ERROR)
    torch.manual_seed(0)
    report: dict[str, Any] = {
        "host": platform.node() or "host", "cpu_threads": torch.get_num_threads(), "torch": torch.__version__,
        "transformers": transformers.__version__,
        "command": "python bench/bench_model.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "tiny_cpu": [] if args.skip_tiny else bench_tiny(args.backbones, args.formulations, args.steps, args.window),
    }
    if args.full_cpu and len(args.full_backbones) == 1:
        report["full_cpu"] = bench_full_cpu(args.full_backbones, args.full_window, args.grad_checkpointing)
    elif args.full_cpu:
        report["full_cpu"] = full_cpu_isolated(args)
    if args.full:
        report["full_gpu"] = bench_full(args.steps, args.full_window)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    args.out.with_suffix(".md").write_text(to_markdown(report))
    log.info("wrote %s and %s", args.out, args.out.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
