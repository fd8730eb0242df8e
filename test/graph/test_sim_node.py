"""The sim node on the real ros2_kortex topic names: joint states, cameras, twist, gripper, reset."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("robovla.msg", reason="interfaces not built: run `make setup`")

from control_msgs.action import ParallelGripperCommand  # noqa: E402
from controller_manager_msgs.srv import ListControllers, SwitchController  # noqa: E402
from example_interfaces.msg import Bool  # noqa: E402
from example_interfaces.srv import Trigger  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from robovla.control import kinematics  # noqa: E402
from robovla.nodes.common import qos, topics  # noqa: E402
from robovla.srv import ResetSim  # noqa: E402


@pytest.fixture(scope="module")
def sim_proc(tmp_path_factory):
    log = tmp_path_factory.mktemp("sim") / "sim.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1", MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "robovla.nodes.sim", "--ros-args", "-p", "task:=lift_block", "-p", "seed:=0"],
            stdout=fh, stderr=subprocess.STDOUT, env=env,
        )
    yield proc
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _spin_until(node, cond, timeout=20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
        if cond():
            return True
    return False


def _call(node, srv_type, name: str, request):
    client = node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=10.0), f"no {name}"
    future = client.call_async(request)
    assert _spin_until(node, future.done, 10.0), f"{name} did not answer"
    return future.result()


def test_sim_node_speaks_kortex_interfaces(sim_proc) -> None:
    rclpy.init()
    node = Node("sim_test_peer")
    try:
        joints: list[JointState] = []
        images: dict[str, Image] = {}
        node.create_subscription(JointState, topics.JOINT_STATES, joints.append, qos.SENSOR)
        for cam in ("front", "wrist"):
            node.create_subscription(Image, topics.camera_topic(cam), lambda m, c=cam: images.__setitem__(c, m), qos.SENSOR)
        description: list[String] = []
        node.create_subscription(String, "robot_description", description.append, qos.LATCHED)
        assert _spin_until(node, lambda: joints and len(images) == 2, 60.0), "no joint states / images from the sim"
        assert _spin_until(node, lambda: description, 10.0), "no latched robot_description for RViz"
        urdf = ET.fromstring(description[0].data)
        assert {j.get("name") for j in urdf.findall("joint")} >= set(kinematics.GEN3_JOINT_NAMES)
        js = joints[-1]
        assert list(js.name) == list(kinematics.GEN3_JOINT_NAMES) + ["robotiq_85_left_knuckle_joint"]
        img = images["front"]
        assert (img.width, img.height, img.encoding) == (224, 224, "rgb8")

        # as kortex_bringup leaves it: twist_controller inactive, so a Twist moves nothing
        pub = node.create_publisher(Twist, topics.TWIST_COMMANDS, qos.COMMAND)
        msg = Twist()
        msg.linear.x = 0.05
        q_before = np.array(joints[-1].position[:7])
        end = time.monotonic() + 0.6
        while time.monotonic() < end:
            pub.publish(msg)
            rclpy.spin_once(node, timeout_sec=0.05)
        assert np.abs(np.array(joints[-1].position[:7]) - q_before).max() < 1e-4, "inactive controller moved the arm"
        states = _call(node, ListControllers, topics.LIST_CONTROLLERS, ListControllers.Request())
        assert {c.name: c.state for c in states.controller}["twist_controller"] == "inactive"
        refused = _call(node, SwitchController, topics.SWITCH_CONTROLLER,
                        SwitchController.Request(activate_controllers=["twist_controller"], strictness=2))
        assert not refused.ok and "cannot be active together" in refused.message
        switched = _call(node, SwitchController, topics.SWITCH_CONTROLLER, SwitchController.Request(
            activate_controllers=["twist_controller"], deactivate_controllers=["joint_trajectory_controller"],
            strictness=2, activate_asap=True))
        assert switched.ok, switched.message

        # twist +x in the tool frame moves the end effector along the tool x axis
        q0 = np.array(joints[-1].position[:7])
        t0 = kinematics.forward_kinematics(q0)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            pub.publish(msg)
            rclpy.spin_once(node, timeout_sec=0.05)
        pub.publish(Twist())
        _spin_until(node, lambda: False, 0.5)
        t1 = kinematics.forward_kinematics(np.array(joints[-1].position[:7]))
        disp = t1[:3, 3] - t0[:3, 3]
        assert np.linalg.norm(disp) > 0.02
        assert disp @ t0[:3, 0] / np.linalg.norm(disp) > 0.95

        # gripper action closes to ~0.8
        client = ActionClient(node, ParallelGripperCommand, topics.GRIPPER_ACTION)
        assert client.wait_for_server(timeout_sec=10.0)
        goal = ParallelGripperCommand.Goal()
        goal.command.name = ["robotiq_85_left_knuckle_joint"]
        goal.command.position = [0.8]
        fut = client.send_goal_async(goal)
        assert _spin_until(node, fut.done, 10.0)
        res_fut = fut.result().get_result_async()
        assert _spin_until(node, res_fut.done, 10.0)
        assert res_fut.result().result.state.position[0] > 0.7

        # reset service
        cli = node.create_client(ResetSim, topics.RESET_SIM)
        assert cli.wait_for_service(timeout_sec=10.0)
        req = ResetSim.Request(task="open_drawer", seed=3)
        fut = cli.call_async(req)
        assert _spin_until(node, fut.done, 10.0)
        resp = fut.result()
        assert resp.success and resp.task == "open_drawer" and "drawer" in resp.instruction
        bad = cli.call_async(ResetSim.Request(task="juggle", seed=0))
        assert _spin_until(node, bad.done, 10.0)
        assert not bad.result().success and "unknown task" in bad.result().message
        # a chain link that is not feasible from the scene (the drawer is already closed)
        nope = cli.call_async(ResetSim.Request(task="close_drawer", seed=1, keep_scene=True))
        assert _spin_until(node, nope.done, 10.0)
        assert not nope.result().success and "not feasible" in nope.result().message

        def moved_during(twist: Twist, seconds: float) -> float:
            q0 = np.array(joints[-1].position[:7])
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                pub.publish(twist)
                rclpy.spin_once(node, timeout_sec=0.02)
            return float(np.abs(np.array(joints[-1].position[:7]) - q0).max())

        # NaN twist: refused, the arm holds still and the node keeps serving
        _spin_until(node, lambda: False, 0.3)  # joint states of the new scene
        nan = Twist()
        nan.linear.x = float("nan")
        assert moved_during(nan, 0.5) < 1e-3
        # far beyond the driver's limits: clipped to 0.5 m/s, not obeyed
        fast = Twist()
        fast.linear.z = 50.0
        q0 = np.array(joints[-1].position[:7])
        p0 = kinematics.forward_kinematics(q0)[:3, 3]
        t0_wall = time.monotonic()
        moved_during(fast, 0.3)
        pub.publish(Twist())
        elapsed = time.monotonic() - t0_wall
        p1 = kinematics.forward_kinematics(np.array(joints[-1].position[:7]))[:3, 3]
        assert 0.01 < np.linalg.norm(p1 - p0) <= 0.5 * elapsed + 0.02
        # a reset during motion is clean: the arm starts the new scene at rest
        moving = Twist()
        moving.linear.x = 0.1
        moved_during(moving, 0.3)
        fut = cli.call_async(ResetSim.Request(task="lift_block", seed=4))
        assert _spin_until(node, fut.done, 10.0) and fut.result().success
        _spin_until(node, lambda: False, 0.3)
        settled = np.array(joints[-1].velocity[:7])
        assert np.abs(settled).max() < 0.05, f"arm still moving after reset: {settled}"

        # a fault stops the arm; the driver's reset resumes the latched twist (as the real one does)
        faults: list = []
        node.create_subscription(Bool, topics.INTERNAL_FAULT, faults.append, qos.COMMAND)
        moving.linear.x = 0.05
        moved_during(moving, 0.2)
        assert _call(node, Trigger, topics.SIM_INJECT_FAULT, Trigger.Request()).success
        assert _spin_until(node, lambda: faults and faults[-1].data, 5.0), "fault_controller/internal_fault says so"
        _spin_until(node, lambda: False, 0.3)  # the servos settle from the motion
        q_fault = np.array(joints[-1].position[:7])
        _spin_until(node, lambda: False, 0.5)
        assert np.abs(np.array(joints[-1].position[:7]) - q_fault).max() < 2e-3, "a faulted arm holds"
        assert _call(node, Trigger, topics.RESET_FAULT, Trigger.Request()).success
        q_reset = np.array(joints[-1].position[:7])
        _spin_until(node, lambda: False, 0.5)
        assert np.abs(np.array(joints[-1].position[:7]) - q_reset).max() > 5e-3, "the latched twist resumed"
        pub.publish(Twist())
    finally:
        node.destroy_node()
        rclpy.shutdown()


def test_blank_cameras_control_publishes_black_frames(tmp_path) -> None:
    """`robovla eval --control blank-cameras`: the frames the graph gets are black, and only those."""
    domain = (int(os.environ.get("ROS_DOMAIN_ID") or 0) + 50) % 100 + 1  # away from the module's other sim
    env = dict(os.environ, PYTHONUNBUFFERED="1", MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"), ROS_DOMAIN_ID=str(domain))
    with open(tmp_path / "sim.log", "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "robovla.nodes.sim", "--ros-args", "-p", "task:=lift_block",
                                 "-p", "blank_cameras:=true", "-p", "image_size:=32"],
                                stdout=fh, stderr=subprocess.STDOUT, env=env)
    rclpy.init(domain_id=domain)
    node = Node("blank_camera_probe")
    frames: dict[str, Image] = {}
    try:
        for cam in ("front", "wrist"):
            node.create_subscription(Image, topics.camera_topic(cam), lambda m, c=cam: frames.setdefault(c, m), qos.SENSOR)
        assert _spin_until(node, lambda: len(frames) == 2, 60.0), (tmp_path / "sim.log").read_text()
        for cam, msg in frames.items():
            pixels = np.frombuffer(bytes(msg.data), dtype=np.uint8)
            assert msg.width == 32 and pixels.size == 32 * 32 * 3 and not pixels.any(), f"{cam} frame is not black"
    finally:
        node.destroy_node()
        rclpy.shutdown()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
