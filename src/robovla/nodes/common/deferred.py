"""Run side work (visualisation) a little after the moment that produced it, newest job only.

Why: on 2 cores, building and publishing the RViz markers right after an action chunk competed
with the chunk's own way to the arm and cost 0.5-0.9 ms of median camera -> Twist latency
(bench/bench_graph.py with markers off vs on, two runs each). Nobody watching RViz sees 20 ms.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable


class DeferredLatest:
    """A thread that runs `fn(*args)` `delay_s` after `submit`; a newer job replaces one that
    has not started yet. `fn` must not raise (it is side work); `on_error` hears if it does."""

    def __init__(self, fn: Callable[..., None], delay_s: float, name: str,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        self.fn, self.delay_s, self.on_error = fn, delay_s, on_error
        self._cv = threading.Condition()
        self._job: tuple[float, tuple[Any, ...]] | None = None
        self._running = True
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, *args: Any) -> None:
        with self._cv:  # a replaced job keeps its due time, so a fast producer cannot starve fn
            due = self._job[0] if self._job is not None else time.monotonic() + self.delay_s
            self._job = (due, args)
            self._cv.notify()

    def close(self, timeout: float = 2.0) -> None:
        with self._cv:
            self._running = False
            self._cv.notify()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cv:
                while self._running and (self._job is None or self._job[0] > time.monotonic()):
                    self._cv.wait(None if self._job is None else max(self._job[0] - time.monotonic(), 0.0))
                if not self._running:
                    return
                _, args = self._job
                self._job = None
            try:
                self.fn(*args)
            except Exception as exc:  # noqa: BLE001 - side work never takes the node down
                if self.on_error is not None:
                    self.on_error(exc)
