"""DeferredLatest: side work runs after its delay, newest job only, and never raises into its caller."""

from __future__ import annotations

import threading
import time

import pytest

from robovla.nodes.common.deferred import DeferredLatest


def test_runs_after_the_delay_and_a_newer_job_replaces_a_waiting_one() -> None:
    ran: list[tuple[str, float]] = []
    done = threading.Event()
    worker = DeferredLatest(lambda tag: (ran.append((tag, time.monotonic())), done.set()), 0.1, "test")
    start = time.monotonic()
    worker.submit("old")
    worker.submit("new")
    assert done.wait(2.0)
    time.sleep(0.15)
    worker.close()
    assert [tag for tag, _ in ran] == ["new"], "the job that never started was replaced"
    assert ran[0][1] - start >= 0.1, "not before its delay"
    assert ran[0][1] - start < 0.2, "a replacement keeps the first job's due time, so it is not postponed"


def test_an_error_is_reported_and_the_worker_goes_on() -> None:
    errors: list[Exception] = []
    ok = threading.Event()

    def job(fail: bool) -> None:
        if fail:
            raise RuntimeError("marker build failed")
        ok.set()

    worker = DeferredLatest(job, 0.0, "test", on_error=errors.append)
    worker.submit(True)
    time.sleep(0.1)
    worker.submit(False)
    assert ok.wait(2.0)
    worker.close()
    assert [str(e) for e in errors] == ["marker build failed"]


def test_close_stops_a_pending_job_and_negative_delay_is_refused() -> None:
    ran: list[int] = []
    worker = DeferredLatest(ran.append, 5.0, "test")
    worker.submit(1)
    worker.close()
    assert ran == [] and not worker._thread.is_alive()
    with pytest.raises(ValueError, match="delay_s"):
        DeferredLatest(ran.append, -1.0, "test")
