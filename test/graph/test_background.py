"""BackgroundSpinner: a callback that raises is logged and kept, and the executor spins on (real rclpy)."""

from __future__ import annotations

import threading

import pytest
from rclpy.node import Node

from graph_helpers import wait_for
from robovla.nodes.common.background import BackgroundSpinner

pytestmark = pytest.mark.ros


def test_a_raising_callback_does_not_stop_the_other_callbacks(caplog):
    spinner = BackgroundSpinner("raising-timer")
    node = spinner.add(Node("background_spinner_test", context=spinner.context))
    ticks, raised = [], threading.Event()

    def bad() -> None:
        if not raised.is_set():
            raised.set()
            raise RuntimeError("boom in a timer")

    node.create_timer(0.01, bad)
    node.create_timer(0.01, lambda: ticks.append(1))
    spinner.start()
    try:
        assert wait_for(lambda: raised.is_set() and len(ticks) > 20, 10), "the good timer stopped after the bad one raised"
        assert spinner.is_alive()
        assert [str(e) for e in spinner.errors] == ["boom in a timer"]
        assert "a callback raised" in caplog.text
    finally:
        spinner.close()
    assert not spinner.is_alive()
