"""`make train-demo` and `make demo` at small size: offline demos -> a few training steps of the
demo preset -> the demo through the real graph (sim + every node + recorder) with that checkpoint,
which must stream feedback, print a result and leave an episode bag and a GIF. Plus the committed
demo checkpoint: small, loadable, and reading the cameras the sim renders."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_helpers import assert_ok, robovla, run_module
from robovla.data.bag_reader import read_episode_bag

pytestmark = pytest.mark.ros



def test_train_demo_then_demo_at_small_size(tmp_path: Path) -> None:
    demos, run, out = tmp_path / "demos", tmp_path / "run", tmp_path / "out"
    assert_ok(robovla("collect", "--offline", "--episodes", "2", "--tasks", "turn_on_light,open_drawer",
               "--noise", "0.02", "--approach-jitter", "0.025", "--out", str(demos)))
    assert_ok(robovla("train", "--data", str(demos), "--out", str(run), "--preset", "demo",
               "--steps", "4", "--set", "batch_size=2", "--set", "eval_every=0", "--set", "save_every=0",
               "--set", "data.val_fraction=0.0", "--no-progress"))
    ckpt = json.loads((run / "result.json").read_text())["checkpoint_dir"]  # the trainer's pick (best or final)
    proc = run_module("robovla.demo", "--checkpoint", ckpt, "--task", "turn_on_light", "--timeout", "3",
                  "--out", str(out))
    assert_ok(proc)
    text = proc.stdout
    assert "policy: VLA checkpoint" in text and "goal: " in text
    assert re.search(r"\[\s*\d+\.\d s\] \w+\s+step \d+", text), "feedback was streamed"
    assert re.search(r"^(SUCCESS|FAILURE): ", text, re.M)
    bag = Path(re.search(r"^episode bag: (\S+)", text, re.M).group(1))
    gif = Path(re.search(r"^gif: (\S+)", text, re.M).group(1))
    raw = read_episode_bag(bag, image_size=None)
    assert raw.metadata.finished and raw.metadata.instruction
    assert set(raw.camera_t) == {"front", "wrist"} and len(raw.joint_t) > 100
    assert len(raw.command_t) > 20, "the VLA's smoothed commands were recorded"
    with Image.open(gif) as g:
        assert g.n_frames > 10


def test_demo_refuses_bad_arguments(tmp_path: Path) -> None:
    p = run_module("robovla.demo", "--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path))
    assert p.returncode == 2 and "is not a directory" in p.stderr
    p = run_module("robovla.demo", "--task", "juggle", "--out", str(tmp_path))
    assert p.returncode == 2 and "unknown task 'juggle'" in p.stderr


def test_committed_demo_checkpoint_is_small_and_runs_on_sim_frames() -> None:
    from robovla.demo import DEMO_CHECKPOINT, default_checkpoint

    if not (DEMO_CHECKPOINT / "vla_config.yaml").is_file():
        pytest.skip("no committed demo checkpoint (run `make train-demo`)")
    size = sum(f.stat().st_size for f in DEMO_CHECKPOINT.rglob("*") if f.is_file())
    assert size <= 20 * 2**20, f"demo checkpoint is {size / 2**20:.1f} MB"
    assert default_checkpoint() == str(DEMO_CHECKPOINT)

    from robovla.control.image import ResizeSpec, fit
    from robovla.policy.types import Observation, ObservationWindow
    from robovla.policy.vla import VLAPolicy
    from robovla.sim.env import Gen3SimEnv

    policy = VLAPolicy.from_checkpoint(DEMO_CHECKPOINT)
    cfg = policy.cfg
    assert cfg.formulation == "policy_head_continuous" and cfg.state_input
    spec = ResizeSpec(cfg.image_size, cfg.image_size)
    with Gen3SimEnv() as env:
        episode = env.reset("open_drawer", 100_001, split="eval")
        obs = []
        for i in range(cfg.window):
            frames = env.render(tuple(cfg.cameras))
            obs.append(Observation(stamp=0.1 * i, images={c: fit(frames[c], spec) for c in cfg.cameras},
                                   joint_positions=env.joint_positions(), gripper=0.0, ee_pose=np.zeros(7)))
            env.step(5)
    chunk = policy.step(ObservationWindow(tuple(obs), np.ones(cfg.window, dtype=bool)), episode.instruction)
    assert chunk.actions.shape == (cfg.chunk, 7) and np.isfinite(chunk.actions).all()
    assert np.abs(chunk.actions[:, :3]).max() < 0.1  # metres per 0.1 s step: a plausible motion
