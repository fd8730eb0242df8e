"""QoS profiles by role: sensor streams drop, commands and state never do.

Built from robovla.data.qos_profiles, the ROS-free description the episode bags record as each
topic's offered QoS, so a recorded stream replays with the profile the graph offers it with.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from robovla.data import qos_profiles as spec


def profile(s: spec.QosSpec) -> QoSProfile:
    """The rclpy profile of a plain QoS description (deadline, lifespan, liveliness: rmw defaults)."""
    history = HistoryPolicy.KEEP_ALL if s.history == "keep_all" else HistoryPolicy.KEEP_LAST
    return QoSProfile(
        history=history,
        depth=s.depth,
        reliability=ReliabilityPolicy.BEST_EFFORT if s.reliability == "best_effort" else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if s.durability == "transient_local" else DurabilityPolicy.VOLATILE,
    )


#: cameras and joint states: best effort, shallow (a late frame is worth nothing). Subscribers
#: use it for joint states too: a best-effort reader matches reliable and best-effort writers.
#: Equal to rclpy's qos_profile_sensor_data.
SENSOR = profile(spec.SENSOR)
#: what joint_state_broadcaster offers on /joint_states (rclcpp's default: reliable, depth 10);
#: the sim's stand-in offers the same, so a default-QoS subscriber behaves as it would on the arm
JOINT_STATES = profile(spec.JOINT_STATES)
#: velocity / trajectory commands and graph data: reliable, shallow
COMMAND = profile(spec.COMMAND)
#: large graph messages: only the newest matters
LATEST = profile(spec.LATEST)
#: observation windows: every one counts (the policy node caches each window's newest frame)
WINDOW = profile(spec.WINDOW)
#: the current instruction: late joiners get it (latched)
LATCHED = profile(spec.LATCHED)
#: liveness beats: only the newest matters, and a late one must not be queued behind others
HEARTBEAT = profile(spec.HEARTBEAT)
#: camera images and joint states where none may be lost: a lock-stepped sim and its camera_sync.
#: The sim waits for the answer to every frame, but not for camera_sync to take each joint state:
#: with a modelled latency L the perception process may be (L + one policy step) behind, 55 joint
#: states at L = 1 s, and SENSOR's depth of 5 lost ~1 frame in 100 at L = 0.1 s (measured)
RELIABLE_SENSOR = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.VOLATILE)
