"""QoS profiles by role: sensor streams drop, commands and state never do."""

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

#: cameras and joint states: best effort, shallow (a late frame is worth nothing). Subscribers
#: use it for joint states too: a best-effort reader matches reliable and best-effort writers.
SENSOR = qos_profile_sensor_data
#: what joint_state_broadcaster offers on /joint_states (rclcpp's default: reliable, depth 10);
#: the sim's stand-in offers the same, so a default-QoS subscriber behaves as it would on the arm
JOINT_STATES = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
#: velocity / trajectory commands and graph data: reliable, shallow
COMMAND = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
#: large graph messages: only the newest matters
LATEST = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
#: observation windows: every one counts (the policy node caches each window's newest frame)
WINDOW = QoSProfile(depth=4, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
#: the current instruction: late joiners get it (latched)
LATCHED = QoSProfile(
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
    history=HistoryPolicy.KEEP_LAST,
)
#: liveness beats: only the newest matters, and a late one must not be queued behind others
HEARTBEAT = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST)
