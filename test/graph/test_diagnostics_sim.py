"""Live status of the embedded default's graph (the sim, on sim time): a camera the sim stops
publishing is named by `robovla status` and `robovla doctor --graph` within 2 s. Its own module:
test_diagnostics.py's driver stand-in publishes /joint_states, which the sim refuses to share."""

from __future__ import annotations

import time

import pytest

from cli_helpers import robovla
from graph_helpers import GRAPH_NODES, wait_for
from robovla.nodes.common.graph_probe import GraphProbe

pytestmark = pytest.mark.ros

NAMED_WITHIN_S = 2.0


def sim_time(probe: GraphProbe) -> float:
    """The newest /clock the probe heard, in seconds."""
    assert wait_for(lambda: probe.clock_ns, 10), "no /clock"
    return probe.clock_ns * 1e-9


def test_on_the_sim_graph_a_muted_camera_is_named_within_2_s(tmp_path) -> None:
    """The embedded default's graph (the sim, on sim time): the sim's camera is muted while it runs
    (its fault-injection parameter, as a camera driver that stops); `robovla status` and
    `robovla doctor --graph` name it."""
    from rclpy.parameter import Parameter
    from rclpy.parameter_client import AsyncParameterClient

    from robovla.cli.session import SimSession
    from robovla.nodes.common.background import wait_future

    nodes = (*GRAPH_NODES, "sim")
    with SimSession({"sim.speed": 1.0, "vla_inference.policy": "scripted:hold"}, log_dir=tmp_path / "logs"):
        probe = GraphProbe()
        try:
            assert wait_for(lambda: set(nodes) <= set(probe.latest()) and
                            all(level == 0 for level, _, _ in probe.latest().values()), 60), probe.latest()
            doctor = robovla("doctor", "--graph", timeout=120)
            assert doctor.returncode == 0 and "ok (" in doctor.stdout, doctor.stdout + doctor.stderr
            params = AsyncParameterClient(probe.node, "sim")
            assert params.wait_for_services(timeout_sec=30)
            bad = wait_future(params.set_parameters([Parameter("muted_cameras", value=["side"])]), 30)
            assert not bad.results[0].successful and "no camera ['side']" in bad.results[0].reason
            res = wait_future(params.set_parameters([Parameter("muted_cameras", value=["wrist"])]), 30)
            assert res.results[0].successful, res.results[0].reason
            # the graph's time is the sim's: on a loaded machine the sim runs slower than real time and
            # so do the camera's silence and its naming (0.5 s of sim time + a 0.5 s status period)
            t0, s0 = time.monotonic(), sim_time(probe)
            named = wait_for(lambda: "camera wrist: silent" in probe.latest().get("camera_sync", (0, ""))[1], 30,
                             period=0.02)
            dt_wall, dt_sim = time.monotonic() - t0, sim_time(probe) - s0
            print(f"camera muted -> named: {dt_sim:.2f} s sim, {dt_wall:.2f} s wall")
            assert named, probe.latest()
            assert dt_sim <= NAMED_WITHIN_S, f"named after {dt_sim:.2f} s of sim time ({dt_wall:.2f} s wall)"
            status = robovla("status", "--once", timeout=60)
            assert status.returncode == 1 and "camera wrist: silent" in status.stdout, status.stdout
            head = status.stdout.splitlines()[0]
            assert head.startswith("graph: ERROR (") and "camera_sync: camera wrist: silent" in head, status.stdout
            doctor = robovla("doctor", "--graph", timeout=120)
            assert doctor.returncode == 1 and "camera_sync: error: camera wrist: silent" in doctor.stdout, doctor.stdout
            res = wait_future(params.set_parameters([Parameter("muted_cameras", Parameter.Type.STRING_ARRAY, [])]), 30)
            assert res.results[0].successful, res.results[0].reason
            assert wait_for(lambda: probe.latest().get("camera_sync", (1,))[0] == 0, 10), "unmuted: ok again"
        finally:
            probe.close()
