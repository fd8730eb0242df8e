"""task_manager's step count in lock-step does not depend on which message came first.

In a lock-stepped sim the chunk answering the last frame before the deadline has been acted on
before the sim publishes the /clock that ends the episode, but it reaches task_manager on
another path and can come after that /clock on a loaded machine (one run counted 149 steps,
another 150, for the same timed-out episode). Here this test plays the sim: it steps /clock and
sends a chunk per frame, the last one after the deadline has passed, and the result must count it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402

from cli_helpers import install_env, interrupt  # noqa: E402
from robovla.action import ExecuteInstruction  # noqa: E402
from robovla.msg import ActionChunk, Instruction  # noqa: E402
from robovla.nodes.common import qos, topics  # noqa: E402
from robovla.nodes.common.background import BackgroundSpinner  # noqa: E402
from robovla.nodes.common.action_goals import GoalStatusWatch, send_goal  # noqa: E402

pytestmark = pytest.mark.ros

T0_NS = 1_000_000 * 10**9  # the sim's clock, held at a whole second between episodes
DT_NS = 20_000_000  # 50 Hz control
FRAME_EVERY = 5  # 10 Hz frames, the policy period


def _stamp(ns: int) -> Time:
    return Time(sec=ns // 10**9, nanosec=ns % 10**9)


def _wait(fut, timeout: float = 30.0):
    done = threading.Event()
    fut.add_done_callback(lambda f: done.set())
    assert done.wait(timeout)
    return fut.result()


@pytest.mark.parametrize("late", [False, True], ids=["in-order", "last-chunk-after-the-deadline"])
def test_lockstep_steps_count_the_last_frame_whatever_came_first(tmp_path: Path, late: bool) -> None:
    log = tmp_path / "task_manager.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from robovla.nodes.task_manager import main; raise SystemExit(main())",
                                 "--ros-args",
                                 "-p", "use_sim_time:=true", "-p", "require_arm:=false",
                                 "-p", "success_source:=none", "-p", "lockstep_frame_period_s:=0.1"],
                                env=install_env(PYTHONUNBUFFERED="1"), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    spinner = BackgroundSpinner("task-manager-steps")
    node = spinner.add(Node("fake_lockstep_sim", context=spinner.context))
    episode: list[str] = []
    node.create_subscription(Instruction, topics.INSTRUCTION,
                             lambda m: episode.append(m.episode_id) if m.active else None, qos.LATCHED)
    clock = node.create_publisher(Clock, topics.CLOCK, qos.LATEST)
    chunks = node.create_publisher(ActionChunk, topics.ACTION_CHUNK, qos.COMMAND)
    now = [T0_NS]
    idle = node.create_timer(0.01, lambda: clock.publish(Clock(clock=_stamp(now[0]))))
    spinner.start()
    try:
        ac = ActionClient(node, ExecuteInstruction, topics.EXECUTE_INSTRUCTION)
        status = GoalStatusWatch(node, topics.EXECUTE_INSTRUCTION)
        assert ac.wait_for_server(timeout_sec=60), log.read_text()
        deadline = time.monotonic() + 30
        while chunks.get_subscription_count() == 0 or clock.get_subscription_count() == 0:
            assert time.monotonic() < deadline, "task_manager never subscribed"
            time.sleep(0.05)
        # the request or its acceptance reply can be lost to a client this new (action_goals says why)
        steps: list[int] = []
        handle = send_goal(ac, ExecuteInstruction.Goal(instruction="wave the arm", timeout_s=1.0), status,
                           lambda m: steps.append(m.feedback.step), reply_wait_s=30.0)
        assert handle.accepted
        deadline = time.monotonic() + 30
        while not episode:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)

        def chunk(frame_ns: int) -> None:
            msg = ActionChunk(observation_stamp=_stamp(frame_ns), episode_id=episode[-1], horizon=1, action_dim=7,
                              dt=0.1, values=[0.0] * 7)
            msg.header.stamp = _stamp(frame_ns)
            chunks.publish(msg)

        # a chunk answering the held clock's frame, counted once task_manager's feedback says so:
        # the chunk path is up at both ends before the clock moves (on a loaded CI machine all ten
        # chunks once went before task_manager had matched this publisher, and it counted 0)
        chunk(T0_NS)
        deadline = time.monotonic() + 30
        while not any(s >= 1 for s in steps):
            assert time.monotonic() < deadline, ("task_manager never counted the first chunk", steps, log.read_text())
            time.sleep(0.02)
        idle.cancel()

        frames = []
        for k in range(1, 60):  # 1.18 s: past the 1.0 s deadline
            t = T0_NS + k * DT_NS
            now[0] = t
            clock.publish(Clock(clock=_stamp(t)))
            if (k - 1) % FRAME_EVERY == 0 and t <= T0_NS + 10**9:
                frames.append(t)
                if not (late and len(frames) == 10):
                    chunk(t)
            time.sleep(0.005)
        assert len(frames) == 10, "frames at 0.02, 0.12, ..., 0.92 s"
        if late:
            time.sleep(0.3)  # the episode has timed out by now: its last chunk comes after that
            chunk(frames[-1])
        result = _wait(handle.get_result_async()).result
        assert not result.success and result.message.startswith("timed out"), result.message
        assert result.steps == 11, (result.steps, result.message)  # the first chunk and one per frame
        assert abs(result.duration_s - 1.0) < 1e-3
    finally:
        spinner.close()
        interrupt(proc)
