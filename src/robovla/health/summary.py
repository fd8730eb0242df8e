"""The graph's status from its nodes' statuses: what robovla/status says in one message."""

from __future__ import annotations

from dataclasses import dataclass

from robovla.health.checks import Level


@dataclass
class Summary:
    level: Level
    message: str
    nodes: list[str]
    levels: list[Level]


class GraphSummary:
    """Newest status per node; a node not heard for stale_s is STALE (hung, or gone)."""

    def __init__(self, stale_s: float = 3.0) -> None:
        if not stale_s > 0:
            raise ValueError(f"stale_s must be positive, got {stale_s}")
        self.stale_s = stale_s
        self._latest: dict[str, tuple[Level, str, float]] = {}

    def update(self, node: str, level: int, message: str, t: float) -> None:
        self._latest[node] = (Level(min(max(int(level), 0), 3)), message, t)

    def summary(self, t: float) -> Summary:
        nodes = sorted(self._latest)
        levels, bad = [], []
        for name in nodes:
            level, message, seen = self._latest[name]
            if t - seen > self.stale_s:
                level, message = Level.STALE, f"no status for {t - seen:.1f} s"
            levels.append(level)
            if level > Level.OK:
                bad.append((level, f"{name}: {message}"))
        if not bad:
            return Summary(Level.OK, "ok", nodes, levels)
        worst = max(level for level, _ in bad)
        return Summary(worst, "; ".join(m for level, m in sorted(bad, key=lambda b: -b[0])), nodes, levels)
