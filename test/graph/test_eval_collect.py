"""`robovla eval` and `robovla collect` through the real graph: sim node + kinova_control + task
manager (+ recorder) as separate processes over Fast DDS, driven by the CLI exactly as users run it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_helpers import assert_ok, robovla
from robovla.data.bag_reader import read_episode_bag
from robovla.sim.tasks import TASK_NAMES

pytestmark = pytest.mark.ros

SEEDS_PER_TASK = 50


def test_eval_scripted_20_episodes(tmp_path: Path) -> None:
    """The issue's acceptance command, unchanged: headless, seeded, >= 0.95 over >= 8 tasks."""
    out = tmp_path / "x.json"
    assert_ok(robovla("eval", "--policy", "scripted", "--episodes", "20", "--out", str(out), "--logs", str(tmp_path / "logs")))
    s = json.loads(out.read_text())
    assert len(s["per_task"]) >= 8 and s["episodes"] == 20
    assert s["success_rate"] >= 0.95, s["per_task"]
    assert s["split"] == "eval" and all(r["seed"] >= 100_000 for r in s["records"]), "held-out phrasings and seeds"
    assert len(s["chain_success"]) == 1 and s["avg_len"] == pytest.approx(s["chain_success"][0])
    for i in (0, 1):
        with Image.open(tmp_path / f"x_ep{i}.gif") as gif:
            assert gif.n_frames > 10 and gif.size == (224, 224)
    with Image.open(tmp_path / "x_chain.png") as png:
        assert png.size[0] > 300
    assert "| lift_block |" in (tmp_path / "x.md").read_text()


@pytest.mark.timeout(1500)  # over the suite's 600 s per test: 1,900 sim seconds of episodes
def test_expert_solves_50_seeds_per_task_through_ros(tmp_path: Path) -> None:
    """Every command the expert sends goes ArmCommand -> kinova_control -> Twist / gripper action -> sim."""
    out = tmp_path / "expert.json"
    n = SEEDS_PER_TASK * len(TASK_NAMES)
    # lock-stepped (eval's default clock, issue 17): the sim waits for each command, so DDS and
    # scheduling latency never reach the closed loop; in real time at 10x the marginal stack_blocks
    # scenes failed 3-4 of 50 on an idle 2-core machine, and a loaded one failed lights at 5x.
    # One graph ran at 3.0-4.2x real time on 2 cores (454 s once, 630 s another time on the same
    # machine); two graphs (--jobs 2, the same outcomes by design) are faster.
    assert_ok(robovla("eval", "--policy", "scripted", "--episodes", str(n), "--gif", "0", "--jobs", "2",
                "--split", "all", "--seed", "0", "--out", str(out), "--logs", str(tmp_path / "logs"), timeout=1400))
    s = json.loads(out.read_text())
    detail = s["per_task_detail"]
    assert set(detail) == set(TASK_NAMES)
    low = {t: d["rate"] for t, d in detail.items() if d["rate"] < 0.95}
    assert all(d["n"] == SEEDS_PER_TASK for d in detail.values())
    assert not low, f"expert below 95% through ROS: {low}"


def test_wrong_instruction_control_asks_for_another_task_and_judges_the_episodes(tmp_path: Path) -> None:
    """--control wrong-instruction: each goal says another task's phrasing, the sim judges the
    episode's own task (the expert, which reads the sim's task, still succeeds by that checker)."""
    from robovla.sim.tasks import ground_instruction

    out = tmp_path / "wrong.json"
    assert_ok(robovla("eval", "--policy", "scripted", "--episodes", "3", "--gif", "0", "--control", "wrong-instruction",
                      "--out", str(out)))
    s = json.loads(out.read_text())
    assert s["control"] == "wrong-instruction"
    for r in s["records"]:
        a = r["attempts"][0]
        said = ground_instruction(a["instruction"])
        assert said is not None and said[0].name != a["task"], f"{a['instruction']!r} is a phrasing of {a['task']}"
        assert a["success"] and a["message"].startswith(f"{a['task']}:"), a["message"]


def test_eval_chains_continue_on_the_same_scene(tmp_path: Path) -> None:
    out = tmp_path / "chain.json"
    assert_ok(robovla("eval", "--policy", "scripted", "--episodes", "3", "--chain", "3", "--speed", "6", "--gif", "0",
                "--out", str(out)))
    s = json.loads(out.read_text())
    rates = s["chain_success"]
    assert len(rates) == 3 and rates == sorted(rates, reverse=True)
    assert rates[0] >= 2 / 3
    assert any(len(r["attempts"]) > 1 for r in s["records"]), "no chain went past its first task"
    for r in s["records"]:
        # a chain stops at its first failure
        assert all(a["success"] for a in r["attempts"][:-1])


def test_eval_and_collect_refuse_bad_arguments(tmp_path: Path) -> None:
    p = robovla("eval", "--policy", str(tmp_path / "nope"), "--out", str(tmp_path / "x.json"), timeout=60)
    assert p.returncode == 2 and "neither 'scripted' nor a checkpoint directory" in p.stderr
    p = robovla("eval", "--policy", "scripted", "--tasks", "juggle", "--out", str(tmp_path / "x.json"), timeout=60)
    assert p.returncode == 2 and "unknown task 'juggle'" in p.stderr
    p = robovla("collect", "--episodes", "0", "--out", str(tmp_path / "d"), timeout=60)
    assert p.returncode == 2 and "episodes must be >= 1" in p.stderr


def test_collect_records_expert_episodes_through_the_recorder(tmp_path: Path) -> None:
    demos = tmp_path / "demos"
    assert_ok(robovla("collect", "--episodes", "2", "--tasks", "open_drawer,lift_block", "--seed", "3",
                "--out", str(demos), "--logs", str(tmp_path / "logs")))
    bags = sorted(p.name for p in demos.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert bags == ["lift_block_00004", "open_drawer_00003"]
    for name in bags:
        raw = read_episode_bag(demos / name, image_size=None)
        meta = raw.metadata
        assert meta.finished and meta.success, f"{name}: the sim checker's outcome must reach the recorder"
        assert meta.instruction and meta.camera_names == ["front", "wrist"]
        assert raw.camera_frames["front"].shape[1:] == (224, 224, 3) and len(raw.camera_t["front"]) > 20
        assert len(raw.joint_t) > 100
        # the arm moved during the demonstration
        assert np.ptp(raw.joint_q[:, :7], axis=0).max() > 0.1
