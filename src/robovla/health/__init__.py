"""What an operator needs to know about a running graph, ROS-free: input/output rates, stage
latencies and the checks that turn them into OK / WARN / ERROR in words (diagnostic_msgs levels).
nodes/common/diagnostics.py publishes them on /diagnostics; `robovla status` and
`robovla doctor --graph` read them."""
