"""CALVIN-style chains on one scene, and the evaluation summary `robovla eval` writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from robovla.sim import tasks
from robovla.sim.benchmark import (EpisodeRecord, TaskAttempt, comparable_rows, plan_episodes, plot_chain, summarize, summary_table,
                                   wilson_interval, write_gif, write_summary)
from robovla.sim.rollout import run_expert_episode


def test_chain_continues_from_the_scene_and_judges_each_link_on_its_own(env) -> None:
    first = run_expert_episode(env, "open_drawer", 7)
    assert first.success
    opening = env.state().drawer_opening
    # after opening, "open the drawer" is no longer feasible, closing is
    with pytest.raises(ValueError, match="open_drawer.* not feasible"):
        env.continue_with("open_drawer", 1)
    episode = env.continue_with("close_drawer", 1)
    assert env.state().drawer_opening == pytest.approx(opening, abs=1e-3), "continue_with must not reset physics"
    assert not env.success(), "a new link starts unsolved"
    assert episode.task.precondition(episode.params, env.start_state)
    # a random next task is always one feasible from here
    for seed in range(5):
        nxt = env.continue_with(None, seed)
        assert nxt.task.precondition(nxt.params, env.start_state)


def test_continue_needs_a_scene_and_a_known_task(env) -> None:
    env.reset("lift_block", 0)
    with pytest.raises(ValueError, match="unknown task"):
        env.continue_with("juggle", 0)


def test_plan_rotates_tasks_with_distinct_seeds() -> None:
    plans = plan_episodes(20)
    assert {p.first_task for p in plans} == set(tasks.TASK_NAMES)
    assert len({p.seed for p in plans}) == 20
    assert [p.first_task for p in plan_episodes(3, ["lift_block", "open_drawer"])] == ["lift_block", "open_drawer", "lift_block"]
    with pytest.raises(ValueError, match="unknown task"):
        plan_episodes(2, ["juggle"])
    with pytest.raises(ValueError, match="episodes"):
        plan_episodes(0)


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and 0.65 < lo < 0.75  # 10/10 is not certainty
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and 0.25 < hi < 0.35
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.404, abs=2e-3) and hi == pytest.approx(0.596, abs=2e-3)


def _attempt(task: str, ok: bool) -> TaskAttempt:
    return TaskAttempt(task, f"do {task}", ok, 30, 3.0)


def test_summary_counts_chains_like_calvin(tmp_path) -> None:
    records = [
        EpisodeRecord(0, 1, [_attempt("lift_block", True), _attempt("open_drawer", True), _attempt("turn_on_light", False)]),
        EpisodeRecord(1, 2, [_attempt("open_drawer", True), _attempt("lift_block", False)]),
        EpisodeRecord(2, 3, [_attempt("lift_block", False)]),
        EpisodeRecord(3, 4, [_attempt("open_drawer", True), _attempt("close_drawer", True), _attempt("lift_block", True)]),
    ]
    s = summarize(records, chain=3, policy="test")
    assert s["success_rate"] == 0.75  # first links: 3 of 4
    assert s["chain_success"] == [0.75, 0.5, 0.25]
    assert s["avg_len"] == pytest.approx((2 + 1 + 0 + 3) / 4)
    assert s["per_task"] == {"close_drawer": 1.0, "lift_block": pytest.approx(2 / 4), "open_drawer": 1.0,
                             "turn_on_light": 0.0}
    assert s["per_task_detail"]["lift_block"]["n"] == 4
    assert s["per_instruction_detail"]["lift_block"] == {"do lift_block": s["per_task_detail"]["lift_block"]}
    path = write_summary(s, tmp_path / "x.json")
    assert json.loads(path.read_text())["chain_success"] == [0.75, 0.5, 0.25]
    table = summary_table(s)
    assert "| lift_block | 0.50 |" in table and "0.75 / 0.50 / 0.25" in table
    assert "| instruction |" not in table  # one phrasing per task: no phrasing table
    records.append(EpisodeRecord(4, 5, [TaskAttempt("lift_block", "raise the cube", True, 30, 3.0)]))
    by = summarize(records, chain=3)["per_instruction_detail"]["lift_block"]
    assert (by["do lift_block"]["successes"], by["do lift_block"]["n"]) == (2, 4)
    assert (by["raise the cube"]["successes"], by["raise the cube"]["n"]) == (1, 1)
    assert "| lift_block | raise the cube | 1/1 |" in summary_table(summarize(records, chain=3))
    png = plot_chain({"test": s}, tmp_path / "x_chain.png")
    with Image.open(png) as im:
        assert im.size[0] > 300


def test_gif_has_the_frames(tmp_path) -> None:
    frames = [np.full((32, 48, 3), i * 20, np.uint8) for i in range(10)]
    path = write_gif(frames, tmp_path / "a.gif", fps=20)
    with Image.open(path) as im:
        assert im.n_frames == 10 and im.size == (48, 32)
    with pytest.raises(ValueError, match="no frames"):
        write_gif([], tmp_path / "b.gif")


def test_comparable_rows_keeps_the_rows_not_redone_and_refuses_another_setup(tmp_path):
    path = tmp_path / "table.json"
    path.write_text(json.dumps({"tasks": ["open_drawer"], "episodes": 48, "chain": 2,
                                "results": {"a": {"success_rate": 0.5}, "b": {"success_rate": 0.1}},
                                "timings": {"a": {"train_s": 1.0}, "b": {"train_s": 2.0}}}))
    kept = comparable_rows(path, ["open_drawer"], 48, 2, redo=["b"])
    assert kept == {"results": {"a": {"success_rate": 0.5}}, "timings": {"a": {"train_s": 1.0}}}
    for names, episodes, chain in ((["close_drawer"], 48, 2), (["open_drawer"], 24, 2), (["open_drawer"], 48, 5)):
        with pytest.raises(ValueError, match="not comparable"):
            comparable_rows(path, names, episodes, chain, redo=["b"])
