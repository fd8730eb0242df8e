"""The blocking service call of the project's clients, which can survive a lost request or reply.

`wait_for_service` only says the *client* has matched the server's request reader; DDS drops a
request the server's reader has not matched yet, or a reply sent before the server has matched the
client's reply reader. Seen in CI: `robovla teleop --sim`'s first sim reset got no answer in 30 s
although both sides were up. So a caller whose request is idempotent (a reset to an explicit seed,
a listing) passes `resend_s`, and the request is sent again when no reply came within it; the first
reply to any copy wins. A request that must not repeat (a STRICT controller switch) is sent once.
Call from a thread that no executor of the client's node runs on (replies arrive through it).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


def call_service(client: Any, request: Any, timeout_s: float = 30.0, resend_s: float | None = None) -> Any:
    """The reply to `request`; TimeoutError naming the service after `timeout_s`. `resend_s`: send
    the request again every `resend_s` without a reply (only for requests whose repetition changes
    nothing); None: send it once. Copies still pending at the end are dropped from the client."""
    answered = threading.Event()
    futures: list[Any] = []
    per_send = timeout_s if resend_s is None else min(resend_s, timeout_s)
    waited = 0.0  # planned waits, not the clock: the number of copies depends on the arguments only
    while True:
        future = client.call_async(request)
        future.add_done_callback(lambda _f: answered.set())
        futures.append(future)
        wait = min(per_send, timeout_s - waited)
        answered.wait(wait)
        waited += wait
        done = next((f for f in futures if f.done()), None)
        if done is not None or waited >= timeout_s - 1e-9:
            for f in futures:
                if not f.done():
                    client.remove_pending_request(f)
            if done is None:
                raise TimeoutError(f"{client.srv_name}: no answer to {len(futures)} request(s) within {timeout_s:.1f} s")
            if len(futures) > 1:
                log.warning("%s answered request copy %d of %d", client.srv_name, futures.index(done) + 1, len(futures))
            return done.result()
        log.warning("%s: no answer within %.1f s: sending the request again", client.srv_name, waited)
