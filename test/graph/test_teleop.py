"""`robovla teleop --sim` as an operator uses it, through the installed command: keys typed into
its terminal input (a pipe: the same reader, no tty), a gamepad's sensor_msgs/Joy published on the
graph. The operator's commands go through kinova_control to the sim's ros2_kortex interfaces; the
recorder writes the episodes; the kept ones train beside scripted-expert demonstrations.

Each step waits for what the program prints, not for a fixed time, so a loaded machine only
makes it slower."""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import ROOT, assert_ok, install_env, interrupt, robovla, robovla_command
from graph_helpers import wait_for
from test_supervisor import Bringup, wait_graph_ready
from robovla.control import kinematics
from robovla.data.bag_reader import find_episode_bags, read_episode_bag

pytestmark = pytest.mark.ros


class Operator:
    """A terminal session of `robovla teleop`: type keys, wait for lines."""

    def __init__(self, *args: str, log_dir: Path | None = None) -> None:
        own_graph = ["--sim", "--logs", str(log_dir)] if log_dir is not None else []  # else: a running graph
        self.proc = subprocess.Popen([robovla_command(), "teleop", *own_graph, *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=install_env(), cwd=ROOT, bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, pattern: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s; output:\n" + "\n".join(self.seen[-60:]))

    def type(self, keys: str) -> None:
        self.proc.stdin.write(keys)
        self.proc.stdin.flush()

    def hold(self, key: str, seconds: float, repeat_s: float = 0.1) -> None:
        """A held key, as a terminal's auto-repeat sends it."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.type(key)
            time.sleep(repeat_s)

    def episode(self) -> None:
        self.type("\r")
        self.expect(r"episode teleop_\S+ running")


def _ee(q: np.ndarray) -> np.ndarray:
    return kinematics.forward_kinematics(q)[:3, 3]


def test_keyboard_records_two_kept_and_one_discarded_episode_that_train_beside_expert_demos(tmp_path: Path) -> None:
    out = tmp_path / "demos"
    op = Operator("--task", "lift_block", "--out", str(out), log_dir=tmp_path / "logs")
    try:
        op.expect("Enter: start an episode", timeout=240)
        op.episode()
        op.hold("w", 2.0)  # forward
        op.type("g")  # close the gripper
        op.expect("gripper: close")
        time.sleep(0.5)
        op.type("y")
        first = op.expect(r"episode \S+ (written|discarded)")
        assert "written, success" in first, first
        op.episode()
        op.hold("a", 1.0)
        op.type("x")
        second = op.expect(r"episode \S+ (written|discarded)")
        assert "discarded to" in second and "_discarded" in second, second
        op.episode()
        op.hold("r", 2.0)  # up
        op.type("y")
        assert "written, success" in op.expect(r"episode \S+ (written|discarded)")
        op.type("q")
        op.expect(r"2 episode\(s\) kept \(2 successful, 0 failed\), 1 discarded")
        assert op.proc.wait(60) == 0, "\n".join(op.seen[-40:])
    finally:
        interrupt(op.proc)

    bags = find_episode_bags(out)
    assert len(bags) == 2, bags
    assert len([p for p in (out / "_discarded").iterdir() if p.is_dir()]) == 1
    forward, up = (read_episode_bag(b, image_size=(64, 64)) for b in bags)
    for ep in (forward, up):
        assert ep.metadata.success and ep.metadata.finished and not ep.incomplete
        assert ep.instruction, "the sim's phrasing of lift_block is recorded"
        assert set(ep.camera_frames) == {"front", "wrist"} and min(len(f) for f in ep.camera_frames.values()) > 10
        assert len(ep.command_t) > 10, "the operator's commands are recorded as the policy's are"
    moved = _ee(forward.joint_q[-1]) - _ee(forward.joint_q[0])
    assert moved[0] > 0.03 and abs(moved[2]) < 0.03, f"w moves the fingers forward: {moved}"
    assert forward.gripper.max() > 0.5, "g closed the gripper (the sim session opens it at the episode end)"
    rose = _ee(up.joint_q[-1]) - _ee(up.joint_q[0])
    assert rose[2] > 0.03, f"r moves the fingers up: {rose}"

    # the teleoperated bags train beside scripted-expert bags, through the same reader
    expert = tmp_path / "expert"
    assert_ok(robovla("collect", "--offline", "--episodes", "1", "--tasks", "lift_block", "--out", str(expert),
                      cwd=tmp_path))
    run = tmp_path / "run"
    proc = robovla("train", "--data", str(out), str(expert), "--out", str(run), "--preset", "tiny", "--steps", "2",
                   "--set", "eval_every=0", "--no-progress", cwd=tmp_path)
    assert_ok(proc)
    assert (run / "checkpoint" / "vla_config.yaml").is_file()
    assert re.search(r"\b3 episodes\b", proc.stdout + proc.stderr), (proc.stdout + proc.stderr)[-3000:]


def test_gamepad_joy_drives_and_controls_an_episode(tmp_path: Path) -> None:
    from rclpy.node import Node
    from sensor_msgs.msg import Joy

    from robovla.nodes.common.background import BackgroundSpinner

    out = tmp_path / "demos"
    op = Operator("--task", "lift_block", "--out", str(out), "--joy", log_dir=tmp_path / "logs")
    spinner = BackgroundSpinner("gamepad")
    node = spinner.add(Node("test_gamepad", context=spinner.context))
    spinner.start()
    pub = node.create_publisher(Joy, "joy", 10)
    axes, buttons = [0.0] * 8, [0] * 11

    def send(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:  # joy_node's autorepeat: 20 Hz while anything is held
            pub.publish(Joy(axes=axes, buttons=buttons))
            time.sleep(0.05)

    try:
        op.expect("Enter: start an episode", timeout=240)
        assert wait_for(lambda: pub.get_subscription_count() >= 1, 30), "teleop subscribes to joy"
        # a reader drops what a publisher it has not matched yet sends (the publisher side matched
        # first): the first presses after discovery can be lost, as on a real pad, and are repeated
        for _ in range(10):
            buttons[7] = 1  # Start
            send(0.3)
            buttons[7] = 0
            try:
                op.expect("starting an episode", timeout=5.0)
                break
            except AssertionError:
                continue
        op.expect(r"episode teleop_\S+ running")
        axes[1] = 1.0  # stick forward without the deadman: nothing moves
        send(1.0)
        buttons[4] = 1  # LB held: forward
        send(2.0)
        axes[1], buttons[4] = 0.0, 0
        buttons[0] = 1  # A: keep as success
        send(0.3)
        buttons[0] = 0
        assert "written, success" in op.expect(r"episode \S+ (written|discarded)")
        op.type("q")
        op.expect(r"1 episode\(s\) kept")
        assert op.proc.wait(60) == 0
    finally:
        spinner.close()
        interrupt(op.proc)
    (bag,) = find_episode_bags(out)
    ep = read_episode_bag(bag, image_size=(64, 64))
    moved = _ee(ep.joint_q[-1]) - _ee(ep.joint_q[0])
    assert moved[0] > 0.03, f"the stick moved the fingers forward with LB held: {moved}"


def test_a_killed_teleop_leaves_the_arm_still_and_the_recording_recoverable(tmp_path: Path) -> None:
    """`robovla bringup --sim --teleop` (the robot's teleop graph, on the sim) and `robovla teleop`
    attached to it; SIGKILL of teleop while a key holds the arm moving."""
    import signal

    from rclpy.node import Node
    from sensor_msgs.msg import JointState

    from robovla.nodes.common.background import BackgroundSpinner

    demos = tmp_path / "demos"
    graph = Bringup(tmp_path, "--sim", "--teleop", "--set", f"recorder.output_dir={demos}", "--set", "sim.task=lift_block")
    spinner = BackgroundSpinner("joint-watch")
    node = spinner.add(Node("test_joint_watch", context=spinner.context))
    samples: list[tuple[float, np.ndarray, np.ndarray]] = []
    node.create_subscription(JointState, "joint_states",
                             lambda m: samples.append((time.monotonic(), np.array(m.position[:7]), np.array(m.velocity[:7]))),
                             50)
    spinner.start()
    op = None
    try:
        wait_graph_ready(("task_manager", "kinova_control", "safety_monitor", "recorder", "sim"))
        assert "vla_inference" not in graph.pids(), "--teleop runs no policy"
        op = Operator("--instruction", "lift the red block")
        op.expect("Enter: start an episode", timeout=120)
        op.episode()
        op.hold("w", 1.5)
        t_kill = time.monotonic()
        op.proc.send_signal(signal.SIGKILL)  # the key is still held: the arm moves
        op.proc.wait(10)
        moving = [np.abs(v).max() for t, _, v in samples if t_kill - 0.5 <= t <= t_kill]
        assert moving and max(moving) > 0.02, f"the arm was moving when teleop died: {moving[-5:]}"
        time.sleep(1.5)
        t0 = time.monotonic()
        assert wait_for(lambda: samples and samples[-1][0] > t0 + 1.0, 10)
        after = [(q, v) for t, q, v in samples if t >= t0]
        assert max(np.abs(v).max() for _, v in after) < 0.01, "the arm still moves after teleop died"
        drift = np.linalg.norm(_ee(after[-1][0]) - _ee(after[0][0]))
        assert drift < 0.002, f"the fingers moved {drift * 1000:.1f} mm with no operator"
        graph.proc.send_signal(signal.SIGINT)
        assert graph.proc.wait(60) == 0, graph.text() + graph.logs()
    finally:
        if op is not None:
            interrupt(op.proc)
        graph.kill()
        spinner.close()
    partial = [p for p in (demos / "_incomplete").iterdir() if p.is_dir()]
    assert len(partial) == 1, "the interrupted episode stays recoverable (robovla record --recover)"
    assert find_episode_bags(demos) == []
