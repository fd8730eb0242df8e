"""Stopping the graph (SIGINT, as `robovla bringup`, launch and Ctrl-C do) stops the arm first."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("rclpy")

from graph_helpers import PeerRunner, wait_for  # noqa: E402

from robovla.cli.bringup import stop_graph  # noqa: E402
from robovla.nodes.common import topics  # noqa: E402


def test_sigint_publishes_a_zero_twist_before_the_process_ends(graph_factory) -> None:
    with PeerRunner(record=("twist",)) as peer:
        graph = graph_factory({}, nodes=("action_smoother", "kinova_control"))  # the `control` process
        try:
            assert wait_for(lambda: peer.count_publishers(topics.TWIST_COMMANDS) > 0, 30), "kinova_control did not start"
            # discovery is not symmetric: seeing its publisher does not mean its writer sees our reader
            time.sleep(1.5)
            peer.clear()
            assert all(graph.alive().values())
        finally:
            stop_graph(graph.procs)
        twists = wait_for(lambda: peer.take("twist"), 2.0)
    assert twists, f"no Twist after SIGINT; log:\n{graph.log('kinova_control')[-2000:]}"
    last = twists[-1][1]
    assert (last.linear.x, last.linear.y, last.linear.z, last.angular.x, last.angular.y, last.angular.z) == (0,) * 6
