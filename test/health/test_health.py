"""The judging behind /diagnostics, `robovla status` and `robovla doctor --graph`, rule by rule."""

from __future__ import annotations

import math

import pytest

from robovla.health.checks import Finding, Level, Report, stream_finding
from robovla.health.graph_checks import Endpoint, GraphSnapshot, diagnose, qos_problems
from robovla.health.rates import LatencyMeter, RateMeter

NODES = ["task_manager", "camera_sync", "kinova_control", "safety_monitor"]


def test_rate_meter_counts_the_window_and_knows_its_last_arrival():
    m = RateMeter(window_s=2.0)
    assert m.rate(0.0) == 0.0 and math.isinf(m.age(0.0))
    for i in range(61):  # 30 Hz for 2 s
        m.tick(i / 30)
    assert m.rate(2.0) == pytest.approx(30.0, rel=0.05)
    assert m.age(2.5) == pytest.approx(0.5)
    assert m.rate(10.0) == 0.0 and m.age(10.0) == pytest.approx(8.0)  # long gone: rate 0, age still known
    with pytest.raises(ValueError):
        RateMeter(0.0)


def test_latency_meter_quantiles():
    m = LatencyMeter(n=10)
    assert m.quantile(0.5) is None
    for v in range(1, 21):  # only the last 10 are kept: 11..20
        m.add(v / 1000)
    assert m.quantile(0.0) == pytest.approx(0.011) and m.quantile(1.0) == pytest.approx(0.020)


def test_a_stream_is_an_error_when_silent_and_a_warning_when_slow():
    m = RateMeter()
    assert stream_finding("camera wrist", m, 1.0, silent_s=0.5).level == Level.ERROR
    for i in range(31):
        m.tick(i / 30)
    assert stream_finding("camera wrist", m, 1.01, 0.5, expected_hz=30).level == Level.OK
    slow = stream_finding("camera wrist", m, 1.01, 0.5, expected_hz=90)
    assert slow.level == Level.WARN and "expected 90 Hz" in slow.message
    silent = stream_finding("camera wrist", m, 2.0, 0.5)
    assert silent.level == Level.ERROR and silent.message == "camera wrist: silent for 1.0 s"


def test_report_takes_the_worst_level_and_says_what_is_wrong_first():
    ok = Report.of([Finding(Level.OK, "fine")], {"a": "1"})
    assert ok.level == Level.OK and ok.message == "ok" and ok.values == {"a": "1"}
    r = Report.of([Finding(Level.WARN, "slow"), Finding(Level.ERROR, "silent"), Finding(Level.OK, "x")], {})
    assert r.level == Level.ERROR and r.message == "silent; slow"


def _healthy(**kw) -> GraphSnapshot:
    base = dict(nodes=list(NODES), expected_nodes=list(NODES), heard=list(NODES),
                statuses={n: (0, "ok") for n in NODES}, joint_state_publishers=["kortex_driver"],
                controllers={"twist_controller": "active", "joint_trajectory_controller": "inactive"},
                required_controller="twist_controller")
    base.update(kw)
    return GraphSnapshot(**base)


def test_a_healthy_graph_has_no_problems():
    assert diagnose(_healthy()) == []


@pytest.mark.parametrize("change, words", [
    (dict(nodes=["task_manager", "camera_sync", "kinova_control"]), "nodes missing: safety_monitor"),
    (dict(heard=["task_manager", "camera_sync", "kinova_control"]), "no /diagnostics from safety_monitor"),
    (dict(joint_state_publishers=[]), "/joint_states: no publisher"),
    (dict(joint_state_publishers=["sim", "kortex_driver"]), "2 publishers (sim, kortex_driver)"),
    (dict(controllers={"twist_controller": "inactive"}), "twist_controller is inactive"),
    (dict(controllers={}), "twist_controller is not loaded"),
    (dict(controllers=None), "no controller manager"),
    (dict(sim_time={"camera_sync": True}), "use sim time but nothing publishes /clock"),
    (dict(sim_time={"camera_sync": True, "kinova_control": False}, clock_publishers=["sim"]),
     "clock mismatch: camera_sync on sim time, kinova_control on wall time"),
    (dict(statuses={"camera_sync": (2, "camera wrist: silent for 1.2 s")}), "camera_sync: error: camera wrist: silent"),
    (dict(statuses={"vla_inference": (1, "policy step p95 130 ms")}), "vla_inference: warning: policy step"),
])
def test_each_problem_is_named(change, words):
    problems = diagnose(_healthy(**change))
    assert any(words in p for p in problems), problems


def test_qos_pairs_that_never_connect():
    best_effort_writer = Endpoint("camera_driver", reliable=False, transient_local=False)
    assert qos_problems("/img", [best_effort_writer], [Endpoint("viewer", reliable=False, transient_local=False)]) == []
    (p,) = qos_problems("/img", [best_effort_writer], [Endpoint("camera_sync", reliable=True, transient_local=False)])
    assert "camera_sync wants reliable, camera_driver offers best effort" in p
    (p,) = qos_problems("/robovla/instruction", [Endpoint("replay", True, False)], [Endpoint("vla_inference", True, True)])
    assert "wants transient local" in p
    snap = _healthy(endpoints={"/img": ([best_effort_writer], [Endpoint("camera_sync", True, False)])})
    assert any("/img: camera_sync wants reliable" in p for p in diagnose(snap))


def test_graph_summary_takes_the_worst_node_and_marks_silent_ones_stale() -> None:
    from robovla.health.summary import GraphSummary

    g = GraphSummary(stale_s=3.0)
    g.update("camera_sync", 0, "ok", t=10.0)
    g.update("kinova_control", 0, "ok", t=10.0)
    s = g.summary(11.0)
    assert (s.level, s.message, s.nodes) == (Level.OK, "ok", ["camera_sync", "kinova_control"])
    g.update("camera_sync", 2, "camera wrist: silent for 0.6 s", t=11.0)
    g.update("vla_inference", 1, "policy step p95 120 ms > window interval 100 ms", t=11.0)
    s = g.summary(12.0)
    assert s.level == Level.ERROR
    assert s.message.startswith("camera_sync: camera wrist: silent") and "vla_inference: policy step" in s.message
    s = g.summary(13.5)  # kinova_control last heard at 10.0
    assert s.levels[s.nodes.index("kinova_control")] == Level.STALE and s.level == Level.STALE
    assert "kinova_control: no status for 3.5 s" in s.message
    with pytest.raises(ValueError):
        GraphSummary(stale_s=0)
