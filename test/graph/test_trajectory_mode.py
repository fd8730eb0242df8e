"""joint_trajectory mode (mock hardware, Gazebo) against the driver stand-in: kinova_control
switches the JTC in, and every trajectory it streams ends at rest, which Jazzy's JTC requires
(a trajectory whose last point still moves is rejected, so the old one-point command moved
nothing on Jazzy)."""

from __future__ import annotations

import threading

import pytest
from rclpy.action import ActionClient

from graph_helpers import GRAPH_NODES, PeerRunner, observation_failure, wait_for
from robovla.nodes.common.action_goals import send_goal
from robovla.action import ExecuteInstruction
from robovla.nodes.common import topics

pytestmark = pytest.mark.ros


def _wait(future, timeout=30.0):
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    assert done.wait(timeout), "future did not complete"
    return future.result()


def test_joint_trajectory_mode_streams_trajectories_jazzy_accepts(graph_factory):
    with PeerRunner() as peer:
        # the peer starts as kortex_bringup does; put the twist controller in, as a twist-mode run leaves it
        assert peer.driver.switch(["twist_controller"], ["joint_trajectory_controller"])[0]
        graph = graph_factory({"vla_inference.policy": "scripted:forward", "kinova_control.mode": "joint_trajectory"})
        client = ActionClient(peer, ExecuteInstruction, topics.EXECUTE_INSTRUCTION)
        assert client.wait_for_server(timeout_sec=60)
        assert wait_for(lambda: set(GRAPH_NODES) <= set(peer.get_node_names()), 60)
        assert wait_for(lambda: peer.driver.is_active("joint_trajectory_controller")
                        and not peer.driver.is_active("twist_controller"), 60), graph.log("kinova_control")[-2000:]
        assert wait_for(lambda: peer.take("observation"), 60), observation_failure(graph, peer)
        peer.clear()
        goal = ExecuteInstruction.Goal(instruction="push the block forward", timeout_s=3.0)
        handle = send_goal(client, goal)
        assert handle.accepted
        res = _wait(handle.get_result_async(), timeout=30).result
        assert "timed out" in res.message, res.message
        trajectories = [m for _, m in peer.take("trajectory")]
        moving = [m for m in trajectories if any(v != 0.0 for v in m.points[0].velocities)]
        assert len(moving) > 50, (f"{len(moving)} moving trajectories of {len(trajectories)} in 3 s at 50 Hz; "
                                  f"nodes on the graph: {sorted(peer.get_node_names())}; kinova_control's log:\n"
                                  + graph.log("kinova_control")[-3000:])
        assert not peer.trajectories_rejected, peer.trajectories_rejected[:3]
        assert all(all(v == 0.0 for v in m.points[-1].velocities) for m in trajectories), "each ends at rest"
        assert all(len(m.points) == 2 for m in moving), "a moving command cruises, then comes to rest"
