"""The trainer node's TrainPolicy action end to end over real DDS: feedback, result, cancel, failure."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import rclpy
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from cli_helpers import install_env
from robovla.nodes.common.action_goals import send_goal
from robovla.action import TrainPolicy
from robovla.data.synthetic import write_synthetic_episode

pytestmark = pytest.mark.ros



@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trainer_bags")
    for i in range(3):
        write_synthetic_episode(root, f"ep{i}", seed=i, duration_s=2.0, image_hw=(48, 64))
    return root


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("trainer_log") / "trainer.log"
    env = install_env(PYTHONUNBUFFERED="1")
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "robovla.nodes.trainer"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = Node("train_policy_test_client", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    threading.Thread(target=ex.spin, daemon=True).start()
    ac = ActionClient(node, TrainPolicy, "robovla/train_policy")
    try:
        assert ac.wait_for_server(timeout_sec=60), f"no TrainPolicy server; log:\n{log.read_text()}"
        yield ac, proc
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=ctx)
        proc.send_signal(2)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _send(ac: ActionClient, goal: TrainPolicy.Goal, cancel_after_step: int | None = None, timeout: float = 240):
    feedback: list = []
    state: dict = {}

    def on_feedback(msg) -> None:
        feedback.append(msg.feedback)
        if cancel_after_step is not None and msg.feedback.step >= cancel_after_step and "cancel" not in state:
            state["cancel"] = state["handle"].cancel_goal_async()

    handle = send_goal(ac, goal, feedback_callback=on_feedback)
    assert handle.accepted
    state["handle"] = handle
    res_done = threading.Event()
    rfut = handle.get_result_async()
    rfut.add_done_callback(lambda f: res_done.set())
    assert res_done.wait(timeout), "no TrainPolicy result in time"
    return rfut.result(), feedback


def test_train_policy_end_to_end(client, bags: Path, tmp_path: Path) -> None:
    ac, proc = client
    goal = TrainPolicy.Goal(data_dirs=[str(bags)], out_dir=str(tmp_path / "run"), preset="tiny", steps=6,
                            overrides=[f"data.cache_dir={tmp_path / 'cache'}", "eval_every=3", "log_every=1"])
    res, feedback = _send(ac, goal)
    r = res.result
    assert r.success, r.message
    assert r.steps_done == 6 and Path(r.checkpoint_dir, "model.safetensors").is_file()
    assert r.val_action_mse > 0 and 0 <= r.val_gripper_accuracy <= 1
    states = {f.state for f in feedback}
    assert {"loading", "training", "done"} <= states
    steps = [f.step for f in feedback if f.state == "training"]
    assert steps and steps[-1] == 6 and all(f.total_steps == 6 for f in feedback)
    assert any(f.loss > 0 for f in feedback if f.state == "training")


def test_train_policy_cancel_saves_and_stops(client, bags: Path, tmp_path: Path) -> None:
    ac, proc = client
    goal = TrainPolicy.Goal(data_dirs=[str(bags)], out_dir=str(tmp_path / "run"), preset="tiny", steps=400,
                            overrides=[f"data.cache_dir={tmp_path / 'cache'}", "log_every=1", "eval_every=0"])
    res, feedback = _send(ac, goal, cancel_after_step=2)
    r = res.result
    assert res.status == 5  # CANCELED
    assert not r.success and 2 <= r.steps_done < 400
    assert Path(r.checkpoint_dir).name == "stopped" and Path(r.checkpoint_dir, "model.safetensors").is_file()
    assert (tmp_path / "run" / "state" / f"step_{r.steps_done:07d}" / "trainer_state.json").is_file()


def test_train_policy_bad_input_fails_cleanly(client, tmp_path: Path) -> None:
    ac, proc = client
    (tmp_path / "empty").mkdir()
    goal = TrainPolicy.Goal(data_dirs=[str(tmp_path / "empty")], out_dir=str(tmp_path / "run"), preset="tiny",
                            overrides=[f"data.cache_dir={tmp_path / 'cache'}"])
    res, _ = _send(ac, goal, timeout=60)
    assert not res.result.success and "no usable episodes" in res.result.message
    bad = TrainPolicy.Goal(data_dirs=[str(tmp_path / "empty")], preset="no_such_preset")
    res, _ = _send(ac, bad, timeout=60)
    assert not res.result.success and "no_such_preset" in res.result.message
    assert proc.poll() is None  # the node survived


def test_robovla_train_node_sends_the_job_to_the_trainer_node(client, bags: Path, tmp_path: Path) -> None:
    """`robovla train --node` (the installed command) as a TrainPolicy goal: feedback shown, result printed."""
    import json

    from cli_helpers import robovla

    ac, proc = client
    out = robovla("train", "--node", "--data", str(bags), "--out", str(tmp_path / "run"), "--preset", "tiny",
                  "--steps", "3", "--set", f"data.cache_dir={tmp_path / 'cache'}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[training] step" in out.stdout
    result = json.loads(out.stdout[out.stdout.index("{"):])
    assert result["success"] and result["steps"] == 3 and Path(result["checkpoint"], "model.safetensors").is_file()
    bad = robovla("train", "--node", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "run2"),
                  "--preset", "tiny")
    assert bad.returncode == 1 and "training failed" in bad.stdout, bad.stdout + bad.stderr
    assert proc.poll() is None
