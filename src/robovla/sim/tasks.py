"""Language-conditioned tabletop tasks: seeded layouts, phrasings and success checkers.

Checkers compare the privileged state now with the state when the task started (CALVIN-style),
so tasks can be chained without a reset. Each task has training phrasings and held-out ones
used only for evaluation (split="eval").
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from robovla.sim import scene
from robovla.sim.state import PrivilegedState

COLORS = tuple(scene.BLOCK_COLORS)
ON_TABLE_Z = scene.BLOCK_HALF + 0.01  # a block centre below this is resting on the table
LIFT_HEIGHT = 0.05  # block bottom this far above the table counts as lifted
PUSH_DISTANCE = 0.07
DRAWER_OPEN = 0.12
DRAWER_CLOSED = 0.03

# sampling regions (base_link metres)
BLOCK_X = (0.36, 0.58)
BLOCK_Y = (-0.2, 0.2)
BOWL_X = (0.38, 0.56)
BOWL_Y = (-0.18, 0.18)
MIN_BLOCK_GAP = 0.11
MIN_BOWL_GAP = 0.17


@dataclass(frozen=True)
class Layout:
    """Initial scene: block (x, y, yaw) per colour, bowl (x, y), drawer opening (m), light."""

    blocks: dict[str, tuple[float, float, float]]
    bowl: tuple[float, float]
    drawer_opening: float = 0.0
    light_on: bool = False


@dataclass(frozen=True)
class Task:
    name: str
    phrasings: tuple[str, ...]
    heldout_phrasings: tuple[str, ...]
    n_blocks: int  # how many colours the instruction names (0, 1 or 2)
    checker: Callable[[dict[str, Any], PrivilegedState, PrivilegedState], bool]
    precondition: Callable[[dict[str, Any], PrivilegedState], bool]
    layout_ok: Callable[[dict[str, Any], Layout], bool] = lambda p, lay: True
    layout_overrides: dict[str, Any] = field(default_factory=dict)  # drawer_opening range, light_on

    def check(self, params: dict[str, Any], start: PrivilegedState, now: PrivilegedState) -> bool:
        return bool(self.checker(params, start, now))

    def sample_params(self, rng: np.random.Generator) -> dict[str, Any]:
        picked = [str(c) for c in rng.permutation(COLORS)[: self.n_blocks]]
        return {"colors": picked}

    def all_params(self, rng: np.random.Generator) -> list[dict[str, Any]]:
        """Every choice of colours, in a seeded random order (feasibility search, not sampling)."""
        choices = list(itertools.permutations(COLORS, self.n_blocks))
        return [{"colors": [str(c) for c in choices[i]]} for i in rng.permutation(len(choices))]

    def instruction(self, params: dict[str, Any], rng: np.random.Generator, split: str = "train") -> str:
        if split == "train":
            pool = self.phrasings
        elif split == "eval":
            pool = self.heldout_phrasings
        elif split == "all":
            pool = self.phrasings + self.heldout_phrasings
        else:
            raise ValueError(f"unknown phrasing split {split!r}; use 'train', 'eval' or 'all'")
        colors = params.get("colors", [])
        fmt = {"color": colors[0] if colors else "", "top": colors[0] if colors else "", "bottom": colors[1] if len(colors) > 1 else ""}
        return str(pool[int(rng.integers(len(pool)))]).format(**fmt)


@dataclass(frozen=True)
class Episode:
    task: Task | None
    params: dict[str, Any]
    layout: Layout
    instruction: str


# ---------------------------------------------------------------- helpers on state
def _on_table(state: PrivilegedState, color: str) -> bool:
    b = state.blocks[color]
    return bool(b.pos[2] < ON_TABLE_Z and b.upright)


def _all_on_table(params: dict[str, Any], state: PrivilegedState) -> bool:
    return all(_on_table(state, c) for c in params["colors"])


def _in_bowl(state: PrivilegedState, color: str) -> bool:
    b = state.blocks[color].pos
    return bool(np.linalg.norm(b[:2] - state.bowl_pos[:2]) < scene.BOWL_RADIUS - 0.005 and b[2] < 0.045)


def _in_region(state: PrivilegedState, color: str) -> bool:
    x, y = state.blocks[color].pos[:2]
    return BLOCK_X[0] - 0.06 <= x <= BLOCK_X[1] + 0.08 and -0.3 <= y <= 0.3


# ---------------------------------------------------------------- checkers
def _lift(p, start, now) -> bool:
    c = p["colors"][0]
    return bool(now.blocks[c].pos[2] - scene.BLOCK_HALF > LIFT_HEIGHT)


def _push(sign: float):
    def check(p, start, now) -> bool:
        c = p["colors"][0]
        dy = now.blocks[c].pos[1] - start.blocks[c].pos[1]
        return bool(sign * dy > PUSH_DISTANCE and _on_table(now, c) and not now.grasped[c])

    return check


def _place_in_bowl(p, start, now) -> bool:
    c = p["colors"][0]
    return bool(_in_bowl(now, c) and not now.grasped[c] and not _in_bowl(start, c))


def _stack(p, start, now) -> bool:
    top, bottom = p["colors"]
    a, b = now.blocks[top].pos, now.blocks[bottom].pos
    dz = a[2] - b[2]
    return bool(
        np.linalg.norm(a[:2] - b[:2]) < 0.025
        and 1.5 * scene.BLOCK_HALF < dz < 2.5 * scene.BLOCK_HALF
        and _on_table(now, bottom)
        and not now.grasped[top]
        and now.tcp_pos[2] > a[2] + 0.02
    )


def _drawer_open(p, start, now) -> bool:
    return bool(start.drawer_opening < DRAWER_OPEN and now.drawer_opening >= DRAWER_OPEN)


def _drawer_closed(p, start, now) -> bool:
    return bool(start.drawer_opening > DRAWER_CLOSED and now.drawer_opening <= DRAWER_CLOSED)


def _light(on: bool):
    def check(p, start, now) -> bool:
        return bool(start.light_on != on and now.light_on == on)

    return check


# ---------------------------------------------------------------- layout predicates
def _push_corridor_clear(sign: float):
    def ok(p: dict[str, Any], lay: Layout) -> bool:
        c = p["colors"][0]
        bx, by, _ = lay.blocks[c]
        if not -0.2 <= by + sign * 0.16 <= 0.2 + 0.06:
            return False
        if not -0.21 <= by - sign * 0.07:  # the pusher's start clears the drawer cabinet
            return False
        for other, (ox, oy, _) in lay.blocks.items():
            if other != c and abs(ox - bx) < 0.08 and 0 < sign * (oy - by) < 0.24:
                return False
        # the pusher starts 6 cm on the other side of the block
        for other, (ox, oy, _) in lay.blocks.items():
            if other != c and abs(ox - bx) < 0.06 and 0 < -sign * (oy - by) < 0.12:
                return False
        wx, wy = lay.bowl
        return not (abs(wx - bx) < 0.13 and -0.14 < sign * (wy - by) < 0.3)

    return ok


def _pre_push(sign: float):
    def ok(p, s: PrivilegedState) -> bool:
        c = p["colors"][0]
        if not (_on_table(s, c) and _in_region(s, c)):
            return False
        b = s.blocks[c].pos
        if not -0.25 <= b[1] + sign * 0.16 <= 0.28 or b[1] - sign * 0.07 < -0.21:
            return False
        for other, o in s.blocks.items():
            if other != c and abs(o.pos[0] - b[0]) < 0.08 and -0.12 < sign * (o.pos[1] - b[1]) < 0.24:
                return False
        return not (abs(s.bowl_pos[0] - b[0]) < 0.13 and -0.14 < sign * (s.bowl_pos[1] - b[1]) < 0.3)

    return ok


def _pre_lift(p, s) -> bool:
    return _all_on_table(p, s) and all(_in_region(s, c) for c in p["colors"])


def _pre_bowl(p, s) -> bool:
    c = p["colors"][0]
    return _pre_lift(p, s) and not _in_bowl(s, c)


def _pre_stack(p, s) -> bool:
    top, bottom = p["colors"]
    if not _pre_lift(p, s) or _in_bowl(s, top) or _in_bowl(s, bottom):
        return False
    b = s.blocks[bottom].pos
    # nothing else sitting within a block width of the bottom block
    return all(np.linalg.norm(o.pos[:2] - b[:2]) > 0.07 for n, o in s.blocks.items() if n != bottom)


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "lift_block",
            ("lift the {color} block", "pick up the {color} block", "raise the {color} block off the table"),
            ("grab the {color} block and hold it up", "take the {color} cube up in the air"),
            1, _lift, _pre_lift,
        ),
        Task(
            "push_block_left",
            ("push the {color} block to the left", "slide the {color} block left", "move the {color} block leftwards"),
            ("nudge the {color} cube over to the left", "shove the {color} block left"),
            1, _push(+1.0), _pre_push(+1.0), _push_corridor_clear(+1.0),
        ),
        Task(
            "push_block_right",
            ("push the {color} block to the right", "slide the {color} block right", "move the {color} block rightwards"),
            ("nudge the {color} cube over to the right", "shove the {color} block right"),
            1, _push(-1.0), _pre_push(-1.0), _push_corridor_clear(-1.0),
        ),
        Task(
            "place_in_bowl",
            ("put the {color} block in the bowl", "place the {color} block into the bowl", "drop the {color} block in the bowl"),
            ("move the {color} cube into the bowl", "store the {color} block inside the bowl"),
            1, _place_in_bowl, _pre_bowl,
        ),
        Task(
            "stack_blocks",
            ("stack the {top} block on the {bottom} block", "put the {top} block on top of the {bottom} block",
             "place the {top} block onto the {bottom} block"),
            ("build a tower with the {top} block above the {bottom} one", "set the {top} cube on the {bottom} cube"),
            2, _stack, _pre_stack,
        ),
        Task(
            "open_drawer",
            ("open the drawer", "pull the drawer open", "slide the drawer out"),
            ("pull out the drawer", "get the drawer open"),
            0, _drawer_open, lambda p, s: s.drawer_opening < DRAWER_CLOSED,
            layout_overrides={"drawer_opening": (0.0, 0.02)},
        ),
        Task(
            "close_drawer",
            ("close the drawer", "push the drawer shut", "slide the drawer closed"),
            ("shut the drawer", "push the drawer back in"),
            0, _drawer_closed, lambda p, s: s.drawer_opening > DRAWER_OPEN,
            layout_overrides={"drawer_opening": (0.13, 0.18)},
        ),
        Task(
            "turn_on_light",
            ("turn on the light", "press the button to switch the light on", "switch on the lamp"),
            ("make the light come on", "light up the lamp"),
            0, _light(True), lambda p, s: not s.light_on,
            layout_overrides={"light_on": False},
        ),
        Task(
            "turn_off_light",
            ("turn off the light", "press the button to switch the light off", "switch off the lamp"),
            ("make the light go out", "put the lamp out"),
            0, _light(False), lambda p, s: s.light_on,
            layout_overrides={"light_on": True},
        ),
    )
}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASK_NAMES)}") from None


def sample_layout(rng: np.random.Generator, max_tries: int = 2000) -> Layout:
    """Blocks and bowl at random, non-overlapping; drawer nearly closed; light random."""
    for _ in range(max_tries):
        pts: list[tuple[float, float]] = []
        blocks: dict[str, tuple[float, float, float]] = {}
        ok = True
        for c in COLORS:
            x, y = rng.uniform(*BLOCK_X), rng.uniform(*BLOCK_Y)
            if any((x - px) ** 2 + (y - py) ** 2 < MIN_BLOCK_GAP**2 for px, py in pts):
                ok = False
                break
            pts.append((x, y))
            blocks[c] = (float(x), float(y), float(rng.uniform(-np.pi / 4, np.pi / 4)))
        if not ok:
            continue
        bx, by = rng.uniform(*BOWL_X), rng.uniform(*BOWL_Y)
        if any((bx - px) ** 2 + (by - py) ** 2 < MIN_BOWL_GAP**2 for px, py in pts):
            continue
        return Layout(
            blocks=blocks,
            bowl=(float(bx), float(by)),
            drawer_opening=float(rng.uniform(0.0, 0.02)),
            light_on=bool(rng.integers(2)),
        )
    raise RuntimeError("could not sample a non-overlapping layout")


def make_episode(task: str | Task | None, rng: np.random.Generator, split: str = "train",
                 params: dict[str, Any] | None = None) -> Episode:
    """A seeded episode: the task's parameters (sampled unless given), a layout where it is
    feasible, an instruction."""
    if task is None:
        return Episode(task=None, params={}, layout=sample_layout(rng), instruction="")
    t = task if isinstance(task, Task) else get_task(task)
    params = t.sample_params(rng) if params is None else params
    for _ in range(500):
        layout = sample_layout(rng)
        if t.layout_ok(params, layout):
            break
    else:
        raise RuntimeError(f"could not sample a layout where {t.name} is feasible")
    over = dict(t.layout_overrides)
    if "drawer_opening" in over:
        lo, hi = over.pop("drawer_opening")
        layout = replace(layout, drawer_opening=float(rng.uniform(lo, hi)))
    if "light_on" in over:
        layout = replace(layout, light_on=bool(over.pop("light_on")))
    return Episode(task=t, params=params, layout=layout, instruction=t.instruction(params, rng, split))


def continue_episode(
    task: str | Task | None, rng: np.random.Generator, state: PrivilegedState, layout: Layout, split: str = "train",
    candidates: Sequence[str] | None = None,
) -> Episode:
    """The next task of a chain, from the scene as it is now (no reset), CALVIN-style.

    `task=None` picks at random among the tasks whose precondition holds on `state`; a named task
    must be feasible from `state`; `candidates` restricts the random choice (e.g. to the tasks a
    policy was trained on). Raises ValueError when nothing (or the named task) is feasible.
    """
    pool = list(candidates) if candidates else list(TASK_NAMES)
    names = [task.name if isinstance(task, Task) else task] if task is not None else list(rng.permutation(pool))
    for name in names:
        t = get_task(str(name))
        for params in t.all_params(rng):  # the first feasible choice of colours, if any
            if t.precondition(params, state):
                return Episode(task=t, params=params, layout=layout, instruction=t.instruction(params, rng, split))
    if task is not None:
        raise ValueError(f"task {task!r} is not feasible from the current scene")
    raise ValueError("no task is feasible from the current scene")


def instruction_words(text: str) -> str:
    """An instruction as lower-case words: what two phrasings are compared by."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def ground_instruction(text: str, task: Task | None = None) -> tuple[Task, dict[str, Any]] | None:
    """The task, and its colours, of which `text` is a phrasing (training or held-out; case,
    punctuation and spacing aside; only `task`'s phrasings if given); None when no task says it,
    so no checker can judge it."""
    want = instruction_words(text)
    for t in ([task] if task is not None else TASKS.values()):
        for phrasing in t.phrasings + t.heldout_phrasings:
            for choice in itertools.permutations(COLORS, t.n_blocks):
                colors = [str(c) for c in choice]
                fmt = {"color": colors[0] if colors else "", "top": colors[0] if colors else "",
                       "bottom": colors[1] if len(colors) > 1 else ""}
                if instruction_words(phrasing.format(**fmt)) == want:
                    return t, {"colors": colors}
    return None


def wrong_instruction(task: str, rng: np.random.Generator, split: str = "eval") -> str:
    """A phrasing of another task than `task` (control experiment: `robovla eval --control
    wrong-instruction` asks for it while the sim judges `task`)."""
    others = [name for name in TASK_NAMES if name != task]
    other = TASKS[others[int(rng.integers(len(others)))]]
    return other.instruction(other.sample_params(rng), rng, split)


def goal_task(text: str, task: str = "") -> tuple[Task, dict[str, Any] | None] | str:
    """Which task judges a goal: `task` if named (with the colours `text` names when it is one of
    that task's phrasings; None = any), else the task `text` is a phrasing of. A str says why no
    task can."""
    if task:
        if task not in TASKS:
            return f"no success checker: the sim has no task {task!r} (tasks: {', '.join(TASK_NAMES)})"
        match = ground_instruction(text, TASKS[task])
        return TASKS[task], (match[1] if match else None)
    match = ground_instruction(text)
    if match is None:
        return (f"no success checker: the sim has no task phrased {text!r}; "
                "the timeout or an operator (robovla/report_outcome) decides")
    return match


def grounded_episode(task: Task, params: dict[str, Any], state: PrivilegedState, layout: Layout,
                     instruction: str) -> Episode:
    """`instruction`, judged by `task` with `params`, from the scene as it is; ValueError when the
    task's precondition does not hold there (its checker could never fire)."""
    if not task.precondition(params, state):
        raise ValueError(f"{task.name} is not feasible from the current scene")
    return Episode(task=task, params=params, layout=layout, instruction=instruction)
