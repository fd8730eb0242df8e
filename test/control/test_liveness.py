"""When the arm is held still: heartbeats, the derived observation-age limit, the two-stage monitor."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robovla.control.latency import ObservationAgeConfig, ObservationAgeLimit
from robovla.control.liveness import FaultClock, Heartbeats
from robovla.control.monitor import CommandMonitor, MonitorConfig


def test_heartbeats_late_until_heard_and_after_timeout():
    hb = Heartbeats(["task_manager", "safety_monitor"], timeout_s=0.15)
    assert hb.late(0.0) == ["task_manager", "safety_monitor"]
    assert "never heard" in hb.describe(0.0)
    hb.beat("task_manager", 1.0)
    hb.beat("safety_monitor", 1.0)
    hb.beat("someone_else", 1.0)
    assert hb.late(1.1) == [] and hb.describe(1.1) == ""
    hb.beat("task_manager", 1.1)
    assert hb.late(1.2) == ["safety_monitor"]
    assert "safety_monitor (0.20 s ago)" in hb.describe(1.2)
    assert math.isclose(hb.age("task_manager", 1.2), 0.1)
    with pytest.raises(ValueError):
        Heartbeats(["x"], timeout_s=0.0)


def _feed(limit: ObservationAgeLimit, latency: float, period: float, n: int, t0: float = 0.0) -> float:
    t = t0
    for _ in range(n):
        t += period
        limit.on_chunk(t + latency, t)
    return t


def test_observation_age_limit_starts_at_max_then_follows_latency_and_period():
    limit = ObservationAgeLimit(ObservationAgeConfig(max_s=0.5, min_s=0.1, margin_s=0.04, min_samples=10))
    assert limit.limit_s == 0.5 and "not measured" in limit.summary()
    _feed(limit, latency=0.03, period=0.1, n=30)
    assert limit.limit_s == pytest.approx(0.03 + 0.1 + 0.04, abs=1e-6)
    assert "inference latency p95 0.030" in limit.summary()
    # a slower policy raises it (only chunk arrivals count, so it can go up), capped at max_s
    _feed(limit, latency=0.2, period=0.1, n=60, t0=10.0)
    assert limit.limit_s == pytest.approx(0.34, abs=1e-6)
    _feed(limit, latency=0.6, period=0.1, n=60, t0=20.0)
    assert limit.limit_s == 0.5


def test_observation_age_limit_ignores_gaps_between_episodes_and_fixed_mode():
    limit = ObservationAgeLimit(ObservationAgeConfig(min_samples=5))
    _feed(limit, latency=0.02, period=0.1, n=20)
    before = limit.limit_s
    limit.reset_interval()
    limit.on_chunk(100.0, 99.98)  # first chunk of the next episode: no interval sample of 90 s
    assert max(limit.intervals) < 0.11 and limit.limit_s == pytest.approx(before)
    fixed = ObservationAgeLimit(ObservationAgeConfig(fixed_s=0.3))
    _feed(fixed, latency=0.01, period=0.05, n=50)
    assert fixed.limit_s == 0.3 and "fixed" in fixed.summary()
    with pytest.raises(ValueError):
        ObservationAgeConfig(min_s=0.6, max_s=0.5)


def test_monitor_zero_then_deactivate_and_rearms_when_commands_return():
    m = CommandMonitor(MonitorConfig(command_timeout_s=0.1, deactivate_after_s=0.5))
    assert m.check(5.0) is None  # nothing sent yet: nothing to watch
    m.on_command(1.0, np.array([0.1, 0, 0]), np.zeros(3))
    assert m.check(1.09) is None
    why = m.check(1.11)
    assert why is not None and "motion" in why
    assert m.check(1.2) is None  # once per silence
    assert not m.should_deactivate(1.4)
    assert m.should_deactivate(1.51) and not m.should_deactivate(1.6)
    m.on_command(2.0, np.array([0.1, 0, 0]), np.zeros(3))  # the process is back: re-armed
    assert not m.tripped and not m.deactivated and m.check(2.05) is None


def test_monitor_silent_after_a_zero_trips_only_if_the_joints_still_move_after_settling():
    m = CommandMonitor(MonitorConfig(command_timeout_s=0.1, settle_s=0.5))
    m.episode_active = True
    m.on_command(0.0, np.zeros(3), np.zeros(3))
    m.on_joint_velocities(np.full(7, 0.001))
    assert m.check(1.0) is None  # told to stop, and stopped: silence is fine
    idle = CommandMonitor(MonitorConfig(command_timeout_s=0.1, settle_s=0.5))
    idle.on_command(0.0, np.zeros(3), np.zeros(3))
    idle.on_joint_velocities(np.array([0, 0, 0.3, 0, 0, 0, 0]))
    assert idle.check(2.0) is None, "between episodes a homing move or a sim reset moves the arm: not ours"
    m2 = CommandMonitor(MonitorConfig(command_timeout_s=0.1, settle_s=0.5))
    m2.episode_active = True
    m2.on_command(0.0, np.zeros(3), np.zeros(3))
    m2.on_joint_velocities(np.array([0, 0, 0.3, 0, 0, 0, 0]))
    assert m2.check(0.3) is None, "an arm settling after a zero (episode end) is not a fault"
    why = m2.check(0.6)
    assert why is not None and "0.30 rad/s" in why and "after a zero" in why
    with pytest.raises(ValueError):
        MonitorConfig(command_timeout_s=0.2, deactivate_after_s=0.1)


def test_a_stalled_watcher_does_not_blame_the_processes_it_watches():
    hb = Heartbeats(["task_manager", "safety_monitor"], timeout_s=0.1)
    for t in np.arange(0.0, 1.0, 0.02):
        assert not hb.tick(t)
        hb.beat("task_manager", t)
        hb.beat("safety_monitor", t)
    # the watcher stalls 1.5 s; its first tick after the stall runs before the queued beats are read
    assert hb.tick(2.5)
    assert hb.late(2.5) == [] and hb.age("safety_monitor", 2.5) == 0.0
    # beats read right after the stall: fine; a sender that stays silent is late after timeout_s
    hb.beat("task_manager", 2.51)
    assert not hb.tick(2.52)
    assert hb.late(2.55) == []
    hb.beat("task_manager", 2.6)
    assert hb.late(2.65) == ["safety_monitor"]
    # a process never heard is late whatever the watcher did
    fresh = Heartbeats(["vla_inference"], timeout_s=0.1)
    fresh.tick(0.0)
    fresh.tick(5.0)
    assert math.isinf(fresh.age("vla_inference", 5.0)) and fresh.late(5.0) == ["vla_inference"]


def test_a_process_late_before_the_watchers_stall_stays_late_after_it():
    """A dead monitor must not be excused by a later stall of kinova_control (its pause would lift)."""
    hb = Heartbeats(["task_manager", "safety_monitor"], timeout_s=0.1)
    for t in np.arange(0.0, 1.0, 0.02):
        hb.tick(t)
        hb.beat("task_manager", t)
        if t < 0.5:
            hb.beat("safety_monitor", t)  # dies at 0.5 s
    assert hb.late(0.98) == ["safety_monitor"]
    assert hb.tick(1.5)  # the watcher stalls 0.5 s
    hb.beat("task_manager", 1.5)
    assert hb.late(1.5) == ["safety_monitor"], "a process silent before the stall is not excused by it"
    assert hb.age("task_manager", 1.5) == 0.0
    hb.beat("safety_monitor", 1.52)  # and it is on time again as soon as it beats
    assert hb.late(1.53) == []


def test_a_beat_sent_before_the_judgment_does_not_lift_it():
    """task_manager dies; its last beat, queued in a loaded watcher, is read after the pause began."""
    hb = Heartbeats(["task_manager"], timeout_s=0.1)
    offset = 100.0  # the sender's steady clock has its own epoch
    for t in np.arange(0.0, 1.0, 0.025):
        hb.tick(t)
        assert hb.beat("task_manager", t + 0.002, sent=t - offset)  # 2 ms transit
    # dies at 1.0 right after a beat sent at 0.999 that the watcher has not read yet
    for t in np.arange(1.0, 1.2, 0.02):
        hb.tick(t)
    assert hb.late(1.19) == ["task_manager"]
    assert not hb.beat("task_manager", 1.2, sent=0.999 - offset), "a stale beat lifted the pause"
    hb.tick(1.22)
    assert hb.late(1.22) == ["task_manager"]
    # alive after all: its next beat, sent after the judgment, is accepted and lifts it
    assert hb.beat("task_manager", 1.25, sent=1.248 - offset)
    assert hb.late(1.26) == []


def test_receipt_counts_while_on_time_and_without_a_sending_time():
    hb = Heartbeats(["task_manager"], timeout_s=0.1)
    for t in np.arange(0.0, 0.5, 0.02):
        hb.tick(t)
    assert hb.late(0.48) == ["task_manager"]  # never heard: judged late at the first check
    assert hb.beat("task_manager", 0.5, sent=7.0)  # the first beat: its own gap is the estimate
    # a beat delayed in transit while the process is on time is not held against it
    hb.tick(0.52)
    assert hb.beat("task_manager", 0.6, sent=7.03)
    assert hb.age("task_manager", 0.65) == pytest.approx(0.05)
    # old senders (no sending time): receipt counts, as before
    for t in np.arange(0.62, 1.01, 0.02):
        hb.tick(t)
    assert hb.late(1.0) == ["task_manager"]
    assert hb.beat("task_manager", 1.01)
    assert hb.late(1.02) == []


def test_a_held_fault_clock_does_not_hold_the_pause_for_ever():
    """A lock-stepped sim paused: fault time stands still, so every beat maps to the same instant."""
    hb = Heartbeats(["vla_inference"], timeout_s=0.1)
    for t in np.arange(0.0, 0.5, 0.025):
        hb.tick(t)
        hb.beat("vla_inference", t, sent=t)
    for t in np.arange(0.5, 0.65, 0.02):  # silent: judged late
        hb.tick(t)
    assert hb.late(0.64) == ["vla_inference"]
    for k in range(3):  # fault time held at 0.64 while the sender's clock runs on
        assert hb.beat("vla_inference", 0.64, sent=0.7 + 0.025 * k)
    assert hb.late(0.64) == []


def test_live_beats_lift_a_pause_whatever_fault_time_did_before():
    """Fault time ran at half the wall clock's rate (a slow lock-stepped sim), then stood still (the
    sim waiting for the graph): judged on the steady clock, a beat sent after the judgment lifts the
    pause, one sent before it does not. On fault time, every live beat of the wait was refused."""
    hb = Heartbeats(["vla_inference"], timeout_s=0.1)
    offset = 40.0  # the sender's steady clock has its own epoch
    for wall in np.arange(0.0, 2.0, 0.025):  # fault time = wall / 2
        hb.tick(wall / 2, wall)
        assert hb.beat("vla_inference", wall / 2 + 0.001, sent=wall - offset, wall=wall + 0.002)
    for wall in np.arange(2.0, 2.3, 0.025):  # silent; fault time 1.0 -> 1.15
        hb.tick(wall / 2, wall)
    assert hb.late(1.15) == ["vla_inference"]  # judged at wall 2.2 (fault 1.1)
    queued = 1.999 - offset  # sent before the judgment, read during the wait
    assert not hb.beat("vla_inference", 1.15, sent=queued, wall=2.31), "a stale beat lifted the pause"
    hb.tick(1.15, 2.32)  # the sim waits: fault time stands at 1.15
    assert hb.beat("vla_inference", 1.15, sent=2.33 - offset, wall=2.332), "a live beat was refused"
    assert hb.late(1.15) == []


def test_fault_clock_never_runs_ahead_of_the_wall_clock_with_readings_out_of_order():
    """Readings are taken before the lock: a thread can bring in an older reading after a newer one."""
    clock = FaultClock()
    clock.now(0.0, 100.0)
    assert clock.now(0.2, 100.2) == pytest.approx(0.2)
    assert clock.now(0.1, 100.1) == pytest.approx(0.2)  # the older reading, late: nothing new
    assert clock.now(0.3, 100.3) == pytest.approx(0.3)  # counted the 0.1-0.2 interval twice before
    # the node clock back while the wall clock goes on (a restarted sim, system time stepped back):
    # no step at that reading, and fault time goes on from there, never faster than the wall clock
    assert clock.now(0.4, 100.25) == pytest.approx(0.3)
    assert clock.now(0.5, 100.5) == pytest.approx(0.4)
    assert clock.now(0.6, 0.0) == pytest.approx(0.4)
    assert clock.now(0.7, 0.1) == pytest.approx(0.5)
