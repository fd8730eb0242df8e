"""call_service over real rclpy and DDS: a request lost before the server was there is sent again,
a slow server's late reply loses to a quicker copy's, and no server at all is a TimeoutError that
names the service."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import rclpy
from example_interfaces.srv import Trigger
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node

from robovla.nodes.common.background import BackgroundSpinner, SpinThread
from robovla.nodes.common.service_calls import call_service

pytestmark = pytest.mark.ros


class Server:
    """A Trigger server on its own context and a multi-threaded executor (a slow call does not hold
    up the next); `delays` holds each call's answer time, in order; the reply names the call."""

    def __init__(self, name: str, delays: tuple[float, ...] = ()) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.node = Node(f"{name}_server", context=self.context)
        self.executor.add_node(self.node)
        self.delays, self.calls = list(delays), 0
        self.node.create_service(Trigger, name, self._on_call, callback_group=ReentrantCallbackGroup())
        self.spin = SpinThread(self.executor, f"{name}-server").start()

    def _on_call(self, _request, response):
        self.calls += 1
        n = self.calls
        time.sleep(self.delays[n - 1] if n <= len(self.delays) else 0.0)
        response.success, response.message = True, f"call {n}"
        return response

    def close(self) -> None:
        self.spin.stop(10.0)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def client():
    spinner = BackgroundSpinner("service-calls-client")
    node = spinner.add(Node("service_calls_client", context=spinner.context))
    spinner.start()
    yield node
    spinner.close()


def test_a_request_sent_before_the_server_existed_is_sent_again(client, caplog):
    cli = client.create_client(Trigger, "late_trigger")
    servers: list[Server] = []
    threading.Timer(0.5, lambda: servers.append(Server("late_trigger"))).start()
    try:
        with caplog.at_level(logging.WARNING):
            res = call_service(cli, Trigger.Request(), timeout_s=60.0, resend_s=3.0)
        assert res.success and res.message.startswith("call ")
        assert "sending the request again" in caplog.text, "the first request reached nobody"
    finally:
        for s in servers:
            s.close()


def test_the_first_reply_to_any_copy_wins(client, caplog):
    server = Server("slow_trigger", delays=(4.0,))
    cli = client.create_client(Trigger, "slow_trigger")
    try:
        assert cli.wait_for_service(timeout_sec=30.0)
        res = call_service(cli, Trigger.Request(), timeout_s=30.0, resend_s=1.0)
        assert res.message == "call 2", "the second copy answered first (the first takes 4 s)"
        assert server.calls == 2
        assert "answered request copy 2 of 2" in caplog.text
    finally:
        server.close()


def test_no_server_is_a_timeout_naming_the_service(client):
    cli = client.create_client(Trigger, "nobody_answers")
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"nobody_answers: no answer to 3 request\(s\) within 3.0 s"):
        call_service(cli, Trigger.Request(), timeout_s=3.0, resend_s=1.0)
    assert time.monotonic() - start < 10.0


def test_without_resend_the_request_goes_once(client):
    cli = client.create_client(Trigger, "nobody_answers_once")
    with pytest.raises(TimeoutError, match=r"nobody_answers_once: no answer to 1 request\(s\) within 2.0 s"):
        call_service(cli, Trigger.Request(), timeout_s=2.0)
