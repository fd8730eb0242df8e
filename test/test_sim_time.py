"""Issue 17's ROS-free pieces: the sim graph's clock settings (one place), fault time, a smoother
whose command for an instant does not depend on whether a chunk came before or after its tick,
and instructions grounded in the sim's tasks."""

from __future__ import annotations

import numpy as np
import pytest

from robovla.control.liveness import FaultClock
from robovla.control.smoothing import SmootherConfig, VelocitySmoother
from robovla.graph import LOCKSTEP_SLOP_S, resolve_graph
from robovla.policy.types import ActionChunk
from robovla.sim.tasks import ground_instruction


def _by_name(**kw):
    return {s.name: s for s in resolve_graph(**kw)}


def test_the_sim_graph_runs_on_sim_time_and_a_robot_on_wall_time() -> None:
    sim = _by_name(sim=True)
    assert all(s.parameters["use_sim_time"] for n, s in sim.items() if n != "sim")
    assert sim["sim"].parameters["use_sim_time"] is False, "the sim is the clock"
    assert not any("use_sim_time" in s.parameters for s in resolve_graph(sim=False))
    # real time unless asked: the lock-step settings stay off
    assert not sim["sim"].parameters.get("lockstep", False)
    assert not sim["vla_inference"].parameters.get("every_window", False)


def test_lockstep_answers_every_frame_and_shares_one_latency_model() -> None:
    g = _by_name(sim=True, overrides={"sim.lockstep": True, "action_smoother.latency_model_s": 0.08})
    period = g["history_buffer"].parameters["period_s"]
    assert g["sim"].parameters["camera_hz"] == pytest.approx(1 / period), "one frame, one window, one chunk"
    assert g["camera_sync"].parameters["slop"] == LOCKSTEP_SLOP_S and g["camera_sync"].parameters["reliable"]
    assert g["vla_inference"].parameters["every_window"] and g["action_smoother"].parameters["every_tick"]
    assert g["kinova_control"].parameters["defer_while_paused"]
    assert g["sim"].parameters["latency_model_s"] == g["task_manager"].parameters["latency_model_s"] == 0.08
    assert g["task_manager"].parameters["lockstep_frame_period_s"] == period, "the result waits for the last frame's chunk"
    # the expert acts on every state: it keeps its camera rate
    expert = _by_name(sim=True, overrides={"sim.lockstep": True, "sim.expert": True, "sim.camera_hz": 1.0})
    assert expert["sim"].parameters["camera_hz"] == 1.0
    assert "lockstep_frame_period_s" not in expert["task_manager"].parameters, "no chunks to wait for"


def test_fault_time_runs_only_while_both_clocks_run() -> None:
    c = FaultClock()
    assert c.now(100.0, 5.0) == 0.0
    assert c.now(100.1, 5.1) == pytest.approx(0.1)  # both ran: a robot, or a sim at real time
    assert c.now(100.6, 5.1) == pytest.approx(0.1), "a paused sim (waiting for a slow policy): no fault time"
    assert c.now(100.62, 6.1) == pytest.approx(0.12), "a fast sim: wall time bounds it"
    assert c.now(100.72, 1.0) == pytest.approx(0.12), "a clock that went back adds nothing"
    assert c.now(100.82, 1.1) == pytest.approx(0.22)


def test_fault_time_follows_wall_time_when_the_sim_clock_comes_in_steps() -> None:
    # a real-time sim publishes /clock every 20 ms; a 100 Hz check reads the clocks twice per step
    c = FaultClock()
    wall, sim = 0.0, 0.0
    c.now(wall, sim)
    for k in range(1, 51):  # 0.5 s
        wall = k * 0.01
        sim = (k // 2) * 0.02  # the node clock jumps 20 ms every other reading
        t = c.now(wall, sim)
    assert t == pytest.approx(0.5, abs=0.02), "fault time must keep up with a sim running in real time"
    # the sim stops (paused lock-step, or a dead sim): fault time stops within the carry
    held = [c.now(0.5 + k * 0.01, sim) for k in range(1, 51)]
    assert held[-1] - t <= FaultClock.MAX_CARRY_S + 1e-9 and held[-1] == held[-10]


def _chunk(stamp: float, dx: float) -> ActionChunk:
    actions = np.zeros((5, 7))
    actions[:, 0] = dx
    return ActionChunk(actions=actions, stamp=stamp, dt=0.1)


def test_a_late_chunk_replaces_its_instants_command_as_if_it_had_come_first() -> None:
    cfg = SmootherConfig(max_linear_accel=0.5)
    early, late = VelocitySmoother(cfg), VelocitySmoother(cfg)
    for s in (early, late):
        s.add_chunk(_chunk(0.0, 0.01))
        s.command(0.0)
        s.command(0.02)
    early.add_chunk(_chunk(0.04, 0.03))
    a = early.command(0.04)
    late.command(0.04)  # the tick came first ...
    late.add_chunk(_chunk(0.04, 0.03))
    b = late.command(0.04)  # ... and the chunk's answer replaces its command
    assert np.allclose(a[0], b[0])
    assert np.allclose(early.command(0.06)[0], late.command(0.06)[0])


@pytest.mark.parametrize("text, task, colors", [
    ("turn on the light", "turn_on_light", []),
    ("  Turn ON the light. ", "turn_on_light", []),
    ("make the light go out", "turn_off_light", []),  # a held-out phrasing
    ("pick up the blue block", "lift_block", ["blue"]),
    ("put the red block on top of the green block", "stack_blocks", ["red", "green"]),
])
def test_instructions_ground_to_the_task_that_says_them(text: str, task: str, colors: list[str]) -> None:
    grounded = ground_instruction(text)
    assert grounded is not None and grounded[0].name == task and grounded[1] == {"colors": colors}


def test_an_instruction_no_task_says_has_no_checker() -> None:
    assert ground_instruction("wave hello to the camera") is None
    assert ground_instruction("turn on the light and open the drawer") is None
