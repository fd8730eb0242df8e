"""Trainer: tiny preset trains, kill+resume reproduces an uninterrupted run, post-training, co-training, stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cli_helpers import install_env
from robovla.cli.main import main as cli_main
from robovla.data.dataset import DataConfig, load_episodes
from robovla.data.lerobot import export_lerobot
from robovla.data.synthetic import write_synthetic_episode
from robovla.model import VLAConfig, build_vla, load_vla
from robovla.model.action_space import ActionStats
from robovla.train import TrainingError, load_train_config, run_training
from robovla.train.sampler import MixedBatchSampler



@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("train_data")
    for i in range(4):
        write_synthetic_episode(root / "bags", f"ep{i}", seed=i, duration_s=2.0, image_hw=(48, 64),
                                instruction="wave the arm")
    return {"bags": root / "bags", "cache": root / "cache", "root": root}


def _cfg(data: dict[str, Path], steps: int, *extra: str):
    return load_train_config("tiny", [f"data.cache_dir={data['cache']}", *extra], steps=steps)


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return load_file(str(ckpt / "model.safetensors"))


def test_sampler_is_resumable_and_mixes() -> None:
    full = MixedBatchSampler([10, 7], [3, 1], seed=5)
    it = iter(full)
    first = [next(it) for _ in range(12)]
    resumed = iter(MixedBatchSampler([10, 7], [3, 1], seed=5, start=5))
    assert [next(resumed) for _ in range(7)] == first[5:]
    for b in first:
        assert sum(i < 10 for i in b) == 3 and sum(i >= 10 for i in b) == 1
    # every target sample once per epoch
    assert sorted(i for b in first[:10] for i in b if i < 10) == sorted(list(range(10)) * 3)
    ranks = [iter(MixedBatchSampler([10, 7], [3, 1], seed=5, rank=r, world=2)) for r in range(2)]
    assert [next(ranks[0]), next(ranks[1]), next(ranks[0])] == first[:3]


def test_kill_and_resume_matches_uninterrupted_run(data: dict[str, Path], tmp_path: Path) -> None:
    # word dropout on: a resumed run must drop the same words as the uninterrupted one
    steps, extra = 16, ["save_every=4", "eval_every=4", "data.instruction_word_dropout=0.5"]
    ref = run_training(_cfg(data, steps, *extra), [str(data["bags"])], tmp_path / "ref", show_progress=False)
    assert ref.steps_done == steps and Path(ref.checkpoint_dir).is_dir()
    assert (tmp_path / "ref" / "tb").is_dir() and (tmp_path / "ref" / "metrics.jsonl").is_file()
    assert {"val_action_mse", "val_gripper_accuracy"} <= set(ref.val_metrics)

    run = tmp_path / "killed"
    _kill_after_state(_train_cmd(data, run, steps, *extra), run, 4)
    resumed = run_training(_cfg(data, steps, *extra), [str(data["bags"])], run, show_progress=False)
    assert resumed.steps_done == steps
    a, b = _weights(tmp_path / "ref" / "final"), _weights(run / "final")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=f"tensor {k} differs after resume")
    # and training really moved the weights away from their (seeded) initialisation
    init = build_vla(_cfg(data, steps).model, ActionStats.identity(7)).state_dict()
    moved = [k for k in a if k in init and init[k].shape == a[k].shape and not torch.allclose(init[k], a[k])]
    assert any(k.startswith("head.") for k in moved) and any(k.startswith("backbone.") for k in moved)
    policy_model = load_vla(run / "final")
    assert policy_model.cfg.window == 4 and policy_model.action_stats.dim == 7


def test_post_training_from_another_embodiment(data: dict[str, Path], tmp_path: Path) -> None:
    # a "cross-embodiment" base: other cameras, other chunk, other action statistics
    base_cfg = VLAConfig(window=2, chunk=5, image_size=64, cameras=["wrist"], finetune="full", head_hidden=32,
                         head_layers=1, max_instruction_tokens=16)
    base = build_vla(base_cfg, ActionStats.identity(7))
    base.save_checkpoint(tmp_path / "base")
    res = run_training(_cfg(data, 2, "lr=1e-7", "eval_every=0", "save_every=0"), [str(data["bags"])],
                       tmp_path / "post", base_checkpoint=str(tmp_path / "base"), show_progress=False)
    run = json.loads((tmp_path / "post" / "run.json").read_text())
    assert run["recipe"] == "post_train" and run["base_checkpoint"] == str(tmp_path / "base")
    assert run["model"]["chunk"] == 3 and run["model"]["cameras"] == ["front"]
    tuned = load_vla(res.checkpoint_dir)
    assert tuned.action_stats.to_dict() != ActionStats.identity(7).to_dict()  # the target's statistics
    base_w, tuned_w = base.state_dict(), tuned.state_dict()
    shared = [k for k in base_w if k.startswith("backbone.") and k in tuned_w]
    assert shared
    # backbone weights come from the base (lr 1e-7: barely moved), not a fresh initialisation
    assert all(torch.allclose(base_w[k], tuned_w[k], atol=1e-4) for k in shared)


def test_base_with_other_action_dims_is_refused(data: dict[str, Path], tmp_path: Path) -> None:
    cfg8 = VLAConfig(window=2, chunk=3, image_size=64, cameras=["front"], action_dim=8, finetune="full",
                     head_hidden=16, head_layers=1)
    build_vla(cfg8, ActionStats.identity(8)).save_checkpoint(tmp_path / "base8")
    with pytest.raises(TrainingError, match=r"base8 predicts 8-D actions.*7-D"):
        run_training(_cfg(data, 1), [str(data["bags"])], tmp_path / "r8", base_checkpoint=str(tmp_path / "base8"))
    assert cli_main(["train", "--data", str(data["bags"]), "--out", str(tmp_path / "r8cli"), "--steps", "1",
                     "--base-checkpoint", str(tmp_path / "base8"), "--set", f"data.cache_dir={data['cache']}"]) == 1


def test_co_training_and_stop_request(data: dict[str, Path], tmp_path: Path) -> None:
    cross = export_lerobot(load_episodes(data["bags"] / "ep0", DataConfig(
        image_size=64, cameras=["front"], cache_dir=str(data["cache"]))).episodes, tmp_path / "oxe_like", fps=10)
    polls = {"n": 0}

    def should_stop() -> bool:
        polls["n"] += 1
        return polls["n"] > 3

    seen = []
    res = run_training(_cfg(data, 10, "recipe=co_train", f"co_train_data=[{cross}]", "co_train_ratio=0.5"),
                       [str(data["bags"])], tmp_path / "co", should_stop=should_stop, on_progress=seen.append,
                       show_progress=False)
    assert res.stopped and res.steps_done == 3
    assert Path(res.checkpoint_dir).name == "stopped" and (tmp_path / "co" / "stopped" / "model.safetensors").is_file()
    assert (tmp_path / "co" / "state" / "step_0000003" / "trainer_state.json").is_file()
    assert json.loads((tmp_path / "co" / "run.json").read_text())["co_train_episodes"] == 1
    assert {p.state for p in seen} >= {"loading", "saving", "done"}
    # the stopped run resumes where it stopped
    res2 = run_training(_cfg(data, 10), [str(data["bags"])], tmp_path / "co", show_progress=False)
    assert res2.steps_done == 10 and not res2.stopped


def test_no_usable_data_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainingError, match="no usable episodes"):
        run_training(load_train_config("tiny", [f"data.cache_dir={tmp_path}/c"]), [str(tmp_path / "empty")],
                     tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="nosuch"):
        load_train_config("nosuch")
    with pytest.raises(ValueError, match="unknown training option"):
        load_train_config("tiny", ["stepz=3"])


def _train_cmd(data: dict[str, Path], run: Path, steps: int, *sets: str, ranks: int = 1) -> list[str]:
    """`robovla train` as a user runs it: plain, or under torchrun with `ranks` CPU processes (gloo)."""
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks)]
                if ranks > 1 else [sys.executable])
    return [*launcher, "-m", "robovla.cli.main", "train", "--data", str(data["bags"]), "--out", str(run),
            "--preset", "tiny", "--steps", str(steps), "--no-progress", "--set", f"data.cache_dir={data['cache']}",
            *[a for s in sets for a in ("--set", s)]]


def _kill_after_state(cmd: list[str], run: Path, step: int, timeout_s: float = 300) -> None:
    """Start `cmd` (a training job: a process, or a launcher and its ranks) and SIGKILL all of it
    once the state of `step` is saved."""
    proc = subprocess.Popen(cmd, env=install_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while not (run / "state" / f"step_{step:07d}" / "trainer_state.json").is_file():
            assert proc.poll() is None, "the training job died before its first saved state"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert not (run / "result.json").exists(), "the run finished before it could be killed"


def _train_losses(run: Path) -> list[float]:
    """Train loss per step from metrics.jsonl (the last record of a step: a resumed run logs it again)."""
    by_step: dict[int, float] = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "train_loss" in rec:
            by_step[rec["step"]] = rec["train_loss"]
    return [by_step[s] for s in sorted(by_step)]


def test_two_process_ddp_matches_one_process_and_resumes_exactly(data: dict[str, Path], tmp_path: Path) -> None:
    # 2 ranks x batch 4 vs 1 process x batch 4 x 2 accumulated: the same global batches (sampler
    # order and word dropout are numbered in global batches), the same schedule, the same result
    steps, sets = 8, ("batch_size=4", "log_every=1", "save_every=4", "eval_every=0",
                      "data.instruction_word_dropout=0.3")
    one = subprocess.run(_train_cmd(data, tmp_path / "one", steps, *sets, "grad_accum=2"), env=install_env(),
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run(_train_cmd(data, tmp_path / "two", steps, *sets, ranks=2), env=install_env(),
                         capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "state" / "step_0000008" / "trainer_state.json").read_text())["world"] == 2
    l1, l2 = _train_losses(tmp_path / "one"), _train_losses(tmp_path / "two")
    assert len(l1) == len(l2) == steps and l1 != [l1[0]] * steps
    torch.testing.assert_close(torch.tensor(l2), torch.tensor(l1), rtol=1e-5, atol=1e-6)
    a, b = _weights(tmp_path / "one" / "final"), _weights(tmp_path / "two" / "final")
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-4, msg=f"tensor {k}: 2 ranks != 1 process")

    # the 2-rank job killed (launcher and ranks) after its step-4 state, then resumed under torchrun
    run = tmp_path / "killed"
    _kill_after_state(_train_cmd(data, run, steps, *sets, ranks=2), run, 4)
    refused = subprocess.run(_train_cmd(data, run, steps, *sets), env=install_env(), capture_output=True,
                             text=True, timeout=600)
    assert refused.returncode != 0 and "trained with 2 process(es) and is resumed with 1" in refused.stderr
    resumed = subprocess.run(_train_cmd(data, run, steps, *sets, ranks=2), env=install_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    c = _weights(run / "final")
    for k in b:
        torch.testing.assert_close(c[k], b[k], rtol=0, atol=1e-6, msg=f"tensor {k} differs after the 2-rank resume")
    assert _train_losses(run) == pytest.approx(l2, rel=0, abs=1e-6)
