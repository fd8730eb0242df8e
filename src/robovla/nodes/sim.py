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

Time. The sim publishes /clock (rosgraph_msgs/Clock) every control step: simulated time since
the node started plus EPOCH_S (so no valid stamp is 0), never going back (a reset restarts the
scene, not the clock), and stamps all it publishes with it. Every node of a sim graph runs with
use_sim_time (robovla.graph.resolve_graph), so timers, timeouts and stamps follow it.

Lock-step (`lockstep: true`, `robovla eval`'s default): the sim advances one control period only
after the graph has answered the state it published, so compute time never leaks into the closed
loop and a run is a function of checkpoint and seeds. While an episode runs, after publishing the
state for time t the sim waits for robovla/sent_command (what kinova_control sent, after the
Twist it sent) stamped >= t that answers the newest camera frame f with f + latency_model_s <= t
(the expert: the state at t), and, when that command changed the gripper, for the gripper goal.
Each wait is capped at lockstep_timeout_s of wall time: then a warning, a stall counted, and the
sim steps on (after 3 stalls in a row it stops waiting for that episode). With no episode running
the scene holds still (nothing steps, the clock moves on to the next whole second and is
republished): how long a client takes between a reset and its goal changes nothing, and neither
do the episodes run before (_idle). A frame is rendered on the episode's first step and then at
camera_hz (the policy rate in lock-step). Where the wall time of a lock-stepped step goes (physics,
publishing, rendering, the graph's answer) is logged at shutdown (robovla.sim.step_timing).

Goals are grounded in the sim: an instruction that is a phrasing of one of its tasks (any split,
any colours) is judged by that task's checker, on the scene as it is if the task is feasible
there, else on a scene reset for it; the reset's own instruction keeps the reset's episode. An
instruction no task says is judged by nothing. robovla/task_checker (TaskOutcome) tells the task
manager which, for each episode: success=true with the checker, false with why there is none.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
from builtin_interfaces.msg import Time
from control_msgs.action import ParallelGripperCommand
from geometry_msgs.msg import TransformStamped, Twist
from rcl_interfaces.msg import SetParametersResult
from rclpy.action import ActionServer
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.clock import Clock as RclClock, ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage
from trajectory_msgs.msg import JointTrajectory

from robovla.control import kinematics
from robovla.msg import ArmCommand, Instruction, TaskOutcome
from robovla.nodes.common import qos, topics
from robovla.nodes.common.diagnostics import NodeDiagnostics
from robovla.nodes.common.convert import rgb_to_image, to_sec
from robovla.nodes.common.kortex_standin import DriverInterfaces, other_drivers
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run, side_node
from robovla.sim.config import SimConfig, camera_due
from robovla.sim.env import Gen3SimEnv
from robovla.sim.expert import ScriptedExpert, action_to_velocity
from robovla.sim.kortex_driver import KortexDriverModel
from robovla.sim.step_timing import StepTiming
from robovla.sim.tasks import Episode, get_task, goal_task, instruction_words
from robovla.sim.urdf import ARM_LINKS, gen3_urdf
from robovla.srv import ResetSim

GRIPPER_JOINT = "robotiq_85_left_knuckle_joint"
EPOCH_S = 1_000_000  # sim time starts here (s): no stamp the sim publishes is 0, the "unset" stamp
#: kinova_control's gripper hysteresis (KinovaControlParams.gripper_close_above / _open_below): a
#: sent_command target above / below these made it send a close / open goal, which lock-step waits for
GRIPPER_CLOSE_ABOVE, GRIPPER_OPEN_BELOW = 0.6, 0.4
STALLS_IN_A_ROW = 3  # lock-step: after this many waits timed out in one episode, stop waiting in it
_TF_LINKS = ARM_LINKS[1:]  # every arm link below base_link, the frames of the URDF it publishes


@dataclass
class SimNodeParams:
    config_file: str = ""  # SimConfig YAML (config/sim.yaml); empty = defaults
    # camera images' side in pixels, over the config file's (0: the config's); `robovla eval` renders
    # at the checkpoint's input size, so no pixel is drawn, sent and thrown away by camera_sync's resize
    image_size: int = 0
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
    lockstep: bool = False  # step only once the graph answered the last state (module docstring)
    lockstep_timeout_s: float = 5.0  # wall seconds one lock-step wait may take: then warn, count a stall, step on
    latency_model_s: float = 0.0  # lock-step: a frame is answered this long after it (action_smoother's)
    # fault injection: cameras rendered but not published, as a camera driver that stopped;
    # settable while running (`ros2 param set /sim muted_cameras "[wrist]"`), for drills and tests
    muted_cameras: list[str] = field(default_factory=list)
    # control experiment (`robovla eval --control blank-cameras`): every frame goes out black, so a
    # policy that still scores is not using its cameras
    blank_cameras: bool = False

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError("speed must be positive")
        if not (self.lockstep_timeout_s > 0 and self.latency_model_s >= 0):
            raise ValueError("lockstep_timeout_s must be positive and latency_model_s >= 0")
        if not self.camera_hz > 0:
            raise ValueError("camera_hz must be positive")
        if self.image_size < 0:
            raise ValueError(f"image_size must be >= 0 (0: the config file's), got {self.image_size}")
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
        if self.p.image_size:
            cfg = replace(cfg, image_size=self.p.image_size)
        self.env = Gen3SimEnv(cfg)
        self.lock = threading.Lock()
        self.episode = self.env.reset(self.p.task or None, self.p.seed, split=self.p.split)
        self.sim_state = self.env.state()  # privileged state after the last step: checker + expert read it
        self.seed = self.p.seed
        self.episode_id = ""
        self.reported = False
        self.judged = True  # the running episode's instruction has a checker here (grounding)
        self._episode_used = False  # a goal ran on self.episode since the last reset
        self._now_ns = EPOCH_S * 1_000_000_000
        self._dt_ns = int(round(cfg.control_dt * 1e9))
        # lock-step (module docstring); _cv guards the wait and what answers it
        self._cv = threading.Condition()
        self._want: tuple[str, int, int] | None = None  # (episode, stamp ns, observation ns) awaited
        self._sent_ok = self._answered = False
        self._grip_expect: bool | None = None  # closed? as kinova_control's hysteresis last decided
        self._grip_closed = False  # closed? as the last gripper goal set it
        self._kick = threading.Event()  # an instruction or a reset: the idle loop looks again
        self._ep_key, self._ep_steps, self._frames = "", 0, []  # the episode the loop steps
        self._stall_run, self._no_wait, self.stalls = 0, False, 0
        self.timing = StepTiming(cfg.control_dt)  # lock-step: where the wall time of a step goes (logged at shutdown)
        self._timed_obs = 0  # the observation the last timed answer answered (a new one: a policy step)
        if self.p.driver_check_s > 0:
            others = other_drivers(self, wait_s=joined + self.p.driver_check_s - time.monotonic())
            if others:
                self.env.close()
                raise DriverConflict(self._refusal(others))
        self.driver = KortexDriverModel(tuple(kinematics.GEN3_JOINT_NAMES), distro=self.p.driver_distro)
        # joint_state_broadcaster publishes reliable (the default QoS): so does the stand-in, and a
        # best-effort subscriber (the graph's) matches both; lock-step keeps more of them for
        # camera_sync, which may be behind (qos.RELIABLE_SENSOR)
        self.joint_pub = self.create_publisher(JointState, topics.JOINT_STATES,
                                               qos.RELIABLE_SENSOR if self.p.lockstep else qos.JOINT_STATES)
        # lock-step waits for the answer to every frame: images go reliably (a best-effort reader,
        # RViz or a realtime graph's camera_sync, still gets them best effort)
        image_qos = qos.RELIABLE_SENSOR if self.p.lockstep else qos.SENSOR
        self.cam_pubs = {c: self.create_publisher(Image, topics.camera_topic(c), image_qos) for c in cfg.cameras}
        self.muted = self._check_muted(self.p.muted_cameras)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.tf_pub = self.create_publisher(TFMessage, "/tf", 10)
        # what robot_state_publisher provides on a real arm: RViz's RobotModel reads it
        self.description_pub = self.create_publisher(String, "robot_description", qos.LATCHED)
        self.description_pub.publish(String(data=gen3_urdf(self.env.model)))
        self.outcome_pub = self.create_publisher(TaskOutcome, topics.TASK_OUTCOME, qos.COMMAND)
        self.checker_pub = self.create_publisher(TaskOutcome, topics.TASK_CHECKER, qos.COMMAND)
        self.clock_pub = self.create_publisher(Clock, topics.CLOCK, qos.LATEST)
        self.active = False
        self.diag = NodeDiagnostics(self)
        self._steps = self.diag.output("control steps (wall)")
        self.diag.add(lambda t: ([], {"sim time s": f"{self._now_ns * 1e-9 - EPOCH_S:.2f}",
                                       "task": self.episode.task.name if self.episode.task else "-",
                                       "episode": self.episode_id or "-", "lock-step stalls": str(self.stalls)}))
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
        if self.p.lockstep:
            self.create_subscription(ArmCommand, topics.SENT_COMMAND, self._on_sent, qos.COMMAND)
        ActionServer(side_node(self), ParallelGripperCommand, topics.GRIPPER_ACTION, self._on_gripper,
                     callback_group=ReentrantCallbackGroup())
        self.create_service(ResetSim, topics.RESET_SIM, self._on_reset)
        self.driver_interfaces = DriverInterfaces(self, self.driver, self.lock, self._on_driver_change)
        self._fault_published: bool | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sim-loop", daemon=True)
        self._thread.start()
        if self.p.driver_watch_period_s > 0:  # a wall-clock matter: a steady timer
            self.create_timer(self.p.driver_watch_period_s, self._watch_drivers,
                              clock=RclClock(clock_type=ClockType.STEADY_TIME))
        clock = (f"lock-step (latency model {self.p.latency_model_s * 1e3:.0f} ms, cameras {self.p.camera_hz:g} Hz)"
                 if self.p.lockstep else f"real_time={self.p.real_time} speed={self.p.speed}")
        self.get_logger().info(
            f"sim ready: task={self.p.task or '-'} {clock} expert={self.p.expert} cameras={list(cfg.cameras)} "
            f"at {cfg.image_size}x{cfg.image_size}"
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
        with self._cv:
            self._grip_closed = target > 0.4
            self._check_answered()
        target = min(max(target, 0.0), 0.8)
        # wall clock: how long this action waits for the fingers to settle (kinova_control never waits
        # for its result; lock-step waits for the goal itself, above)
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
        checker = None
        with self.lock:
            if msg.episode_id != self.episode_id:
                if msg.active and msg.episode_id:
                    checker = self._ground(msg.instruction, msg.task)
                self.episode_id, self.reported = msg.episode_id, False
            self.active = bool(msg.active)
        with self._cv:
            if checker is not None:
                self._grip_expect = None  # kinova_control sends the first gripper target of an episode
            self._cv.notify_all()
        self._kick.set()
        if checker is not None:
            out = TaskOutcome(episode_id=msg.episode_id, success=checker[0], source="sim", message=checker[1])
            out.header.stamp = self._stamp()
            self.checker_pub.publish(out)
            if checker[0]:
                self.get_logger().info(f"episode {msg.episode_id}: {checker[1]}")
            else:
                self.get_logger().warning(f"episode {msg.episode_id}: {checker[1]}")

    def _ground(self, instruction: str, task_name: str = "") -> tuple[bool, str]:
        """Which checker judges a new goal (lock held): the goal's task if it names one, else the
        task its instruction is a phrasing of (sim.tasks.goal_task); (judged, how or why not)."""
        text = instruction.strip()
        fresh, self._episode_used = not self._episode_used, True
        current = self.episode
        if (fresh and not task_name and current.task is not None
                and instruction_words(text) == instruction_words(current.instruction)):
            self.judged = True
            return True, f"judged by the sim's {current.task.name} checker"
        resolved = goal_task(text, task_name)
        if isinstance(resolved, str):
            self.judged = False
            self.episode = Episode(task=None, params={}, layout=current.layout, instruction=text)
            return False, resolved
        task, params = resolved
        self.judged = True
        if fresh and current.task is task and (params is None or current.params == params):
            return True, f"judged by the sim's {task.name} checker"
        try:
            self.episode = self.env.continue_with(task.name, params=params, instruction=text)
            how = "continued from the scene as it is"
        except ValueError as exc:
            self.seed += 1
            try:
                self.episode = self.env.reset(task.name, self.seed, split=self.p.split, params=params, instruction=text)
            except (ValueError, RuntimeError) as exc2:
                self.judged = False
                self.episode = Episode(task=None, params={}, layout=current.layout, instruction=text)
                return False, f"no success checker: {task.name} fits neither this scene ({exc}) nor a new one ({exc2})"
            how = f"reset to seed {self.seed} ({exc})"
        self.sim_state = self.env.start_state
        return True, f"judged by the sim's {task.name} checker: {how}"

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
            self._episode_used = False
            if not request.keep_scene:
                with self._cv:
                    self._grip_closed = False  # a reset opens the gripper
        self._kick.set()
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

    def _check_muted(self, names: list[str]) -> frozenset[str]:
        unknown = set(names) - set(self.cam_pubs)
        if unknown:
            raise ValueError(f"muted_cameras: no camera {sorted(unknown)}; the sim's are {sorted(self.cam_pubs)}")
        return frozenset(names)

    def _on_set_parameters(self, params: list) -> SetParametersResult:
        for param in params:
            if param.name == "muted_cameras":
                try:
                    muted = self._check_muted(list(param.value or []))
                except ValueError as exc:
                    return SetParametersResult(successful=False, reason=str(exc))
                if muted != self.muted:
                    self.get_logger().warning(f"muted cameras: {sorted(muted) or 'none'} (fault injection)")
                self.muted = muted
        return SetParametersResult(successful=True)

    def _stamp(self) -> Time:
        return Time(sec=self._now_ns // 1_000_000_000, nanosec=self._now_ns % 1_000_000_000)

    def _stepping(self) -> bool:
        """An episode is running that the sim still judges (or runs unjudged)."""
        return self.active and bool(self.episode_id) and not self.reported

    def _run_loop(self) -> None:
        cfg = self.env.config
        k = 0
        next_t = time.monotonic()
        self._publish_still()
        while not self._stop.is_set():
            if self.p.lockstep and not self._stepping():
                self._idle()
                next_t = time.monotonic()
                continue
            self.timing.start()
            with self.lock:
                episode_id = self.episode_id if self.active else ""
                if episode_id != self._ep_key:  # lock-step: the episode's first step
                    self._ep_key, self._ep_steps, self._frames = episode_id, 0, []
                    self._stall_run, self._no_wait = 0, False
                self.sim_state = self.env.step()
                self._now_ns += self._dt_ns
                stamp = self._stamp()
                q, knuckle = self.env.joint_positions(), self.env.gripper_knuckle()
                qd = self.env.joint_velocities()
                phase = self._ep_steps if self.p.lockstep else k  # lock-step: a frame on the first step
                render = camera_due(phase, cfg.control_hz, self.p.camera_hz)
                tfs = self._transforms(stamp) if self.tf_pub.get_subscription_count() else []  # RViz
                fire = (bool(self.episode_id) and not self.reported and self.judged and self.episode.task is not None
                        and self.env.success(self.sim_state))
                if fire:
                    self.reported = True
                command = self._expert_command(stamp)  # answers the state just computed
                want = self._wanted(episode_id, render, command is not None) if self.p.lockstep else None
            self.timing.lap("physics")
            self.joint_pub.publish(
                JointState(
                    header=self._header(stamp, "base_link"),
                    name=list(kinematics.GEN3_JOINT_NAMES) + [GRIPPER_JOINT],
                    position=[float(v) for v in q] + [knuckle],
                    velocity=[float(v) for v in qd] + [0.0],
                )
            )
            self._steps.tick(self.diag.now())
            if tfs:
                self.tf_pub.publish(TFMessage(transforms=tfs))
            # the clock after the joint states: a /clock tick makes the smoother command this step,
            # and kinova_control must place that command with this step's joints (in-order
            # delivery from one process); before the images, so control works while they go out
            self.clock_pub.publish(Clock(clock=stamp))
            self.timing.lap("publish")
            if render:  # while the graph works on this step's command (the twist callbacks leave the scene as it is)
                with self.lock:
                    frames = self.env.render()
                for name, img in frames.items():
                    if name not in self.muted:
                        if self.p.blank_cameras:
                            img = np.zeros_like(img)
                        self.cam_pubs[name].publish(rgb_to_image(img, stamp, f"{name}_camera"))
            if command is not None:
                self.command_pub.publish(command)
            if camera_due(k, cfg.control_hz, self.p.fault_rate_hz) or self.driver.faulted != self._fault_published:
                self._fault_published = self.driver.faulted
                self.driver_interfaces.publish_fault_state()
            self.timing.lap("render")
            if want is not None:
                self._await(want)  # before the outcome: every chunk due by now has been counted
            if self.p.lockstep:
                policy = self.expert is None and want is not None and want[2] != self._timed_obs
                self._timed_obs = want[2] if want is not None else self._timed_obs
                self.timing.end_step(policy, self.timing.lap("answer"))
            if fire:
                out = TaskOutcome(episode_id=episode_id, success=True, source="sim",
                                  message=f"{self.episode.task.name}: checker fired")
                out.header.stamp = stamp
                self.outcome_pub.publish(out)
                self.get_logger().info(f"task success for episode {episode_id} after {self._ep_steps + 1} steps "
                                       f"(sim time {self._now_ns * 1e-9 - EPOCH_S:.2f} s)")
            k += 1
            self._ep_steps += 1
            if self.p.real_time:
                next_t += cfg.control_dt / self.p.speed
                delay = next_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_t = time.monotonic()

    def _publish_still(self) -> None:
        """The clock and the arm before anything has stepped (RViz, late joiners of the state)."""
        with self.lock:
            stamp = self._stamp()
            q, knuckle = self.env.joint_positions(), self.env.gripper_knuckle()
            tfs = self._transforms(stamp)
        self.clock_pub.publish(Clock(clock=stamp))
        self.joint_pub.publish(JointState(header=self._header(stamp, "base_link"),
                                          name=list(kinematics.GEN3_JOINT_NAMES) + [GRIPPER_JOINT],
                                          position=[float(v) for v in q] + [knuckle], velocity=[0.0] * 8))
        self.tf_pub.publish(TFMessage(transforms=tfs))

    def _idle(self) -> None:
        """Lock-step with no episode running: hold the scene, republish the clock (for nodes that
        joined late or lost a best-effort /clock), wake at once on an instruction or a reset.

        The clock first moves on to the next whole second, so every episode starts at nanosec 0:
        each node turns stamps into float seconds (sec + nanosec * 1e-9), and the rounding of that
        depends on the nanoseconds; from a whole second, step k of an episode has the same bits
        whichever episodes ran before it in this graph (`robovla eval --jobs N` deals episodes
        to graphs), so a comparison or a floor on a time difference cannot go the other way."""
        if self._now_ns % 1_000_000_000:
            self._now_ns += 1_000_000_000 - self._now_ns % 1_000_000_000
        self.clock_pub.publish(Clock(clock=self._stamp()))
        if self._kick.wait(0.02):
            self._kick.clear()

    # ---------------------------------------------------------------- lock-step
    def _wanted(self, episode_id: str, rendered: bool, expert_command: bool) -> tuple[str, int, int] | None:
        """What answers this step (lock held, before anything is published): (episode, stamp,
        observation) that robovla/sent_command must reach; None when nothing is owed yet."""
        if not episode_id or self._no_wait:
            want = None
        elif self.expert is not None:
            want = (episode_id, self._now_ns, self._now_ns) if expert_command else None
        else:
            if rendered:
                self._frames.append(self._now_ns)
            latency_ns = int(round(self.p.latency_model_s * 1e9))
            due = [f for f in self._frames if f + latency_ns <= self._now_ns]
            self._frames = self._frames[len(due) - 1:] if due else self._frames
            want = (episode_id, self._now_ns, due[-1]) if due else None
        with self._cv:  # armed before the state goes out: the answer may come at once
            self._want, self._sent_ok, self._answered = want, False, False
        return want

    def _on_sent(self, msg: ArmCommand) -> None:
        """kinova_control reports what it sent, after sending it (Twist / trajectory first, from
        the same thread to this process: the sim has applied it when this arrives)."""
        with self._cv:
            want = self._want
            if want is None or msg.episode_id != want[0]:
                return
            if msg.gripper >= 0:  # kinova_control's hysteresis: a goal went out when the state changed
                if msg.gripper > GRIPPER_CLOSE_ABOVE:
                    self._grip_expect = True
                elif msg.gripper < GRIPPER_OPEN_BELOW:
                    self._grip_expect = False
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            obs = msg.observation_stamp.sec * 1_000_000_000 + msg.observation_stamp.nanosec
            if stamp >= want[1] and obs >= want[2]:
                self._sent_ok = True
            self._check_answered()

    def _check_answered(self) -> None:
        """(_cv held) The command is in, and the gripper goal it implies, if any, too."""
        gripper_done = self._grip_expect is None or self._grip_expect == self._grip_closed
        if self._sent_ok and not self._answered and gripper_done:
            self._answered = True
            self._cv.notify_all()

    def _await(self, want: tuple[str, int, int]) -> None:
        """Wait for the graph's answer to this step, at most lockstep_timeout_s of wall time."""
        with self._cv:
            ok = self._cv.wait_for(lambda: self._answered or self._stop.is_set() or not self.active
                                   or self.episode_id != want[0], self.p.lockstep_timeout_s)
            self._want = None
            missing = ("no command" if not self._sent_ok else
                       f"the gripper goal ({'close' if self._grip_expect else 'open'}) never came")
        if ok:
            self._stall_run = 0
            return
        self.stalls += 1
        self._stall_run += 1
        t = (want[1] - EPOCH_S * 1_000_000_000) * 1e-9
        self.get_logger().warning(
            f"lock-step stall {self.stalls}: no answer from the graph to t={t:.2f} s (observation "
            f"{(want[2] - EPOCH_S * 1_000_000_000) * 1e-9:.2f} s) within {self.p.lockstep_timeout_s:.1f} s "
            f"({missing}); stepping on")
        if self._stall_run >= STALLS_IN_A_ROW:
            self._no_wait = True
            self.get_logger().error(f"lock-step: {STALLS_IN_A_ROW} stalls in a row, episode {want[0]} runs on "
                                    "without waiting for the graph (is a node down, or the policy failing?)")

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
        if self.p.lockstep:
            self.get_logger().info(self.timing.summary())


NODE = SimNode  # the class robovla.nodes.container instantiates


def main() -> int:
    try:
        code = run(NODE)
    except DriverConflict:  # logged where it was found
        return 1
    return 1 if REFUSED.is_set() else code


if __name__ == "__main__":
    raise SystemExit(main())
