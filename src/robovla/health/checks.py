"""Turning rates and states into a level and a sentence an operator can act on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

from robovla.health.rates import RateMeter


class Level(IntEnum):
    """diagnostic_msgs/DiagnosticStatus levels."""
    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass
class Finding:
    level: Level
    message: str


@dataclass
class Report:
    """One node's status: the worst finding's level, every non-OK finding in words, and values."""
    level: Level = Level.OK
    message: str = "ok"
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, findings: list[Finding], values: dict[str, str], ok_message: str = "ok") -> "Report":
        bad = [f for f in findings if f.level > Level.OK]
        if not bad:
            return cls(Level.OK, ok_message, values)
        worst = max(f.level for f in bad)
        ordered = sorted(bad, key=lambda f: -f.level)
        return cls(worst, "; ".join(f.message for f in ordered), values)


def stream_finding(name: str, meter: RateMeter, t: float, silent_s: float,
                   expected_hz: float = 0.0, slow_fraction: float = 0.5) -> Finding:
    """A stream that should flow: ERROR when nothing came for silent_s (or ever), WARN when it runs
    below slow_fraction of expected_hz (0 = no expected rate)."""
    age = meter.age(t)
    if math.isinf(age):
        return Finding(Level.ERROR, f"{name}: nothing received yet")
    if age > silent_s:
        return Finding(Level.ERROR, f"{name}: silent for {age:.1f} s")
    rate = meter.rate(t)
    if expected_hz > 0 and rate < slow_fraction * expected_hz:
        return Finding(Level.WARN, f"{name}: {rate:.1f} Hz, expected {expected_hz:g} Hz")
    return Finding(Level.OK, f"{name}: {rate:.1f} Hz")
