"""sim: the MuJoCo Gen3 behind ros2_kortex's interfaces (the embedded default robot).

Speaks exactly what the real driver does, and behaves as it does (robovla.sim.kortex_driver: the
controllers kortex_bringup leaves active, the latched twist, Jazzy's JTC rules, faults), so
nothing upstream knows the arm is simulated and the harness fails where the real arm would:
  srv  /controller_manager/list_controllers, /controller_manager/switch_controller
       (twist_controller starts inactive; it and joint_trajectory_controller are exclusive)
  sub  twist_controller/commands                 geometry_msgs/Twist, TOOL frame, m/s + deg/s, no timeout
  sub  joint_trajectory_controller/joint_trajectory  trajectory_msgs/JointTrajectory (JTC acceptance rules)
  act  robotiq_gripper_controller/gripper_cmd    control_msgs/ParallelGripperCommand (0 open .. 0.8 closed)
  pub  joint_states (joint_1..7 + robotiq_85_left_knuckle_joint; reliable, as joint_state_broadcaster),
       camera/<name>/image_raw (rgb8), /tf, robot_description (URDF from the MJCF, latched, for RViz),
       fault_controller/internal_fault (example_interfaces/Bool)
  srv  fault_controller/reset_fault (example_interfaces/Trigger; the latched twist resumes, as on the arm)
plus the simulator's own: robovla/task_outcome when the running task's checker fires for the
current episode (robovla/instruction), the sim/reset service (robovla/srv/ResetSim: a new
seeded scene, or with keep_scene the next task of a CALVIN-style chain from the scene as it is),
and sim/inject_fault (example_interfaces/Trigger: the arm faults, as it would on a joint jump).

It never shares a graph with a real driver (or another sim): before it serves anything it looks
for another joint_states publisher or controller_manager/list_controllers server and, if one is
there, logs who and exits 1; one that appears later stops it too. Two of them would drive one
/joint_states and answer each other's controller switches.

With `expert: true` the scripted expert drives the arm the way a policy does: from privileged
state it publishes robovla/arm_command (what action_smoother publishes) while an instruction is
active, so its commands reach the arm through kinova_control and the ros2_kortex interfaces.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from control_msgs.action import ParallelGripperCommand
from geometry_msgs.msg import TransformStamped, Twist
from rclpy.action import ActionServer
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage
from trajectory_msgs.msg import JointTrajectory

from robovla.control import kinematics
from robovla.msg import ArmCommand, Instruction, TaskOutcome
from robovla.nodes.common import qos, topics
from robovla.nodes.common.convert import rgb_to_image, to_sec
from robovla.nodes.common.kortex_standin import DriverInterfaces, other_drivers
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run, side_node
from robovla.sim.config import SimConfig, camera_due
from robovla.sim.env import Gen3SimEnv
from robovla.sim.expert import ScriptedExpert, action_to_velocity
from robovla.sim.kortex_driver import KortexDriverModel
from robovla.sim.tasks import get_task
from robovla.sim.urdf import ARM_LINKS, gen3_urdf
from robovla.srv import ResetSim

GRIPPER_JOINT = "robotiq_85_left_knuckle_joint"
_TF_LINKS = ARM_LINKS[1:]  # every arm link below base_link, the frames of the URDF it publishes


@dataclass
class SimNodeParams:
    config_file: str = ""  # SimConfig YAML (config/sim.yaml); empty = defaults
    real_time: bool = True  # False: step as fast as possible
    speed: float = 1.0  # with real_time: sim seconds per wall second (2.0 = twice real time)
    expert: bool = False  # scripted expert publishes arm commands while an instruction is active
    expert_noise: float = 0.0  # m/s std of the expert's velocity noise (demonstration diversity)
    expert_approach_jitter: float = 0.0  # m: offset of the expert's hover waypoints (recoveries in demos)
    camera_hz: float = 15.0  # image publishing rate (sim time)
    task: str = ""  # task at start ("" = neutral scene until sim/reset)
    seed: int = 0
    split: str = "train"  # instruction phrasings: train | eval | all
    chain_tasks: list[str] = field(default_factory=list)  # tasks a chain may continue with ([] = all)
    driver_distro: str = "jazzy"  # whose JTC rules the driver stand-in applies: jazzy | humble | kilted
    fault_rate_hz: float = 1.0  # fault_controller/internal_fault rate (sim time), and at once on a change
    driver_check_s: float = 1.0  # at start, how long discovery may take to show a driver already there (0: no check)
    driver_watch_period_s: float = 1.0  # then, how often to look for a second joint_states publisher (0: never)

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError("speed must be positive")
        if not self.camera_hz > 0:
            raise ValueError("camera_hz must be positive")
        if self.split not in ("train", "eval", "all"):
            raise ValueError(f"split must be train, eval or all, got {self.split!r}")
        for name in self.chain_tasks:
            get_task(name)  # an unknown name fails at startup, naming the choices


class DriverConflict(RuntimeError):
    """Another driver is on the graph: the sim must not serve next to it."""


#: set when the sim stopped because of another driver, so that main() exits non-zero
REFUSED = threading.Event()


class SimNode(Node):
    def __init__(self) -> None:
        super().__init__("sim")
        joined = time.monotonic()  # discovery runs while the scene loads
        self.p = declare_config(self, SimNodeParams)
        cfg = SimConfig.from_yaml(self.p.config_file) if self.p.config_file else SimConfig()
        self.env = Gen3SimEnv(cfg)
        self.lock = threading.Lock()
        self.episode = self.env.reset(self.p.task or None, self.p.seed, split=self.p.split)
        self.sim_state = self.env.state()  # privileged state after the last step: checker + expert read it
        self.seed = self.p.seed
        self.episode_id = ""
        self.reported = False
        if self.p.driver_check_s > 0:
            others = other_drivers(self, wait_s=joined + self.p.driver_check_s - time.monotonic())
            if others:
                self.env.close()
                raise DriverConflict(self._refusal(others))
        self.driver = KortexDriverModel(tuple(kinematics.GEN3_JOINT_NAMES), distro=self.p.driver_distro)
        # joint_state_broadcaster publishes reliable (the default QoS): so does the stand-in, and a
        # best-effort subscriber (the graph's) matches both
        self.joint_pub = self.create_publisher(JointState, topics.JOINT_STATES, qos.JOINT_STATES)
        self.cam_pubs = {c: self.create_publisher(Image, topics.camera_topic(c), qos.SENSOR) for c in cfg.cameras}
        self.tf_pub = self.create_publisher(TFMessage, "/tf", 10)
        # what robot_state_publisher provides on a real arm: RViz's RobotModel reads it
        self.description_pub = self.create_publisher(String, "robot_description", qos.LATCHED)
        self.description_pub.publish(String(data=gen3_urdf(self.env.model)))
        self.outcome_pub = self.create_publisher(TaskOutcome, topics.TASK_OUTCOME, qos.COMMAND)
        self.active = False
        self.expert: ScriptedExpert | None = None
        self.command_pub = None
        if self.p.expert:
            self.expert = ScriptedExpert(dt=cfg.control_dt, noise=self.p.expert_noise, seed=self.p.seed,
                                         approach_jitter=self.p.expert_approach_jitter)
            self.command_pub = self.create_publisher(ArmCommand, topics.ARM_COMMAND, qos.COMMAND)
            self._expert_episode = ""
        self.create_subscription(Twist, topics.TWIST_COMMANDS, self._on_twist, qos.COMMAND)
        self.create_subscription(
            JointTrajectory, topics.JOINT_TRAJECTORY, self._on_trajectory, qos.COMMAND,
        )
        self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction, qos.LATCHED)
        ActionServer(side_node(self), ParallelGripperCommand, topics.GRIPPER_ACTION, self._on_gripper,
                     callback_group=ReentrantCallbackGroup())
        self.create_service(ResetSim, topics.RESET_SIM, self._on_reset)
        self.driver_interfaces = DriverInterfaces(self, self.driver, self.lock, self._on_driver_change)
        self._fault_published: bool | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sim-loop", daemon=True)
        self._thread.start()
        if self.p.driver_watch_period_s > 0:
            self.create_timer(self.p.driver_watch_period_s, self._watch_drivers)
        self.get_logger().info(
            f"sim ready: task={self.p.task or '-'} real_time={self.p.real_time} speed={self.p.speed} "
            f"expert={self.p.expert} cameras={list(cfg.cameras)}"
        )

    # ---------------------------------------------------------------- another driver
    def _refusal(self, others: list[str]) -> str:
        text = (f"another driver is on this ROS graph: {'; '.join(others)}. The sim and a real arm (or a second "
                f"sim) must never both drive joint_states: stop it, or run the sim on another ROS_DOMAIN_ID")
        REFUSED.set()
        self.get_logger().error(text)
        return text

    def _watch_drivers(self) -> None:
        """A driver started after the sim: stop publishing, then end the process (exit 1)."""
        if self.count_publishers(topics.JOINT_STATES) <= 1:
            return
        others = other_drivers(self, joint_states_own=1)
        if others and not self._stop.is_set():
            self._stop.set()  # the loop publishes no more
            self._refusal(others)
            os.kill(os.getpid(), signal.SIGTERM)  # robovla.nodes.common.runner's clean shutdown

    # ---------------------------------------------------------------- commands
    def _on_twist(self, msg: Twist) -> None:
        lin = [msg.linear.x, msg.linear.y, msg.linear.z]
        ang = [msg.angular.x, msg.angular.y, msg.angular.z]
        with self.lock:
            if self.driver.on_twist(np.array(lin), np.array(ang)):
                self._drive_from_driver()
            # else: twist_controller is inactive; the real stack drops the message without a word

    def _drive_from_driver(self) -> None:
        """Make the sim do what the driver sends this cycle (called with the lock held)."""
        twist = self.driver.commanded_twist()
        if twist is not None:
            self.env.apply_twist(twist[:3], twist[3:])

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        names = list(msg.joint_names)
        missing = [n for n in kinematics.GEN3_JOINT_NAMES if n not in names]
        if missing or not msg.points:
            self.get_logger().error(f"joint trajectory refused: missing joints {missing} or no points")
            return
        order = [names.index(n) for n in kinematics.GEN3_JOINT_NAMES]
        positions = np.array([[pt.positions[i] for i in order] for pt in msg.points], dtype=float)
        velocities = [[pt.velocities[i] for i in order] if len(pt.velocities) else [] for pt in msg.points]
        times = np.array([to_sec(pt.time_from_start) for pt in msg.points])
        with self.lock:
            why = self.driver.check_trajectory(names, positions.tolist(), velocities, times.tolist())
            if why:
                self.get_logger().error(f"joint_trajectory_controller rejected the trajectory: {why}",
                                        throttle_duration_sec=1.0)
                return
            self.env.apply_joint_trajectory(positions, times)

    def _on_gripper(self, goal_handle):
        cmd = goal_handle.request.command
        result = ParallelGripperCommand.Result()
        if not cmd.position:
            self.get_logger().error("gripper goal refused: command.position is empty")
            goal_handle.abort()
            return result
        target = float(cmd.position[0])
        with self.lock:
            ok = self.env.gripper_command(target)
        if not ok:
            goal_handle.abort()
            return result
        target = min(max(target, 0.0), 0.8)
        last, still, t_end = None, 0, time.monotonic() + 3.0
        while time.monotonic() < t_end:
            time.sleep(0.02)
            with self.lock:
                knuckle = self.env.gripper_knuckle()
            still = still + 1 if last is not None and abs(knuckle - last) < 1e-4 else 0
            last = knuckle
            if abs(knuckle - target) < 0.01 or still >= 5:
                break
        result.state = JointState(name=[GRIPPER_JOINT], position=[float(last or 0.0)])
        result.reached_goal = bool(abs((last or 0.0) - target) < 0.02)
        result.stalled = not result.reached_goal
        goal_handle.succeed()
        return result

    def _on_instruction(self, msg: Instruction) -> None:
        with self.lock:
            if msg.episode_id != self.episode_id:
                self.episode_id, self.reported = msg.episode_id, False
            self.active = bool(msg.active)

    def _on_reset(self, request, response):
        with self.lock:
            self.seed = self.seed + 1 if request.seed < 0 else int(request.seed)
            try:
                if request.keep_scene:
                    task = request.task or None  # empty: any task feasible from here
                    self.episode = self.env.continue_with(task, self.seed, split=self.p.split,
                                                          candidates=self.p.chain_tasks or None)
                    task = self.episode.task.name
                else:
                    task = request.task or (self.episode.task.name if self.episode.task else None)
                    self.episode = self.env.reset(task, self.seed, split=self.p.split)
                self.sim_state = self.env.start_state  # reset/continue_with just computed it
            except (ValueError, RuntimeError) as exc:
                response.success, response.message = False, str(exc)
                return response
            self.reported = False
        response.success = True
        response.task = task or ""
        response.instruction = self.episode.instruction
        how = "continued with" if request.keep_scene else "reset to"
        response.message = f"{how} {task or 'neutral scene'} seed {self.seed}"
        return response

    # ---------------------------------------------------------------- driver stand-in
    def _on_driver_change(self) -> None:
        """After a switch, a fault or a reset (lock held): the arm does what the driver now sends."""
        if self.driver.faulted or (self.driver.commanded_twist() is None and self.env.mode == "twist"):
            self.env.stop()  # a fault stops the arm; an inactive twist_controller drives nothing
        self._drive_from_driver()

    # ---------------------------------------------------------------- loop
    def _loop(self) -> None:
        try:
            self._run_loop()
        finally:
            # The EGL context belongs to the thread that made the renderer (this one): closing it
            # from another thread fails with EGL_BAD_ACCESS and aborts the process at exit.
            with self.lock:
                self.env.close()

    def _run_loop(self) -> None:
        cfg = self.env.config
        k = 0
        next_t = time.monotonic()
        stamp = self.get_clock().now().to_msg()  # of the state published last: what the expert answers
        while not self._stop.is_set():
            with self.lock:
                command = self._expert_command(stamp)
                self.sim_state = self.env.step()
                stamp = self.get_clock().now().to_msg()
                q, knuckle = self.env.joint_positions(), self.env.gripper_knuckle()
                qd = self.env.joint_velocities()
                frames = self.env.render() if camera_due(k, cfg.control_hz, self.p.camera_hz) else None
                tfs = self._transforms(stamp)
                fire = bool(self.episode_id) and not self.reported and self.env.success(self.sim_state)
                if fire:
                    self.reported = True
                episode_id = self.episode_id
            self.joint_pub.publish(
                JointState(
                    header=self._header(stamp, "base_link"),
                    name=list(kinematics.GEN3_JOINT_NAMES) + [GRIPPER_JOINT],
                    position=[float(v) for v in q] + [knuckle],
                    velocity=[float(v) for v in qd] + [0.0],
                )
            )
            if frames is not None:
                for name, img in frames.items():
                    self.cam_pubs[name].publish(rgb_to_image(img, stamp, f"{name}_camera"))
            self.tf_pub.publish(TFMessage(transforms=tfs))
            if command is not None:
                self.command_pub.publish(command)
            if camera_due(k, cfg.control_hz, self.p.fault_rate_hz) or self.driver.faulted != self._fault_published:
                self._fault_published = self.driver.faulted
                self.driver_interfaces.publish_fault_state()
            if fire:
                out = TaskOutcome(episode_id=episode_id, success=True, source="sim",
                                  message=f"{self.episode.task.name}: checker fired")
                out.header.stamp = stamp
                self.outcome_pub.publish(out)
                self.get_logger().info(f"task success for episode {episode_id}")
            k += 1
            if self.p.real_time:
                next_t += cfg.control_dt / self.p.speed
                delay = next_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_t = time.monotonic()

    def _expert_command(self, state_stamp) -> ArmCommand | None:
        """The expert's command answering the state stamped `state_stamp` (called with the lock held)."""
        if self.expert is None or not self.active or not self.episode_id or self.episode.task is None:
            return None
        if self._expert_episode != self.episode_id:
            self.expert.reset(self.episode)
            self._expert_episode = self.episode_id
        linear, angular, gripper = action_to_velocity(self.expert.act(self.sim_state), self.env.config.control_dt)
        cmd = ArmCommand(episode_id=self.episode_id, gripper=gripper)
        cmd.header = self._header(state_stamp, "base_link")
        cmd.observation_stamp = state_stamp
        (cmd.twist.linear.x, cmd.twist.linear.y, cmd.twist.linear.z) = (float(v) for v in linear)
        (cmd.twist.angular.x, cmd.twist.angular.y, cmd.twist.angular.z) = (float(v) for v in angular)
        return cmd

    @staticmethod
    def _header(stamp, frame: str):
        from std_msgs.msg import Header

        return Header(stamp=stamp, frame_id=frame)

    def _transforms(self, stamp) -> list[TransformStamped]:
        out = []
        m, d = self.env.model, self.env.data
        for link in _TF_LINKS:
            b = m.body(link).id
            t = TransformStamped()
            t.header.stamp, t.header.frame_id, t.child_frame_id = stamp, "base_link", link
            t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
                float(v) for v in d.xpos[b]
            )
            w, x, y, z = (float(v) for v in d.xquat[b])
            t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z, t.transform.rotation.w = x, y, z, w
            out.append(t)
        return out

    def on_shutdown(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)  # the loop closes the renderer on its way out
        if self._thread.is_alive():
            self.get_logger().error("sim loop did not stop within 5 s; leaving its renderer open")


NODE = SimNode  # the class robovla.nodes.container instantiates


def main() -> int:
    try:
        code = run(NODE)
    except DriverConflict:  # logged where it was found
        return 1
    return 1 if REFUSED.is_set() else code


if __name__ == "__main__":
    raise SystemExit(main())
