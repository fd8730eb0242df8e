"""kinova_control: smoothed commands -> ros2_kortex, behind the safety filter and a watchdog.

Output, as the Kinova Gen3 driver expects it:
  twist mode             geometry_msgs/Twist on twist_controller/commands, TOOL frame, linear m/s,
                         angular deg/s (the driver passes values to the Kortex API unchanged)
  joint_trajectory mode  trajectory_msgs/JointTrajectory on joint_trajectory_controller/joint_trajectory
                         via damped-least-squares IK (mock hardware and Gazebo have no twist interface)
  gripper                control_msgs ParallelGripperCommand (Jazzy+) or GripperCommand (Humble) goals
The kortex twist controller has no timeout, so this node is the one that stops the arm: zero twist
when the command stream or the observation behind it is older than `watchdog_s`, when an
episode ends or is cancelled, and on shutdown.
Every motion sent to the driver is also published on robovla/sent_command (ArmCommand: the
base-frame command after the safety filter, stamped when it went out, with the observation it
answers): what the arm was actually told, for RViz, logs and bench/bench_graph.py.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Twist
from rclpy.action import ActionClient
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from robovla.control import kinematics
from robovla.control.latency import ObservationAgeConfig, ObservationAgeLimit
from robovla.control import liveness
from robovla.control.liveness import FaultClock, Heartbeats
from robovla.control.controllers import MODE_CONTROLLERS, required_switch, restore_switch
from robovla.control.safety import SafetyConfig, SafetyFilter
from robovla.control.trajectory import trajectory_to_rest
from robovla.msg import ArmCommand, ControlStatus, Heartbeat, Instruction
from robovla.health.checks import Finding, Level
from robovla.nodes.common import qos, topics
from robovla.nodes.common.diagnostics import NodeDiagnostics
from robovla.nodes.common.service_calls import call_service
from robovla.nodes.common.controller_client import ControllerManagerClient
from robovla.nodes.common.convert import to_sec
from robovla.nodes.common.intra_process import subscribe
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run, side_node

MODES = ("twist", "joint_trajectory")
GRIPPER_INTERFACES = ("parallel", "gripper_command", "none")


@dataclass
class KinovaControlParams:
    mode: str = "twist"
    watchdog_s: float = 0.2  # max age of the last command from the smoother (50 Hz, same process)
    # processes the arm's safety depends on (robovla/heartbeat, 40 Hz): the arm pauses while one
    # is later than heartbeat_timeout_s; the episode ends when task_manager's is lease_s late
    required_heartbeats: list[str] = field(default_factory=lambda: list(liveness.WATCHED))
    heartbeat_timeout_s: float = 0.1  # 4 beats at 40 Hz (MoveIt Servo's command timeout is 0.1 s too)
    lease_s: float = 1.0
    # /joint_states from the real joint_state_broadcaster come at the controller_manager rate
    # (1 kHz on the Gen3): handle at most one per this period (0 = every message)
    joint_state_min_period_s: float = 0.0
    moving_joint_speed: float = 0.02  # rad/s: faster = the arm moves (fault reset refused)
    rate_hz: float = 50.0  # watchdog / hold rate
    angular_units: str = "deg"  # what the twist controller takes: 'deg' (kortex driver) or 'rad'
    trajectory_lookahead_s: float = 0.06  # joint mode: the commanded velocity holds this long, then ramps to rest
    joint_names: list[str] = field(default_factory=lambda: list(kinematics.GEN3_JOINT_NAMES))
    gripper_interface: str = "parallel"
    gripper_joint: str = "robotiq_85_left_knuckle_joint"
    gripper_open_position: float = 0.0
    gripper_closed_position: float = 0.8
    gripper_close_above: float = 0.6  # hysteresis on the 0..1 target
    gripper_open_below: float = 0.4
    gripper_max_effort: float = 100.0
    release_gripper_at_episode_end: bool = False  # open the gripper whenever an episode ends
    # ros2_control: activate the controller this mode commands (kortex_bringup leaves
    # twist_controller inactive) and check it; false = the user manages controllers
    manage_controllers: bool = True
    controller_timeout_s: float = 20.0  # wait this long for the controller manager at start
    restore_controller: str = "joint_trajectory_controller"  # re-activated on shutdown ("" = none)
    # lock-step sim (robovla.graph.apply_sim_time): while a heartbeat is late, hold the command
    # unanswered instead of stopping the arm; the sim, which steps only on an answer, holds still,
    # so the arm does not move and a run does not depend on the machine's load
    defer_while_paused: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown control mode {self.mode!r}; choose one of {MODES}")
        if self.gripper_interface not in GRIPPER_INTERFACES:
            raise ValueError(f"unknown gripper_interface {self.gripper_interface!r}; choose one of {GRIPPER_INTERFACES}")
        if self.angular_units not in ("deg", "rad"):
            raise ValueError(f"angular_units must be 'deg' or 'rad', got {self.angular_units!r}")
        if not self.watchdog_s > 0:
            raise ValueError("watchdog_s must be positive")
        if not 0 < self.heartbeat_timeout_s <= self.lease_s:
            raise ValueError("need 0 < heartbeat_timeout_s <= lease_s")


class KinovaControl(Node):
    def __init__(self) -> None:
        super().__init__("kinova_control")
        self.p = declare_config(self, KinovaControlParams)
        self.safety = SafetyFilter(declare_config(self, SafetyConfig, prefix="safety."))
        self.obs_age = ObservationAgeLimit(declare_config(self, ObservationAgeConfig, prefix="observation_age."))
        self.heartbeats = Heartbeats(self.p.required_heartbeats, self.p.heartbeat_timeout_s)
        # heartbeats, the lease and readiness run on fault time (wall clock, paused while the sim
        # is: control.liveness.FaultClock); commands and observations on the node clock (sim time)
        self.fault_clock = FaultClock()
        self._answering: ArmCommand | None = None  # the command being handled: a stop answers it
        self._deferred: ArmCommand | None = None  # defer_while_paused: the command held during a pause
        self.q: np.ndarray | None = None
        self.joint_speed = 0.0
        self._last_joints_t = -np.inf
        self.active, self.episode_id = False, ""
        self.last_cmd_time = -np.inf
        self.last_obs_stamp = -np.inf
        self._last_chunk_obs = None
        self.faulted = False
        self.paused = ""  # why the arm is held still mid-episode ("" = it is not)
        self.stopped = True
        self.gripper_closed: bool | None = None
        self.refused = 0
        self.diag = NodeDiagnostics(self)
        self._joints_in = self.diag.stream("joint_states", 0.5)
        self._sent = self.diag.output("sent_command")
        self.diag.add(self._health)
        group = ReentrantCallbackGroup()
        if self.p.mode == "twist":
            self.twist_pub = self.create_publisher(Twist, topics.TWIST_COMMANDS, qos.COMMAND)
        else:
            self.traj_pub = self.create_publisher(JointTrajectory, topics.JOINT_TRAJECTORY, qos.COMMAND)
        self.sent_pub = self.create_publisher(ArmCommand, topics.SENT_COMMAND, qos.COMMAND)
        self.gripper_client = self._make_gripper_client()
        self.status_pub = self.create_publisher(ControlStatus, topics.CONTROL_STATUS, qos.LATCHED)
        self.ready, self.controller, self.status_message = None, "", ""
        self._status_lock = threading.Lock()
        self._controllers_ok, self._controllers_msg = False, "switching controllers"
        self._verifying = threading.Event()  # a controller check is under way
        self.controllers: ControllerManagerClient | None = None
        if self.p.manage_controllers:
            self.controllers = ControllerManagerClient(side_node(self, "controllers"))
            self._update_status()
            threading.Thread(target=self._activate_controller, name="controllers", daemon=True).start()
        else:
            self._set_controllers(True, "controllers managed by the user (manage_controllers: false)")
        self.create_subscription(JointState, topics.JOINT_STATES, self._on_joints, qos.SENSOR)
        self.create_subscription(Heartbeat, topics.HEARTBEAT, self._on_heartbeat, qos.HEARTBEAT)
        self._watch_faults()
        self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction, qos.LATCHED)
        subscribe(self, ArmCommand, topics.ARM_COMMAND, self._on_command, qos.COMMAND)
        self._make_fault_passthrough(side_node(self), group)
        # a steady timer: the fault checks must run while a lock-stepped sim waits for the graph
        self.create_timer(1.0 / self.p.rate_hz, self._watchdog, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(
            f"{self.p.mode} control, watchdog {self.p.watchdog_s:.2f} s, observation age limit "
            f"{self.obs_age.summary()}, heartbeats {list(self.heartbeats.required)} within "
            f"{self.p.heartbeat_timeout_s:.2f} s, lease {self.p.lease_s:.2f} s, limits "
            f"{self.safety.cfg.max_linear_speed} m/s / {self.safety.cfg.max_angular_speed} rad/s"
        )

    # ---------------------------------------------------------------- inputs
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _fault_now(self) -> float:
        return self._fault_and_wall()[0]

    def _fault_and_wall(self) -> tuple[float, float]:
        wall = time.monotonic()
        return self.fault_clock.now(wall, self._now()), wall

    def _on_joints(self, msg: JointState) -> None:
        self._joints_in.tick(self.diag.now())
        now = self._now()
        if now - self._last_joints_t < self.p.joint_state_min_period_s:
            return  # decimated (1 kHz from the real joint_state_broadcaster)
        index = {n: i for i, n in enumerate(msg.name)}
        if any(n not in index for n in self.p.joint_names) or len(msg.position) != len(msg.name):
            return
        q = np.array([msg.position[index[n]] for n in self.p.joint_names])
        if np.all(np.isfinite(q)):
            self.q, self._last_joints_t = q, now
        if len(msg.velocity) == len(msg.name):
            v = np.array([msg.velocity[index[n]] for n in self.p.joint_names])
            self.joint_speed = float(np.abs(v).max()) if np.all(np.isfinite(v)) else np.inf

    def _on_heartbeat(self, msg: Heartbeat) -> None:
        sent = msg.sent_steady_ns * 1e-9 if msg.sent_steady_ns else None
        now, wall = self._fault_and_wall()
        if not self.heartbeats.beat(msg.node, now, sent, wall):
            self.get_logger().warning(f"ignored a heartbeat from {msg.node} sent "
                                      f"{self.heartbeats.refused_by[msg.node] * 1e3:.0f} ms before it was judged late "
                                      "(read late from the queue): the pause stays", throttle_duration_sec=1.0)

    def _on_instruction(self, msg: Instruction) -> None:
        was_active, previous = self.active, self.episode_id
        self.active, self.episode_id = bool(msg.active), msg.episode_id
        if self.active and msg.episode_id != previous:
            self.gripper_closed = None  # a reset scene may have moved it: the first target always goes out
            self._deferred = None
            self.obs_age.reset_interval()
            self._start_verify()
        if was_active and not self.active:
            self.get_logger().info(f"episode {msg.episode_id} ended: stopping the arm")
            self.stop()
            if self.p.release_gripper_at_episode_end:
                self._command_gripper(0.0)
            # else the gripper holds: a cancel, a preemption or a timeout must not drop what it carries

    def _on_command(self, msg: ArmCommand) -> None:
        self._answering = msg  # a stop() while handling it reports which observation it answered
        try:
            self._handle_command(msg)
        finally:
            self._answering = None

    def _handle_command(self, msg: ArmCommand) -> None:
        if not self.active or msg.episode_id != self.episode_id:
            return
        if not self.ready:
            self._refuse(f"the arm is not ready: {self.status_message}")
            return
        # never before the command's own stamp: with use_sim_time this node's clock may not have
        # taken the /clock tick the smoother ticked on yet (a lock-stepped sim would judge the
        # command a step early); on a robot the smoother stamped it a moment ago, now is later
        now = max(self._now(), to_sec(msg.header.stamp))
        obs = to_sec(msg.observation_stamp)
        if obs != self._last_chunk_obs:  # the first command answering a new chunk
            self._last_chunk_obs = obs
            if self.obs_age.on_chunk(now, obs):
                self.get_logger().info(f"observation age limit {self.obs_age.summary()}")
        if self.paused or self.faulted:
            if self.paused and not self.faulted and self.p.defer_while_paused:
                self._deferred = msg  # handled when the heartbeats are back (_watchdog)
                return
            self.stop()
            return
        obs_age = now - obs
        if obs_age > self.obs_age.limit_s:
            self._refuse(f"command answers an observation {obs_age:.2f} s old (limit {self.obs_age.summary()})")
            return
        if self.q is None:
            self._refuse("no joint state received yet: cannot place the command in the tool frame")
            return
        t = msg.twist
        lin = np.array([t.linear.x, t.linear.y, t.linear.z])
        ang = np.array([t.angular.x, t.angular.y, t.angular.z])
        ee = kinematics.forward_kinematics(self.q)
        safe = self.safety.filter(lin, ang, msg.gripper if msg.gripper >= 0 else 0.0, ee)
        if safe.applied:  # each note names the rule that acted: "<rule> clip|stop: <reason>"
            self.get_logger().warning("safety: " + "; ".join(safe.notes), throttle_duration_sec=1.0)
        if safe.stopped:
            self.stop()
            return
        self.last_cmd_time, self.last_obs_stamp = now, to_sec(msg.observation_stamp)
        if not self._send_motion(safe.linear, safe.angular, ee):
            return
        self.stopped = False
        gripper = msg.gripper >= 0 and np.isfinite(msg.gripper)
        # reported right after the motion, before the gripper goal (sending one can take milliseconds
        # under load): the safety monitor must hear of the command before it sees the arm move
        self._report_sent(safe.linear, safe.angular, safe.gripper if gripper else -1.0, msg)
        if gripper:
            self._command_gripper(safe.gripper)

    def _health(self, t: float) -> tuple[list[Finding], dict[str, str]]:
        findings = []
        if self.faulted:
            findings.append(Finding(Level.ERROR, "the arm is in fault"))
        elif self.ready is False:
            findings.append(Finding(Level.ERROR, f"not ready: {self.status_message}"))
        if self.paused:
            findings.append(Finding(Level.WARN, f"arm paused: {self.paused}"))
        return findings, {"mode": self.p.mode, "controller": self.controller or "-", "ready": str(bool(self.ready)),
                          "episode": self.episode_id if self.active else "-",
                          "observation age limit s": f"{self.obs_age.limit_s:.3f}",
                          "refused commands": str(self.refused)}

    def _refuse(self, why: str) -> None:
        self.refused += 1
        self.get_logger().error(f"command refused: {why}", throttle_duration_sec=1.0)
        self.stop()

    # ---------------------------------------------------------------- outputs
    def _send_motion(self, lin_base: np.ndarray, ang_base: np.ndarray, ee: np.ndarray) -> bool:
        """`ee`: forward kinematics at self.q (computed once per command)."""
        twist_base = np.concatenate([lin_base, ang_base])
        if self.p.mode == "twist":
            tool = kinematics.base_twist_to_tool(self.q, twist_base, ee)
            self._publish_twist(tool[:3], tool[3:])
            return True
        qdot = kinematics.ik_velocity(self.q, twist_base, limits=kinematics.JOINT_VELOCITY_LIMITS_CONFIGURED)
        points = trajectory_to_rest(self.q, qdot, self.p.trajectory_lookahead_s)
        for positions, _, _ in points:
            violations = kinematics.check_joint_limits(positions)
            if violations:
                self._refuse("IK target beyond joint limits: " + "; ".join(violations))
                return False
        self._publish_trajectory(points)
        return True

    def _report_sent(self, lin: np.ndarray, ang: np.ndarray, gripper: float, cmd: ArmCommand | None) -> None:
        """robovla/sent_command: stamped after the driver's message went out."""
        if self.sent_pub.get_subscription_count() == 0:
            return
        out = ArmCommand()
        out.header.stamp = self.get_clock().now().to_msg()
        out.header.frame_id = "base_link"
        if cmd is not None:
            out.observation_stamp, out.episode_id = cmd.observation_stamp, cmd.episode_id
            if to_sec(cmd.header.stamp) > to_sec(out.header.stamp):  # as in _handle_command
                out.header.stamp = cmd.header.stamp
        (out.twist.linear.x, out.twist.linear.y, out.twist.linear.z,
         out.twist.angular.x, out.twist.angular.y, out.twist.angular.z) = (float(v) for v in (*lin, *ang))
        out.gripper = float(gripper)
        self.sent_pub.publish(out)
        self._sent.tick(self.diag.now())

    def _publish_twist(self, lin_tool: np.ndarray, ang_tool_rad: np.ndarray) -> None:
        ang = np.degrees(ang_tool_rad) if self.p.angular_units == "deg" else ang_tool_rad
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.linear.z = (float(v) for v in lin_tool)
        msg.angular.x, msg.angular.y, msg.angular.z = (float(v) for v in ang)
        self.twist_pub.publish(msg)

    def _publish_trajectory(self, points: list[tuple[np.ndarray, np.ndarray, float]]) -> None:
        msg = JointTrajectory()
        msg.joint_names = list(self.p.joint_names)
        for positions, velocities, t in points:
            point = JointTrajectoryPoint()
            point.positions = [float(v) for v in positions]
            point.velocities = [float(v) for v in velocities]
            ns = int(round(t * 1e9))
            point.time_from_start = Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)
            msg.points.append(point)
        self.traj_pub.publish(msg)

    def stop(self) -> None:
        """Zero velocity now (twist) or hold the current joints (trajectory)."""
        self.stopped = True
        if self.p.mode == "twist":
            self._publish_twist(np.zeros(3), np.zeros(3))
        elif self.q is not None:
            self._publish_trajectory([(self.q, np.zeros(len(self.q)), self.p.trajectory_lookahead_s)])
        else:
            return  # no joint state yet: nothing was ever sent
        self._report_sent(np.zeros(3), np.zeros(3), -1.0, self._answering)

    def _watchdog(self) -> None:
        now, wall = self._fault_and_wall()  # heartbeats and the lease; the command watchdog below: node clock
        if self.heartbeats.tick(now, wall):
            # safety_monitor may have deactivated our controller while we were silent
            self.get_logger().warning("kinova_control itself was stalled: heartbeat ages count from now; "
                                      "checking the controller")
            self._start_verify()
        self._update_status(now)
        if self.active and "task_manager" in self.heartbeats.required and \
                self.heartbeats.age("task_manager", now) > self.p.lease_s:
            self.get_logger().error(f"episode {self.episode_id}: no heartbeat from task_manager for "
                                    f"{self.heartbeats.age('task_manager', now):.2f} s "
                                    f"(lease {self.p.lease_s:.2f} s): ending it")
            self.active, self.paused = False, ""
            self.stop()
            return
        pause = self.heartbeats.describe(now) if self.active else ""
        if bool(pause) != bool(self.paused):
            if pause:
                self.get_logger().error(f"arm paused: {pause} (late > {self.p.heartbeat_timeout_s:.2f} s)")
                if not self.p.defer_while_paused:
                    self.stop()
            else:
                self.get_logger().info("heartbeats back: motion commands accepted again")
        self.paused = pause
        if not pause and self._deferred is not None:
            deferred, self._deferred = self._deferred, None
            self._on_command(deferred)
        if self.stopped:
            return
        now = self._now()
        if now - self.last_cmd_time > self.p.watchdog_s or now - self.last_obs_stamp > self.obs_age.limit_s:
            self.get_logger().warning(
                f"watchdog: no fresh command for {now - self.last_cmd_time:.2f} s "
                f"(observation age {now - self.last_obs_stamp:.2f} s): stopping"
            )
            self.stop()

    def on_shutdown(self) -> None:
        self.stop()
        if self.controllers is not None and self.ready:
            self._release_controller()

    # ---------------------------------------------------------------- readiness
    def _set_controllers(self, ok: bool, message: str) -> None:
        self._controllers_ok, self._controllers_msg = ok, message
        self._update_status()

    def _status(self, now: float) -> tuple[bool, str]:
        """(ready, why): controllers, arm fault, and the processes that stop the arm if we die."""
        if not self._controllers_ok:
            return False, self._controllers_msg
        if self.faulted:
            return False, (f"the arm is in fault ({topics.INTERNAL_FAULT}): once it is stopped, "
                           f"reset it with {topics.CONTROL_RESET_FAULT}")
        gone = [n for n in self.heartbeats.required if n != "task_manager" and self.heartbeats.age(n, now) > self.p.lease_s]
        if gone:
            return False, f"no heartbeat from {', '.join(gone)} for over {self.p.lease_s:.1f} s: is it running?"
        return True, self._controllers_msg

    def _update_status(self, now: float | None = None) -> None:
        """Publish robovla/control_status when readiness or its reason changes (latched)."""
        ready, message = self._status(self._fault_now() if now is None else now)
        with self._status_lock:
            if (ready, message) == (self.ready, self.status_message):
                return
            self.ready, self.status_message = ready, message
            msg = ControlStatus(ready=ready, mode=self.p.mode, active_controller=self.controller, message=message)
            msg.header.stamp = self.get_clock().now().to_msg()
            self.status_pub.publish(msg)
        if ready:  # one call site per severity: rclpy refuses a call site whose severity changes
            self.get_logger().info(f"control status: {message}")
        else:
            self.get_logger().warning(f"control status: {message}")

    # ---------------------------------------------------------------- controllers

    def _activate_controller(self) -> None:
        """Startup thread: make the mode's controller the active one, then verify."""
        assert self.controllers is not None
        if not self.controllers.wait(self.p.controller_timeout_s):
            self._set_controllers(False, f"no controller manager ({topics.LIST_CONTROLLERS}) within "
                                        f"{self.p.controller_timeout_s:.0f} s: is the ros2_kortex driver running?")
            return
        deadline = time.monotonic() + self.p.controller_timeout_s
        while True:  # a manager just discovered may not answer yet: retry until the deadline
            try:
                plan = required_switch(self.p.mode, self.controllers.states(timeout_s=2.0))
                if not plan.empty:
                    ok, message = self.controllers.switch(plan, timeout_s=2.0)
                    if not ok:
                        self._set_controllers(False, f"switch_controller activate={list(plan.activate)} "
                                                    f"deactivate={list(plan.deactivate)} refused: {message}")
                        return
                states = self.controllers.states(timeout_s=2.0)
                break
            except ValueError as exc:
                self._set_controllers(False, str(exc))
                return
            except TimeoutError as exc:
                if time.monotonic() > deadline:
                    self._set_controllers(False, str(exc))
                    return
        wanted = MODE_CONTROLLERS[self.p.mode][0]
        if states.get(wanted) != "active" or not required_switch(self.p.mode, states).empty:
            self._set_controllers(False, f"{wanted} is {states.get(wanted, 'not loaded')} after the switch")
            return
        self.controller = wanted
        self._set_controllers(True, f"{wanted} active ({self.p.mode} mode)")

    def _start_verify(self) -> None:
        if self.controllers is not None and self.ready and not self._verifying.is_set():
            self._verifying.set()
            threading.Thread(target=self._verify_controller, name="verify-controller", daemon=True).start()

    def _verify_controller(self) -> None:
        """At each episode start and after a stall of this process: is our controller still
        active? safety_monitor deactivates it after a control fault, and someone may have switched
        it; then refuse (status not ready) rather than send commands the driver drops."""
        assert self.controllers is not None
        wanted = MODE_CONTROLLERS[self.p.mode][0]
        try:
            state = self.controllers.states(timeout_s=2.0).get(wanted, "not loaded")
        except (TimeoutError, ValueError) as exc:
            self.get_logger().warning(f"could not check {wanted}: {exc}")
            return
        finally:
            self._verifying.clear()
        if state != "active":
            self._set_controllers(False, f"{wanted} is {state} (safety_monitor deactivates it after a control "
                                         f"fault): restart the graph to drive the arm again")

    def _release_controller(self) -> None:
        """Shutdown: deactivate our controller (clears a latched twist) and restore the configured one."""
        assert self.controllers is not None
        try:
            plan = restore_switch(self.p.mode, self.controllers.states(timeout_s=2.0), self.p.restore_controller)
            if not plan.empty:
                ok, message = self.controllers.switch(plan, timeout_s=2.0)
                text = f"on shutdown: activate={list(plan.activate)} deactivate={list(plan.deactivate)}: {message}"
                if ok:
                    self.get_logger().info(text)
                else:
                    self.get_logger().error(text)
        except (TimeoutError, ValueError) as exc:
            self.get_logger().error(f"on shutdown: could not release {self.controller}: {exc}")

    # ---------------------------------------------------------------- gripper + faults
    def _make_gripper_client(self) -> ActionClient | None:
        if self.p.gripper_interface == "none":
            return None
        if self.p.gripper_interface == "parallel":
            from control_msgs.action import ParallelGripperCommand as GripperAction
        else:
            from control_msgs.action import GripperCommand as GripperAction
        self._gripper_action = GripperAction
        return ActionClient(self, GripperAction, topics.GRIPPER_ACTION)

    def _command_gripper(self, target: float) -> None:
        """Binarise with hysteresis and send a goal only when the state changes."""
        if self.gripper_client is None:
            return
        if self.gripper_closed is not True and target > self.p.gripper_close_above:
            close = True
        elif self.gripper_closed is not False and target < self.p.gripper_open_below:
            close = False
        else:
            return
        if not self.gripper_client.server_is_ready():
            self.get_logger().warning("gripper action server not available", throttle_duration_sec=5.0)
            return
        position = self.p.gripper_closed_position if close else self.p.gripper_open_position
        goal = self._gripper_action.Goal()
        if self.p.gripper_interface == "parallel":
            goal.command.name = [self.p.gripper_joint]
            goal.command.position = [float(position)]
        else:
            goal.command.position = float(position)
            goal.command.max_effort = float(self.p.gripper_max_effort)
        self.gripper_client.send_goal_async(goal)
        self.gripper_closed = close

    def _watch_faults(self) -> None:
        try:
            from example_interfaces.msg import Bool
        except ImportError:
            self.get_logger().warning(f"example_interfaces missing: {topics.INTERNAL_FAULT} not watched")
            return
        self.create_subscription(Bool, topics.INTERNAL_FAULT, self._on_fault, qos.COMMAND)

    def _on_fault(self, msg) -> None:
        """A faulted arm stops by itself; what matters is that nothing is queued to resume when
        the fault is reset (the driver resumes the latched twist): zero it, and refuse motion."""
        faulted = bool(msg.data)
        if faulted == self.faulted:
            return
        self.faulted = faulted
        if faulted:
            self.get_logger().error(f"arm fault on {topics.INTERNAL_FAULT}: stopping; the running goal is aborted")
            self.stop()
        else:
            self.get_logger().info("arm fault cleared")
        self._update_status()

    def reset_fault_refusal(self) -> str | None:
        """Why a fault reset must not go through now (None: it may)."""
        if self.active:
            return f"episode {self.episode_id} is running: cancel it before resetting the fault"
        if self.joint_speed > self.p.moving_joint_speed:
            return f"the arm is moving ({self.joint_speed:.3f} rad/s): reset only when it is stopped"
        return None

    def _make_fault_passthrough(self, node: Node, group) -> None:
        """robovla/reset_fault: zero first, then the driver's reset, only with the arm stopped
        and no episode running (the real driver resumes the latched twist after a reset).
        The service waits on a client call, so both live on a side node (see runner)."""
        try:
            from example_interfaces.srv import Trigger
        except ImportError:
            self.get_logger().warning("example_interfaces missing: no fault reset passthrough")
            return
        client = node.create_client(Trigger, topics.RESET_FAULT, callback_group=group)

        def reset(_request, response):
            refusal = self.reset_fault_refusal()
            if refusal is not None:
                response.success, response.message = False, f"fault reset refused: {refusal}"
                self.get_logger().error(response.message)
                return response
            self.stop()  # the twist the driver latches and resumes after the reset is a zero
            if not client.wait_for_service(timeout_sec=2.0):
                response.success, response.message = False, f"{topics.RESET_FAULT} is not available"
                return response
            try:
                result = call_service(client, Trigger.Request(), 5.0)
            except TimeoutError:
                result = None
            response.success = bool(result and result.success)
            response.message = result.message if result else "fault reset timed out"
            return response

        node.create_service(Trigger, topics.CONTROL_RESET_FAULT, reset, callback_group=group)


NODE = KinovaControl  # the class robovla.nodes.container instantiates


def main() -> int:
    return run(NODE)
