"""The real graph (six processes, Fast DDS) against a ros2_kortex test peer.

One graph serves the whole module: a ScriptedPolicy moving +x at 0.05 m/s, 2 cameras at
30 Hz (640x480 rgb8), joint states at 100 Hz.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from rclpy.action import ActionClient
from sensor_msgs.msg import Image

from robovla.nodes.common.action_goals import send_goal
from robovla.action import ExecuteInstruction
from robovla.control import kinematics
from robovla.msg import ActionChunk, ArmCommand
from robovla.nodes.common import topics
from robovla.nodes.common.convert import to_sec, to_time

from graph_helpers import GRAPH_NODES, observation_failure, wait_for

pytestmark = pytest.mark.ros

MAX_LIN, MAX_ANG = 0.25, 1.0  # kinova_control.safety defaults (config/robovla.yaml)
WATCHDOG = 0.5
CONTROL_PERIOD = 1 / 50  # config/robovla.yaml action_smoother.control_rate_hz


@pytest.fixture(scope="module")
def graph(graph_factory, peer):
    g = graph_factory({"vla_inference.policy": "scripted:forward", "task_manager.default_timeout_s": 30.0})
    client = ActionClient(peer, ExecuteInstruction, topics.EXECUTE_INSTRUCTION)
    assert client.wait_for_server(timeout_sec=60), "task_manager action server never came up"
    # ready = every node is on the graph and synchronized observations flow
    assert wait_for(lambda: set(GRAPH_NODES) <= set(peer.get_node_names()), 60), peer.get_node_names()
    assert wait_for(lambda: peer.take("observation"), 60), observation_failure(g, peer)
    # a reader drops what a writer it has not matched yet sends, even once the writer has matched it:
    # wait until the peer itself sees kinova_control's command publishers (a loaded CI run once got
    # 4 s of arm commands and not one twist)
    assert wait_for(lambda: peer.count_publishers(topics.TWIST_COMMANDS) and peer.count_publishers(topics.SENT_COMMAND),
                    60), "the peer never discovered kinova_control's twist publisher"
    g.client = client
    yield g
    assert all(g.alive().values()), f"a node died during the tests: {g.alive()}"


def _wait(future, timeout=30.0):
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    assert done.wait(timeout), "future did not complete"
    return future.result()


def send(graph, instruction: str, timeout_s: float = 0.0, feedback: list | None = None):
    goal = ExecuteInstruction.Goal(instruction=instruction, timeout_s=timeout_s)
    cb = (lambda m: feedback.append((time.monotonic(), m.feedback))) if feedback is not None else None
    handle = send_goal(graph.client, goal, feedback_callback=cb)
    assert handle.accepted
    return handle


def twist_base(peer_q, twist) -> np.ndarray:
    tool = np.array([twist.linear.x, twist.linear.y, twist.linear.z,
                     *np.radians([twist.angular.x, twist.angular.y, twist.angular.z])])
    return kinematics.tool_twist_to_base(peer_q, tool)


def assert_all_twists_within_limits(peer) -> None:
    twists = [m for _, m in peer.take("twist")]
    assert twists, "no twist was published"
    for m in twists:
        lin = np.array([m.linear.x, m.linear.y, m.linear.z])
        ang = np.radians([m.angular.x, m.angular.y, m.angular.z])  # driver units are deg/s
        assert np.all(np.isfinite(lin)) and np.all(np.isfinite(ang))
        assert np.linalg.norm(lin) <= MAX_LIN + 1e-6, f"linear speed {np.linalg.norm(lin)} over the limit"
        assert np.linalg.norm(ang) <= MAX_ANG + 1e-6, f"angular speed {np.linalg.norm(ang)} over the limit"


def assert_all_sent_within_limits(peer) -> None:
    """robovla/sent_command reports every motion kinova_control sent: base frame, after the filter."""
    for _, m in peer.take("sent"):
        lin = np.array([m.twist.linear.x, m.twist.linear.y, m.twist.linear.z])
        ang = np.array([m.twist.angular.x, m.twist.angular.y, m.twist.angular.z])
        assert np.all(np.isfinite(lin)) and np.all(np.isfinite(ang)) and np.isfinite(m.gripper)
        assert np.linalg.norm(lin) <= MAX_LIN + 1e-6 and np.linalg.norm(ang) <= MAX_ANG + 1e-6


def is_zero(twist) -> bool:
    return all(v == 0.0 for v in (twist.linear.x, twist.linear.y, twist.linear.z,
                                   twist.angular.x, twist.angular.y, twist.angular.z))


def test_goal_runs_the_whole_pipeline_and_times_out(graph, peer):
    peer.clear()
    feedback: list = []
    handle = send(graph, "push the block forward", timeout_s=4.0, feedback=feedback)
    res = _wait(handle.get_result_async(), timeout=20).result
    assert not res.success and "timed out" in res.message
    assert res.steps >= 10, f"only {res.steps} action chunks in 4 s at a 10 Hz policy"
    # in-process hand-over delivers each window once (a duplicate would be a second policy step)
    assert res.steps <= 45, f"{res.steps} action chunks in 4 s at a 10 Hz policy"
    assert "not newer than the last one" not in graph.log("history_buffer"), "an observation arrived twice"

    obs = [m for _, m in peer.take("observation")]
    assert obs and obs[-1].camera_names == ["front", "wrist"]
    assert all((im.width, im.height, im.encoding) == (224, 224, "rgb8") for im in obs[-1].images)
    windows = [m for _, m in peer.take("window")]
    assert windows and len(windows[0].observations) == 8
    # windows are depth-1 "latest" messages, so the peer may miss some: check the ones it saw
    assert all(w.valid[-1] for w in windows), "the newest frame of a window is always valid"
    assert any(not w.valid[0] for w in windows), "the first windows of an episode must be padded"
    # only the newest frame carries images; vla_inference has the older ones (FrameCache)
    assert len(windows[-1].observations[-1].images) == 2
    assert all(not o.images and len(o.joint_positions) == 7 for o in windows[-1].observations[:-1])
    counts = [sum(w.valid) for w in windows]
    assert counts == sorted(counts), "the valid part of the window only grows within an episode"
    assert all(windows[-1].valid), "after 3 s at 10 Hz the window must be full"
    stamps = [o.header.stamp.sec + o.header.stamp.nanosec * 1e-9 for o in windows[-1].observations]
    assert np.all(np.diff(stamps) >= 0.1 * 0.75 - 1e-6), "window frames must be one policy step apart"
    chunks = [m for _, m in peer.take("chunk")]
    assert chunks[0].horizon == 10 and chunks[0].action_dim == 7 and chunks[0].policy == "scripted:forward"
    assert peer.take("markers"), "no RViz intent markers"

    # the control rate from the smoother's own stamps, by the median gap: a loaded machine delays some
    # ticks (a fresh-clone run beside an evaluation and a data collection averaged 24 Hz) but the
    # timer's period shows in the typical gap; a smoother at 25 Hz, or one tick per chunk, fails here
    stamps = [to_sec(m.header.stamp) for _, m in peer.take("arm_command") if m.twist.linear.x > 0]
    gap = float(np.median(np.diff(stamps)))
    assert len(stamps) > 50 and abs(gap - CONTROL_PERIOD) <= 0.25 * CONTROL_PERIOD, \
        f"arm commands {gap * 1e3:.1f} ms apart (median of {len(stamps)}), expected the 50 Hz control rate"
    twists = [m for _, m in peer.take("twist")]
    moving = [m for m in twists if not is_zero(m)]
    assert moving, (f"the arm was never commanded to move ({len(twists)} twists seen); kinova_control:\n"
                    + graph.log("kinova_control")[-3000:])
    # as on a real Gen3: the twists reached an active twist_controller, switched in by kinova_control
    assert peer.driver.is_active("twist_controller") and not peer.driver.is_active("joint_trajectory_controller")
    assert (["twist_controller"], ["joint_trajectory_controller"], True) in peer.driver_interfaces.switches
    assert peer.twists_ignored == 0, f"{peer.twists_ignored} twists went to an inactive twist_controller"
    v = twist_base(peer.q, moving[len(moving) // 2])
    np.testing.assert_allclose(v[:3], [0.05, 0, 0], atol=2e-3)  # +x in base_link, sent in the tool frame
    assert_all_twists_within_limits(peer)
    sent = [m for _, m in peer.take("sent") if m.twist.linear.x > 0]
    assert sent and abs(sent[len(sent) // 2].twist.linear.x - 0.05) < 2e-3, "sent_command reports the base-frame motion"
    chunk_stamps = {(c.observation_stamp.sec, c.observation_stamp.nanosec) for c in chunks}
    assert all((m.observation_stamp.sec, m.observation_stamp.nanosec) in chunk_stamps for m in sent), \
        "each sent command names the observation its chunk answered"
    assert_all_sent_within_limits(peer)
    # the result and the stop travel on different topics: the zero twist may land just after the result
    assert wait_for(lambda: is_zero(peer.take("twist")[-1][1]), timeout=0.5), "the arm must be stopped when the goal ends"
    assert len(feedback) >= 4 and feedback[-1][1].state in ("timed_out", "failed")
    # 2 Hz (task_manager.feedback_rate_hz): the rate from the median gap; the longest gap bounded
    # loosely, since a loaded machine (a Jazzy CI run beside two training jobs) delayed one by 0.6 s
    gaps = np.diff([t for t, _ in feedback])
    assert np.median(gaps) <= 0.6 and gaps.max() <= 2.0, f"feedback gaps {np.round(gaps, 2)}: not ~2 Hz"


def test_cancel_stops_the_arm_within_a_control_period(graph, peer):
    peer.clear()
    handle = send(graph, "move forward", timeout_s=20.0)
    assert wait_for(lambda: any(not is_zero(m) for _, m in peer.take("twist")), 10), "arm never moved"
    t_cancel = time.monotonic()
    _wait(handle.cancel_goal_async())
    res = _wait(handle.get_result_async()).result
    assert not res.success and res.message == "canceled"
    # Measured from the client's cancel request (cancel service round trip + latched instruction
    # + the controller's zero twist): 4-6 ms on an idle 2-core machine, 64 ms once with three jobs
    # loading its 2 cores. The latency is a benchmark's figure (bench/bench_graph.py); what this test
    # holds is that the cancel is what stopped the arm: the goal's own timeout and the watchdog are
    # seconds away, and nothing moves after the stop. The stop is the zero twist after the last
    # moving one: on a loaded machine safety_monitor may send a zero twist of its own (kinova_control
    # silent 0.1 s) before the cancel reaches kinova_control, which then still moves the arm.
    time.sleep(1.5)
    twists = [(t, m) for t, m in peer.take("twist") if t >= t_cancel]
    last_moving = max([t for t, m in twists if not is_zero(m)], default=t_cancel)
    zero = [t for t, m in twists if t > last_moving and is_zero(m)]
    assert zero, f"no zero twist after the last moving one, {last_moving - t_cancel:.3f} s after cancel"
    delay = zero[0] - t_cancel
    assert delay <= 1.0, f"zero twist {delay * 1e3:.0f} ms after cancel (the last moving twist {last_moving - t_cancel:.3f} s after)"


def test_stalled_camera_stops_the_arm_within_the_watchdog(graph, peer):
    peer.clear()
    handle = send(graph, "move forward", timeout_s=20.0)
    try:
        assert wait_for(lambda: any(not is_zero(m) for _, m in peer.take("twist")), 10)
        peer.cameras_on = False
        t_stall = time.monotonic()
        zero = wait_for(lambda: [t for t, m in peer.take("twist") if t >= t_stall and is_zero(m)], 3.0)
        assert zero, "the arm was not stopped after the cameras stalled"
        assert zero[0] - t_stall <= WATCHDOG + 0.15, f"stopped {zero[0] - t_stall:.2f} s after the stall"
        time.sleep(0.5)
        assert not [m for t, m in peer.take("twist") if t > zero[0] and not is_zero(m)]
    finally:
        peer.cameras_on = True
        _wait(handle.cancel_goal_async())
        _wait(handle.get_result_async())


def test_empty_instruction_is_refused_with_a_message(graph, peer):
    handle = send(graph, "   ")
    res = _wait(handle.get_result_async()).result
    assert not res.success and "empty" in res.message


def test_second_goal_preempts_the_first(graph, peer):
    first = send(graph, "move forward", timeout_s=20.0)
    time.sleep(0.5)
    second = send(graph, "move forward again", timeout_s=1.5)
    res1 = _wait(first.get_result_async()).result
    assert not res1.success and "preempted" in res1.message
    res2 = _wait(second.get_result_async()).result
    assert "timed out" in res2.message, "the newer goal must run to its own end"


def test_bad_image_encoding_is_dropped_and_the_node_recovers(graph, peer):
    peer.bad_encoding = True
    handle = send(graph, "move forward", timeout_s=20.0)
    try:
        time.sleep(0.7)
        peer.clear()
        time.sleep(0.5)
        assert not peer.take("observation"), "frames with an unsupported encoding reached the graph"
        assert "unsupported image encoding 'yuv422'" in graph.log("camera_sync")
        peer.bad_encoding = False
        assert wait_for(lambda: peer.take("observation"), 5.0), "camera_sync did not recover"
    finally:
        peer.bad_encoding = False
        _wait(handle.cancel_goal_async())
        _wait(handle.get_result_async())


def _chunk(values: np.ndarray, stamp, episode: str) -> ActionChunk:
    msg = ActionChunk()
    msg.header.stamp = stamp
    msg.header.frame_id = "base_link"
    msg.observation_stamp = stamp
    msg.episode_id = episode
    msg.policy = "test-injector"
    msg.horizon, msg.action_dim, msg.dt = values.shape[0], 7, 0.1
    msg.values = values.astype(np.float32).reshape(-1).tolist()
    return msg


def test_nan_and_huge_actions_never_reach_the_arm(graph, peer):
    peer.clear()
    handle = send(graph, "move forward", timeout_s=20.0)
    try:
        episode = wait_for(lambda: [m.episode_id for _, m in peer.take("instruction") if m.active], 5)[-1]
        for i in range(20):
            stamp = peer.now_stamp()
            bad = np.full((10, 7), np.nan) if i % 2 else np.full((10, 7), 50.0)
            peer.chunk_pub.publish(_chunk(bad, stamp, episode))
            cmd = ArmCommand()
            cmd.header.stamp = stamp
            cmd.observation_stamp = stamp
            cmd.episode_id = episode
            cmd.twist.linear.x = float("inf") if i % 2 else 1e6
            cmd.twist.angular.z = float("nan") if i % 3 == 0 else -1e3
            cmd.gripper = float("nan")
            peer.arm_pub.publish(cmd)
            time.sleep(0.02)
        time.sleep(0.3)
        assert_all_twists_within_limits(peer)
        assert_all_sent_within_limits(peer)
        assert "rejected action chunk" in graph.log("action_smoother")
        assert "safety:" in graph.log("kinova_control") or "stopped" in graph.log("kinova_control")
    finally:
        _wait(handle.cancel_goal_async())
        _wait(handle.get_result_async())
    assert all(graph.alive().values())


def test_out_of_order_camera_stamps_are_dropped(graph, peer):
    peer.clear()
    handle = send(graph, "move forward", timeout_s=20.0)
    try:
        assert wait_for(lambda: peer.take("observation"), 5.0)
        old = to_time(time.time() - 5.0)
        msg = Image(height=2, width=2, encoding="rgb8", step=6, data=bytes(12))
        msg.header.stamp = old
        for pub in peer.cam_pubs:
            pub.publish(msg)
        time.sleep(0.3)
        stamps = [o.header.stamp.sec + o.header.stamp.nanosec * 1e-9 for _, o in peer.take("observation")]
        assert np.all(np.diff(stamps) > 0), "observation stamps went backwards"
    finally:
        _wait(handle.cancel_goal_async())
        _wait(handle.get_result_async())
