"""The README's "Using it" commands, as written, in order, at small size, through the installed
`robovla` command: collect -> train (post-training the committed demo VLA) -> eval -> bringup
with the new checkpoint -> goal. And `robovla goal` exits 0 on success and 1 on failure, every
time (it once died with rc 134 after printing SUCCESS, 4 runs in 7)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from cli_helpers import ROOT, assert_ok, robovla  # noqa: E402
from test_supervisor import Bringup, running, wait_graph_ready  # noqa: E402

from robovla.cli.session import EXPERT_NODES, SimSession  # noqa: E402
from robovla.nodes.common import topics  # noqa: E402

pytestmark = pytest.mark.ros

GOAL_RUNS = 20


def test_goal_exit_codes_are_0_on_success_and_1_on_failure_every_time(tmp_path: Path) -> None:
    overrides = {"sim.expert": True, "sim.task": "turn_on_light", "sim.speed": 4.0}
    with SimSession(overrides, nodes=EXPERT_NODES, log_dir=tmp_path / "logs") as client:
        codes = []
        for i in range(GOAL_RUNS):
            assert client.reset(task="turn_on_light", seed=i).success
            proc = robovla("goal", "turn on the light", "--timeout", "30", timeout=120)
            codes.append(proc.returncode)
            assert proc.returncode == 0 and proc.stdout.splitlines()[-1].startswith("SUCCESS"), (
                f"run {i}: exit {proc.returncode}\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
        # a goal the task manager times out: FAILURE and exit 1, never an abort
        assert client.reset(task="open_drawer", seed=1).success
        proc = robovla("goal", "open the drawer", "--timeout", "0.5", timeout=120)
        assert proc.returncode == 1 and "FAILURE" in proc.stdout, proc.stdout + proc.stderr
    assert codes == [0] * GOAL_RUNS


def test_readme_using_it_in_order(tmp_path: Path) -> None:
    demos, run = tmp_path / "demos", tmp_path / "runs" / "r1"
    assert_ok(robovla("collect", "--episodes", "2", "--tasks", "turn_on_light", "--out", str(demos),
                      "--logs", str(tmp_path / "collect_logs"), cwd=tmp_path))
    assert_ok(robovla("train", "--data", str(demos), "--out", str(run), "--base-checkpoint",
                      str(ROOT / "checkpoints" / "demo"), "--preset", "tiny", "--steps", "4",
                      "--set", "eval_every=0", "--no-progress", cwd=tmp_path))
    ckpt = run / "checkpoint"
    assert (ckpt / "vla_config.yaml").is_file(), "RUN/checkpoint names the run's checkpoint"
    out = tmp_path / "eval.json"
    assert_ok(robovla("eval", "--policy", str(ckpt), "--episodes", "1", "--tasks", "turn_on_light", "--timeout", "3",
                      "--gif", "0", "--out", str(out), "--logs", str(tmp_path / "eval_logs"), cwd=tmp_path))
    assert json.loads(out.read_text())["episodes"] == 1
    graph = Bringup(tmp_path, "--sim", "--checkpoint", str(ckpt))
    try:
        pids = graph.pids()
        wait_graph_ready(("task_manager", "vla_inference", "kinova_control", "sim"), publishers=(topics.ACTION_CHUNK,))
        proc = robovla("goal", "turn on the light", "--timeout", "3", timeout=120, cwd=tmp_path)
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        assert proc.stdout.splitlines()[-1].startswith("SUCCESS" if proc.returncode == 0 else "FAILURE")
        assert "[" in proc.stdout and "step" in proc.stdout, "feedback was streamed"
        # the operator's view of the same sim graph: every node (the sim's too) reports, nothing is
        # missing, one joint-state source, every node on the sim's clock
        status = robovla("status", "--once", timeout=60, cwd=tmp_path)
        assert status.returncode in (0, 1), status.stdout + status.stderr
        assert {line.split()[0] for line in status.stdout.splitlines() if line and not line[0].isspace()} >= {
            "sim", "task_manager", "vla_inference", "kinova_control", "camera_sync"}, status.stdout
        doctor = robovla("doctor", "--graph", "--json", timeout=120, cwd=tmp_path)
        problems = json.loads(doctor.stdout)["problems"]
        assert not [p for p in problems if p.startswith(("nodes missing", "no /diagnostics", "/joint_states",
                                                         "clock mismatch", "twist_controller"))], problems
        graph.proc.send_signal(signal.SIGINT)
        assert graph.proc.wait(60) == 0, graph.text() + graph.logs()
    finally:
        graph.kill()
    assert not [n for n, pid in pids.items() if running(pid)]
    perception = (graph.log_dir / "perception.log").read_text(errors="replace")
    assert str(ckpt) in perception, "bringup ran the new checkpoint"
