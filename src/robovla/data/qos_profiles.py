"""The graph's QoS profiles as plain data: the one description of which stream is offered how.

Why plain data, and here: robovla.nodes.common.qos builds its rclpy profiles from these, and the
episode-bag writer (robovla.data, which imports without rclpy: training machines, `robovla
record --recover`) records the same profiles as each topic's offered QoS. A bag replayed with
them is offered as the live graph offered it, so the latched instruction reaches the
transient-local subscribers of the graph again. No imports beyond the standard library: every
node imports this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Reliability = Literal["reliable", "best_effort"]
Durability = Literal["volatile", "transient_local"]
History = Literal["keep_last", "keep_all"]


@dataclass(frozen=True)
class QosSpec:
    """The policies that decide whether endpoints match and what a late joiner gets.

    Deadline, lifespan and liveliness stay at the rmw defaults everywhere in this graph. The
    names are rosbag2's (metadata version 9) and rmw's string forms.
    """

    reliability: Reliability
    depth: int
    durability: Durability = "volatile"
    history: History = "keep_last"


#: cameras: best effort, shallow (a late frame is worth nothing); rclpy's qos_profile_sensor_data
SENSOR = QosSpec("best_effort", 5)
#: what joint_state_broadcaster offers on /joint_states (rclcpp's default); the sim's stand-in too
JOINT_STATES = QosSpec("reliable", 10)
#: velocity / trajectory commands and graph data: reliable, shallow
COMMAND = QosSpec("reliable", 10)
#: large graph messages: only the newest matters
LATEST = QosSpec("reliable", 1)
#: observation windows: every one counts
WINDOW = QosSpec("reliable", 4)
#: the current instruction: late joiners get it (latched)
LATCHED = QosSpec("reliable", 1, "transient_local")
#: liveness beats: only the newest matters, and a late one must not be queued behind others
HEARTBEAT = QosSpec("best_effort", 1)
