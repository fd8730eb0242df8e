"""Sending an action goal so that a lost request or a lost acceptance does not lose the episode.

A goal request and its acceptance are service messages, and DDS drops those a peer sends before
discovery has matched both sides (`wait_for_server` only says the *client* has matched the server):
seen in CI, a goal whose acceptance never came although it ran to its end with feedback (the reply
was lost), and a teleop's first goal that never reached the task manager (the request was lost).
The server's goal status list is latched (transient local), so it tells the two apart: a goal it
lists was accepted and is followed by its id; a goal it does not list after the wait was never
received, and is cancelled (in case it is only late) and sent again with a new id.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref
from typing import Any, Callable

from action_msgs.msg import GoalStatusArray
from rclpy.action import ActionClient
from rclpy.action.client import ClientGoalHandle
from rclpy.node import Node
from rclpy.qos import qos_profile_action_status_default
from unique_identifier_msgs.msg import UUID

from robovla.nodes.common.background import wait_future

log = logging.getLogger(__name__)


def new_goal_id() -> UUID:
    return UUID(uuid=list(uuid.uuid4().bytes))


class GoalStatusWatch:
    """The goal ids an action server lists on its latched `<action>/_action/status` topic."""

    def __init__(self, node: Node, action_name: str) -> None:
        self._lock = threading.Lock()
        self._seen: set[bytes] = set()
        node.create_subscription(GoalStatusArray, f"{action_name}/_action/status", self._on_status,
                                 qos_profile_action_status_default)

    def _on_status(self, msg: GoalStatusArray) -> None:
        with self._lock:
            self._seen.update(bytes(s.goal_info.goal_id.uuid) for s in msg.status_list)

    def lists(self, goal_id: UUID) -> bool:
        with self._lock:
            return bytes(goal_id.uuid) in self._seen


_watches: weakref.WeakKeyDictionary[ActionClient, GoalStatusWatch] = weakref.WeakKeyDictionary()


def status_watch(client: ActionClient) -> GoalStatusWatch:
    """The status watch of a client's action on the client's node (made once per client)."""
    watch = _watches.get(client)
    if watch is None:
        watch = _watches[client] = GoalStatusWatch(client._node, client._action_name)
    return watch


def send_goal(client: ActionClient, goal: Any, status: GoalStatusWatch | None = None,
              feedback_callback: Callable[[Any], None] | None = None,
              reply_wait_s: float = 10.0, attempts: int = 3, poll_s: float = 0.5) -> ClientGoalHandle:
    """The goal's handle once the server has answered it, or has shown it accepted it (its status
    list or feedback names the goal); a request the server never saw is sent again, up to `attempts`
    times. TimeoutError if none got through. status: the action's watch (default: one made on the
    client's node; make it before the goal is needed, so the latched list has arrived)."""
    if status is None:
        status = status_watch(client)
    for attempt in range(1, attempts + 1):
        goal_id = new_goal_id()
        heard = threading.Event()

        def on_feedback(msg: Any) -> None:
            heard.set()
            if feedback_callback is not None:
                feedback_callback(msg)

        sent = client.send_goal_async(goal, feedback_callback=on_feedback, goal_uuid=goal_id)
        deadline = time.monotonic() + reply_wait_s
        while True:
            try:
                return wait_future(sent, poll_s)
            except TimeoutError:
                if heard.is_set() or status.lists(goal_id):
                    log.warning("the goal's acceptance never came, but the server lists it: following it by id")
                    return _handle(client, goal_id, accepted=True)
                if time.monotonic() > deadline:
                    break
        # never seen by the server (or late beyond reply_wait_s): cancel it in case it is only late
        _handle(client, goal_id, accepted=False).cancel_goal_async()
        log.warning("no answer to goal request %d/%d within %.0f s and the server does not list it%s",
                    attempt, attempts, reply_wait_s, ": sending it again" if attempt < attempts else "")
    raise TimeoutError(f"no answer to {attempts} goal requests of {reply_wait_s:.0f} s each")


def _handle(client: ActionClient, goal_id: UUID, accepted: bool) -> ClientGoalHandle:
    """A handle for a goal by id alone (its result, its cancel), as rclpy makes one from a reply."""
    return ClientGoalHandle(client, goal_id, client._action_type.Impl.SendGoalService.Response(accepted=accepted))
