"""`robovla replay BAG`: publish a recorded episode back into the graph, as it was recorded.

    robovla replay ~/robovla_demos/stack_blocks_00003 --rate 0.5 --topics /joint_states /robovla/instruction

Each topic is offered with the QoS it was recorded with (the graph's own profiles), so the
latched /robovla/instruction reaches transient-local subscribers that join after it was
published, as it does from the live task manager. Messages go out in recorded time order,
spaced by their recorded intervals divided by --rate. Unlike `ros2 bag play`, it needs no rosbag2
install, only rclpy and the robovla messages. Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)


def register(sub: Any, help_text: str) -> None:
    p = sub.add_parser("replay", help=help_text, description=__doc__.splitlines()[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[1:]))
    p.add_argument("bag", help="episode bag directory")
    p.add_argument("--rate", type=float, default=1.0, help="playback speed factor (2 = twice as fast)")
    p.add_argument("--topics", nargs="+", metavar="TOPIC", help="replay only these topics (default: all)")
    p.add_argument("--delay", type=float, default=1.0, metavar="S",
                   help="seconds between creating the publishers and the first message, so DDS discovery "
                        "matches the graph's subscribers before data flows (it can take seconds on a loaded "
                        "machine: raise it if the first messages are missed)")
    p.add_argument("--hold", action="store_true",
                   help="after the last message keep the publishers (and the latched instruction) up until Ctrl-C")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.rate <= 0:
        log.error("--rate must be > 0 (got %s)", args.rate)
        return 2
    from robovla.data.replay import BagReplay

    try:
        replay = BagReplay(args.bag, args.topics)
    except Exception as exc:  # rosbags raises several types for a missing or corrupt bag
        log.error("cannot replay %s: %s", args.bag, exc)
        return 1
    with replay:
        return _publish(replay, args)


def _publish(replay: Any, args: argparse.Namespace) -> int:
    import signal
    import threading
    import time

    from robovla.nodes.common.bag_player import BagPlayer

    stop = threading.Event()  # Ctrl-C / SIGTERM end the replay between two messages
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    player = BagPlayer(replay)
    try:
        if not player.pubs:
            log.error("%s: nothing to replay", replay.path)
            return 1
        log.info("replaying %s: %d messages over %.2f s at x%g", replay.path, player.total,
                 replay.duration_ns / 1e9, args.rate)
        stop.wait(max(0.0, args.delay))
        t0 = time.monotonic()
        sent = player.play(args.rate, stop)
        if stop.is_set():
            log.info("stopped after %d of %d messages", sent, player.total)
            return 0
        player.flush(1.0, stop)
        log.info("replayed %d messages in %.2f s", sent, time.monotonic() - t0)
        if args.hold:
            log.info("holding the publishers; Ctrl-C to end")
            stop.wait()
        return 0
    finally:
        player.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
