"""Training throughput: samples/s of the real training step (compute_loss + backward + AdamW).

CPU: the `tiny` preset. GPU (when CUDA is available): a full-size-width random PaliGemma-style
backbone in bf16 with the policy head; FLOPs of one step are counted with
torch.utils.flop_counter, so MFU = counted FLOPs / step time / the device's peak bf16 FLOP/s
(set ROBOVLA_PEAK_TFLOPS to override the table). Without a GPU the MFU part records `skipped`.

    source scripts/env.sh && python bench/bench_train.py [--steps 20] [--tag cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from robovla.data.dataset import WindowDataset, collate, episode_actions, load_episodes
from robovla.data.synthetic import write_synthetic_episode
from robovla.model import ActionStats, VLAConfig, build_vla
from robovla.model.config import TinyBackboneConfig
from robovla.train import load_train_config

RESULTS = Path(__file__).resolve().parent / "results"
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "4090": 165.0}


def _steps_per_s(model, batches, steps: int, device: torch.device, autocast: bool) -> float:
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()

    def one(b):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = model.compute_loss(b)
        out["loss"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for b in batches[:2]:  # warm-up
        one(b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(steps):
        one(batches[i % len(batches)])
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t)


def _batches(ds: WindowDataset, bs: int, n: int, device: torch.device) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        idx = torch.randint(len(ds), (bs,), generator=g).tolist()
        b = collate([ds[i] for i in idx])
        out.append({k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in b.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--gpu-batch", type=int, default=4)
    ap.add_argument("--gpu-window", type=int, default=8)
    ap.add_argument("--tag", default=None)
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    tag = args.tag or ("gpu" if cuda else "cpu")
    res: dict = {"host": platform.node(), "torch": torch.__version__, "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(3):
            write_synthetic_episode(root / "bags", f"ep{i}", seed=i, duration_s=4.0, image_hw=(240, 320))
        cfg = load_train_config("tiny", [f"data.cache_dir={root / 'cache'}"])
        eps = load_episodes(root / "bags", cfg.data).episodes
        stats = ActionStats.from_actions(episode_actions(eps))
        cpu = torch.device("cpu")
        model = build_vla(cfg.model, stats)
        ds = WindowDataset(eps, cfg.model.window, cfg.model.chunk)
        sps = _steps_per_s(model, _batches(ds, cfg.batch_size, 4, cpu), args.steps, cpu, autocast=False)
        res["tiny_cpu"] = {"batch": cfg.batch_size, "window": cfg.model.window, "image": cfg.model.image_size,
                           "steps_per_s": sps, "samples_per_s": sps * cfg.batch_size,
                           "parameters": model.parameter_counts()}
        if not cuda:
            res["gpu_mfu"] = {"skipped": "no CUDA device"}
        else:
            dev = torch.device("cuda")
            big = VLAConfig(backbone="paligemma", formulation="policy_head_continuous", head="lstm",
                            window=args.gpu_window, chunk=10, image_size=224, cameras=["front"], finetune="full",
                            head_hidden=1024, head_layers=4,
                            tiny=TinyBackboneConfig(hidden_size=2048, layers=18, heads=8, vision_hidden_size=1152,
                                                    vision_layers=27, patch_size=14, vocab_size=4000))
            cfg_big = cfg.data
            cfg_big.window, cfg_big.chunk, cfg_big.image_size = big.window, big.chunk, 224
            eps_big = load_episodes(root / "bags", cfg_big).episodes
            gm = build_vla(big, stats).to(dev)
            batches = _batches(WindowDataset(eps_big, big.window, big.chunk), args.gpu_batch, 4, dev)
            from torch.utils.flop_counter import FlopCounterMode

            with FlopCounterMode(display=False) as fc:
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    out = gm.compute_loss(batches[0])
                out["loss"].backward()
            gm.zero_grad(set_to_none=True)
            flops = fc.get_total_flops()
            sps = _steps_per_s(gm, batches, args.steps, dev, autocast=True)
            name = torch.cuda.get_device_name()
            peak = float(os.environ.get("ROBOVLA_PEAK_TFLOPS", 0)) or next(
                (v for k, v in PEAK_BF16_TFLOPS.items() if k in name), float("nan"))
            res["gpu_mfu"] = {"device": name, "batch": args.gpu_batch, "window": big.window,
                              "flops_per_step": flops, "steps_per_s": sps, "samples_per_s": sps * args.gpu_batch,
                              "achieved_tflops": flops * sps / 1e12, "peak_tflops": peak,
                              "mfu": flops * sps / 1e12 / peak, "parameters": gm.parameter_counts()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"train_{tag}.json").write_text(json.dumps(res, indent=2))
    t = res["tiny_cpu"]
    md = [f"# Training throughput ({tag})", "", "| measure | value |", "|---|---|",
          f"| tiny preset, CPU ({res['threads']} threads), batch {t['batch']} x window {t['window']} | "
          f"{t['samples_per_s']:.1f} samples/s |"]
    g = res["gpu_mfu"]
    if "skipped" in g:
        md.append(f"| full-width bf16 MFU | skipped: {g['skipped']} |")
    else:
        md += [f"| full-width bf16 on {g['device']}, batch {g['batch']} x window {g['window']} | "
               f"{g['samples_per_s']:.1f} samples/s |",
               f"| MFU (counted FLOPs / peak {g['peak_tflops']} TFLOP/s) | {100 * g['mfu']:.1f} % |"]
    (RESULTS / f"train_{tag}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
