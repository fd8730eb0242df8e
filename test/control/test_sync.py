"""ApproximateTimeSync, the stand-in for message_filters' synchronizer: sets within slop, strictly
increasing output, and drop counts per input (a 50 Hz joint-state stream skips most messages by
design; a camera that skips frames is out of sync, and diagnostics must tell the two apart)."""

from __future__ import annotations

import pytest

from robovla.control.sync import ApproximateTimeSync

CAM_A, CAM_B, JOINTS = 0, 1, 2


def _feed(sync: ApproximateTimeSync, events: list[tuple[int, float]]) -> list[tuple[float, list[str]]]:
    out = []
    for index, t in events:
        got = sync.add(index, t, f"{index}@{t:.3f}")
        if got is not None:
            out.append(got)
    return out


def test_two_cameras_and_fast_joints_match_per_frame_and_joint_skips_are_counted_apart() -> None:
    sync = ApproximateTimeSync(3, queue_size=5, slop=0.01, queue_sizes=[5, 5, 50])
    events = [(JOINTS, k * 0.02) for k in range(50)]  # 50 Hz joints over 1 s
    events += [(CAM_A, k * 0.05 + 0.001) for k in range(20)] + [(CAM_B, k * 0.05 + 0.002) for k in range(20)]
    sets = _feed(sync, sorted(events, key=lambda e: e[1]))
    assert len(sets) == 20, "every camera pair makes one set"
    stamps = [t for t, _ in sets]
    assert stamps == sorted(stamps) and len(set(stamps)) == 20
    for t, msgs in sets:
        assert [m.split("@")[0] for m in msgs] == ["0", "1", "2"]
        assert max(float(m.split("@")[1]) for m in msgs) - min(float(m.split("@")[1]) for m in msgs) <= 0.01
    assert sync.stats.dropped_per_input[CAM_A] == 0 and sync.stats.dropped_per_input[CAM_B] == 0
    assert sync.stats.dropped_per_input[JOINTS] > 0  # the joint states between frames


def test_a_camera_out_of_sync_is_counted_on_that_camera() -> None:
    sync = ApproximateTimeSync(2, queue_size=3, slop=0.005)
    # camera B lags 30 ms: nothing within slop, the queue of A overflows
    _feed(sync, [e for k in range(10) for e in ((CAM_A, k * 0.05), (CAM_B, k * 0.05 + 0.03))])
    assert sync.stats.emitted == 0
    assert sync.stats.dropped_per_input[CAM_A] > 0 and sync.stats.dropped_per_input[CAM_B] > 0


def test_out_of_order_stamps_are_rejected() -> None:
    sync = ApproximateTimeSync(1, queue_size=3, slop=0.0)
    assert sync.add(0, 1.0, "a") is not None
    assert sync.add(0, 0.5, "old") is None
    assert sync.stats.rejected_out_of_order == 1


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="queue_sizes"):
        ApproximateTimeSync(2, queue_sizes=[1])
    with pytest.raises(ValueError, match="slop"):
        ApproximateTimeSync(2, slop=-1)
