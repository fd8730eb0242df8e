"""A goal gets through whatever DDS discovery drops (action_goals.send_goal), against a real
rclpy action server: a request sent before the server existed (lost, as a request sent before the
server has matched a new client is) is sent again; a goal whose acceptance reply never reaches
the client is followed by its id because the server lists it; a server that never answers times
out."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("rclpy")

from rclpy.action import ActionClient, ActionServer  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.task import Future  # noqa: E402

from robovla.action import ExecuteInstruction  # noqa: E402
from robovla.nodes.common.action_goals import GoalStatusWatch, send_goal  # noqa: E402
from robovla.nodes.common.background import BackgroundSpinner, wait_future  # noqa: E402

ACTION = "test_goal_acceptance/execute"


class Server:
    def __init__(self) -> None:
        self.spinner = BackgroundSpinner("goal-server")
        self.node = self.spinner.add(Node("goal_server", context=self.spinner.context))
        self.received: list[str] = []
        self.spinner.start()
        self.server = None

    def serve(self) -> None:
        def execute(handle):
            self.received.append(handle.request.instruction)
            handle.succeed()
            return ExecuteInstruction.Result(success=True, message="done", steps=3)

        self.server = ActionServer(self.node, ExecuteInstruction, ACTION, execute)


@pytest.fixture
def client():
    spinner = BackgroundSpinner("goal-client")
    node = spinner.add(Node("goal_client", context=spinner.context))
    ac = ActionClient(node, ExecuteInstruction, ACTION)
    watch = GoalStatusWatch(node, ACTION)
    spinner.start()
    yield ac, watch
    spinner.close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.spinner.close()


def test_a_request_the_server_never_saw_is_sent_again(client, server) -> None:
    ac, watch = client
    handle: list = []
    sender = threading.Thread(target=lambda: handle.append(
        send_goal(ac, ExecuteInstruction.Goal(instruction="open the drawer"), watch, reply_wait_s=3.0, attempts=10)))
    sender.start()  # the first request goes out with no server at all: it is lost
    time.sleep(1.0)
    server.serve()
    sender.join(60)
    assert handle and handle[0].accepted
    result = wait_future(handle[0].get_result_async(), 30).result
    assert result.success and result.steps == 3
    assert server.received == ["open the drawer"], "the goal ran once"


def test_a_goal_whose_acceptance_was_lost_is_followed_by_its_id(client, server) -> None:
    ac, watch = client
    server.serve()
    assert ac.wait_for_server(timeout_sec=30)
    real_send = ac.send_goal_async

    def reply_lost(goal, **kwargs) -> Future:
        real_send(goal, **kwargs)  # the request reaches the server; its reply never reaches us
        return Future()

    ac.send_goal_async = reply_lost
    handle = send_goal(ac, ExecuteInstruction.Goal(instruction="turn on the light"), watch, reply_wait_s=30.0)
    assert handle.accepted
    result = wait_future(handle.get_result_async(), 30).result
    assert result.success and result.message == "done"
    assert server.received == ["turn on the light"], "followed, not sent again"


def test_no_server_times_out_after_the_attempts(client) -> None:
    ac, watch = client
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="2 goal requests"):
        send_goal(ac, ExecuteInstruction.Goal(instruction="x"), watch, reply_wait_s=1.0, attempts=2)
    assert time.monotonic() - t0 >= 2.0
