"""Blocking service calls that survive a lost request or reply.

`wait_for_service` only says the *client* has matched the server's request reader; DDS drops a
request the server's reader has not matched yet, or a reply sent before the server has matched the
client's reply reader. Seen in CI: `robovla teleop --sim`'s first sim reset got no answer in 30 s
although both sides were up. An idempotent request (a reset to an explicit seed, a listing) is
therefore sent again when no reply came within `reply_wait_s`; the first reply to any copy wins.
Call from a thread that no executor of the client's node runs on (replies arrive through it).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


def call_idempotent(client: Any, request: Any, timeout_s: float = 30.0, reply_wait_s: float = 10.0) -> Any:
    """The reply to `request` (sent again every `reply_wait_s` without one); TimeoutError naming the
    service after `timeout_s`. Only for requests whose repetition changes nothing."""
    answered = threading.Event()
    futures: list[Any] = []
    waited = 0.0
    while True:
        future = client.call_async(request)
        future.add_done_callback(lambda _f: answered.set())
        futures.append(future)
        wait = min(reply_wait_s, timeout_s - waited)
        answered.wait(wait)
        waited += wait
        done = [f for f in futures if f.done()]
        if done:
            for f in futures:
                if not f.done():
                    client.remove_pending_request(f)
            if len(futures) > 1:
                log.warning("%s answered request copy %d of %d", client.srv_name, futures.index(done[0]) + 1,
                            len(futures))
            return done[0].result()
        if waited >= timeout_s - 1e-9:
            for f in futures:
                client.remove_pending_request(f)
            raise TimeoutError(f"{client.srv_name}: no answer to {len(futures)} request(s) within {timeout_s:.1f} s")
        log.warning("%s: no answer within %.1f s: sending the request again", client.srv_name, waited)
