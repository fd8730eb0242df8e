"""Is every process the arm's safety depends on still alive? Judged by heartbeat receipt times.

A dead or hung process says nothing, so silence is the only signal there is: each watched process
(task_manager, safety_monitor, vla_inference) publishes a heartbeat at 40 Hz and kinova_control holds the arm
still while any is later than `timeout_s` (a pause: motion resumes by itself when the beat does),
and ends the episode when task_manager's is later than the lease (a stall, not a death, costs a
pause of the arm, not the goal). Times are seconds on the watcher's own clock at receipt, so the
sender's clock does not matter.

A watcher that was itself stalled (a loaded PC starving kinova_control) has beats queued that it
has not read yet; judged at the first tick after the stall, every sender would look late at once.
`tick()` notices the watcher's own gap and counts ages from its resumption until fresh beats are
read, so a stall of the watcher is never blamed on the processes it watches. That is safe: a
stalled watcher sends no motion, and safety_monitor stops the arm if the stall lasts. A process that
was already late at the watcher's last tick before its stall is not excused: its silence began
before the stall, and excusing it let a dead safety_monitor's pause lift for a moment (a CI run: 7
motion commands reached the arm after the monitor was killed, on a loaded machine).

Receipt time alone cannot tell a live process from a dead one's last beat read late: a loaded
watcher can take a beat from its queue after the sender died and after the watcher judged it late
(a CI run: task_manager killed, the arm paused, then one motion command went out before the next
check paused it again). So beats carry the sender's steady clock, and once a process is judged
late only a beat sent after the judgment lifts it. The sender's clock is mapped onto the watcher's
by the smallest (receipt - sending) gap of its recent beats, which is its offset plus the least
transit: no shared clock is needed, and a beat's mapped sending time is never after its receipt.
That comparison is made on the watcher's steady clock (`wall`), not on fault time: fault time
stands still while a lock-stepped sim waits and runs slower while it is slow, so a sender's
steady clock mapped onto it drifts, and a live process's beats were taken for stale ones for the
whole 5 s of a lock-step wait (a loaded run of test_lockstep).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable

#: the processes kinova_control watches by default: the goal's owner, the monitor that stops the
#: arm if control dies, and the policy (a dead perception process holds the arm in 0.1 s, not
#: after the observation-age limit)
WATCHED = ("task_manager", "safety_monitor", "vla_inference")


def watched(present: Iterable[str]) -> list[str]:
    """The default watch list reduced to the nodes a partial graph runs (e.g. the sim expert's)."""
    names = set(present)
    return [n for n in WATCHED if n in names]


class Heartbeats:
    #: beats whose (receipt - sending) gaps estimate a sender's clock offset (2 s at 40 Hz). A count,
    #: not a time span: after a long silence the few beats a dead process left queued must not be
    #: the whole estimate (each alone would map its sending to its receipt). A sender restarted on
    #: another clock is judged by its new offset once this many beats have come (late until then).
    OFFSET_WINDOW = 80

    def __init__(self, required: list[str] | tuple[str, ...], timeout_s: float) -> None:
        if not timeout_s > 0:
            raise ValueError(f"heartbeat timeout must be positive, got {timeout_s}")
        self.required = tuple(required)
        self.timeout_s = timeout_s
        self.last: dict[str, float] = {}
        self._last_tick = -math.inf
        # when the watcher last came back from a stall of its own, per process it excused for it
        self._excused_from: dict[str, float] = {}
        # when each process now late was first judged late, on the watcher's steady clock
        self._late_since: dict[str, float] = {}
        self._gaps: dict[str, deque[float]] = {}  # recent (steady receipt - sending) per sender
        self.refused_by: dict[str, float] = {}  # per sender: how long before the judgment its last refused beat was sent

    def beat(self, node: str, t: float, sent: float | None = None, wall: float | None = None) -> bool:
        """A beat from `node` received at fault time t (`wall`: the watcher's steady clock then;
        None: t is one). `sent`: the sender's steady clock at sending (s, any epoch; None: not known,
        receipt counts). False if ignored: sent before `node` was judged late."""
        if sent is not None:
            received = t if wall is None else wall
            gaps = self._gaps.setdefault(node, deque(maxlen=self.OFFSET_WINDOW))
            gaps.append(received - sent)
            judged = self._late_since.get(node)
            # strictly before: a beat mapped to the judgment's own instant is not a stale one
            if judged is not None and sent + min(gaps) < judged:
                self.refused_by[node] = judged - (sent + min(gaps))
                return False
        self._late_since.pop(node, None)
        self.last[node] = t
        return True

    def tick(self, t: float, wall: float | None = None) -> bool:
        """The watcher's periodic check ran at fault time t (`wall`: its steady clock then; None: t
        is one); True if it had stalled (a gap over timeout_s)."""
        stalled = t - self._last_tick > self.timeout_s and math.isfinite(self._last_tick)
        if stalled:
            late_before = set(self.late(self._last_tick))
            for n in self.required:
                if n not in late_before:
                    self._excused_from[n] = t
        self._last_tick = t
        for n in self.late(t):
            self._late_since.setdefault(n, t if wall is None else wall)
        return stalled

    def age(self, node: str, t: float) -> float:
        """Seconds since node's last beat, counted at most from the watcher's last resumption if the
        node was on time when the watcher stalled (infinite if never heard: readiness needs one beat
        from each)."""
        last = self.last.get(node)
        return math.inf if last is None else t - max(last, self._excused_from.get(node, -math.inf))

    def late(self, t: float) -> list[str]:
        """Watched processes whose heartbeat is late at time t, in the configured order."""
        return [n for n in self.required if self.age(n, t) > self.timeout_s]

    def describe(self, t: float) -> str:
        parts = []
        for n in self.late(t):
            age = self.age(n, t)
            parts.append(f"{n} (never heard)" if math.isinf(age) else f"{n} ({age:.2f} s ago)")
        return "no heartbeat from " + ", ".join(parts) if parts else ""


class FaultClock:
    """The time fault checks run on: it advances only while BOTH the steady wall clock and the
    node clock advance (by the smaller of the two steps).

    Faults (a silent process, a silent command stream) are wall-clock events: a fast sim must not
    make them fire, and a stalled process must still be caught. But in a simulation the arm only
    moves while simulated time passes: a lock-step sim paused while a slow policy computes is
    silent in wall time and nothing moves, so that silence is no fault (it would pause the arm,
    or deactivate its controller, between two steps of an evaluation). On a robot the node clock
    is the wall clock and this is plain steady time. Thread-safe: callbacks and timers of several
    threads read it.
    """

    #: simulated time not yet matched by wall time, carried to later readings at most this much.
    #: A sim's /clock comes in steps (20 ms at 50 Hz) while checks read the clocks more often: taking
    #: min(wall step, node step) reading by reading counted a check between two /clock messages as no
    #: time at all, and fault time ran at half speed (the monitor's 0.1 s silence took 0.21 s of
    #: wall time, measured with bench/bench_faults.py). The carry is short, so a sim that stops still
    #: stops fault time within it.
    MAX_CARRY_S = 0.05

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wall: float | None = None
        self._node = 0.0
        self._carry = 0.0
        self._t = 0.0

    def now(self, wall: float, node: float) -> float:
        """Fault time for a reading of the steady wall clock and the node clock (seconds)."""
        with self._lock:
            if self._wall is not None:
                if wall < self._wall:
                    # read before another thread's reading that came in first (the readings are taken
                    # before the lock): nothing new. Taking it as the latest counted the wall time
                    # between the two twice, and fault time ran ahead of the wall clock on a loaded
                    # machine. (A node clock that goes back while the wall clock goes on is a
                    # restarted sim, or a robot's system time stepped back: below.)
                    return self._t
                node_step = node - self._node
                if node_step < 0:  # the node clock went back (a sim restarted): nothing carried over
                    self._carry, node_step = 0.0, 0.0
                available = self._carry + node_step
                step = max(0.0, min(wall - self._wall, available))
                self._t += step
                self._carry = min(available - step, self.MAX_CARRY_S)
            self._wall, self._node = wall, node
            return self._t
