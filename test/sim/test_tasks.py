"""Task checkers fire only on success; the scripted expert solves every task."""

from __future__ import annotations

import numpy as np
import pytest

from robovla.sim import tasks
from robovla.sim.expert import ScriptedExpert
from robovla.sim.rollout import apply_action, run_expert_episode

N_SEEDS = 50


def test_at_least_eight_tasks_with_heldout_phrasings() -> None:
    assert len(tasks.TASK_NAMES) >= 8
    for task in tasks.TASKS.values():
        assert len(task.phrasings) >= 3 and len(task.heldout_phrasings) >= 2
        assert not set(task.phrasings) & set(task.heldout_phrasings)
        rng = np.random.default_rng(0)
        params = task.sample_params(rng)
        train = {task.instruction(params, rng, "train") for _ in range(30)}
        heldout = {task.instruction(params, rng, "eval") for _ in range(30)}
        assert not train & heldout
        assert all("{" not in s for s in train | heldout)
    with pytest.raises(ValueError, match="unknown task"):
        tasks.get_task("juggle")
    with pytest.raises(ValueError, match="split"):
        tasks.TASKS["lift_block"].instruction({"colors": ["red"]}, np.random.default_rng(0), "test")


def test_layouts_are_seeded_and_random() -> None:
    a = tasks.make_episode("stack_blocks", np.random.default_rng(3))
    b = tasks.make_episode("stack_blocks", np.random.default_rng(3))
    c = tasks.make_episode("stack_blocks", np.random.default_rng(4))
    assert a.layout == b.layout and a.instruction == b.instruction
    assert a.layout != c.layout


@pytest.mark.parametrize("name", tasks.TASK_NAMES)
def test_checker_does_not_fire_at_start_or_while_idle(env, name) -> None:
    for seed in range(3):
        episode = env.reset(name, seed)
        assert episode.task.precondition(episode.params, env.start_state)
        assert not env.success()
        env.step(25)
        assert not env.success()


def _other_checkers(episode, start, now) -> list[str]:
    """Names of other tasks whose checker fires on (start, now) with compatible parameters."""
    fired = []
    for other in tasks.TASKS.values():
        if other.name == episode.task.name:
            continue
        colors = episode.params.get("colors", [])
        if len(colors) < other.n_blocks:
            colors = colors + [c for c in tasks.COLORS if c not in colors]
        params = {"colors": colors[: other.n_blocks]}
        if other.check(params, start, now):
            fired.append(other.name)
    return fired


# pairs that legitimately co-occur: stacking or placing lifts the block on the way
_ALLOWED = {"place_in_bowl": set(), "stack_blocks": set()}


@pytest.mark.parametrize("name", tasks.TASK_NAMES)
def test_checker_fires_only_on_its_own_success(env, name) -> None:
    for seed in range(2):
        result = run_expert_episode(env, name, seed)
        assert result.success
        fired = set(_other_checkers(env.episode, env.start_state, env.state())) - _ALLOWED.get(name, set())
        assert not fired, f"{name} success also fired {fired}"


def test_partial_progress_does_not_count(env) -> None:
    # lift only 2 cm: not a lift
    episode = env.reset("lift_block", 5)
    expert = ScriptedExpert(dt=env.config.control_dt)
    expert.reset(episode)
    state = env.state()
    for _ in range(400):
        if expert.phase_name == "lift":
            break
        apply_action(env, expert.act(state), state)
        state = env.step()
    env.apply_twist([0, 0, -0.02], [0, 0, 0])  # tool z is down: rise 2 cm
    state = env.step(50)
    env.stop()
    assert state.grasped[episode.params["colors"][0]]
    assert not env.success()
    # half-open drawer: not open
    env.reset("open_drawer", 1)
    env.data.qpos[env._drawer_qadr] = 0.08
    assert not env.success()


@pytest.mark.parametrize("name", tasks.TASK_NAMES)
def test_scripted_expert_success_rate(env, name) -> None:
    results = [run_expert_episode(env, name, seed) for seed in range(N_SEEDS)]
    rate = np.mean([r.success for r in results])
    failed = [r.seed for r in results if not r.success]
    assert rate >= 0.95, f"{name}: {rate:.2f} over {N_SEEDS} seeds, failed seeds {failed}"


class _HoverRecorder(ScriptedExpert):
    """The expert, noting the TCP where it leaves its first (approach) phase."""

    hover: np.ndarray | None = None

    def act(self, state):
        before = self.phase_name
        action = super().act(state)
        if self.hover is None and self.phase_name != before:
            self.hover = state.tcp_pos.copy()
        return action


def _hover_point(env, task: str, seed: int, jitter: float) -> tuple[np.ndarray, bool]:
    """Hover point of the first phase and whether the episode succeeds (the shared rollout loop)."""
    expert = _HoverRecorder(dt=env.config.control_dt, seed=seed, approach_jitter=jitter)
    result = run_expert_episode(env, task, seed, expert=expert)
    return expert.hover, result.success


@pytest.mark.parametrize("task", ["open_drawer", "close_drawer", "turn_on_light", "lift_block"])
def test_approach_jitter_moves_the_waypoint_and_the_expert_still_succeeds(env, task) -> None:
    offsets = []
    for seed in (3, 4, 5):
        base, ok = _hover_point(env, task, seed, 0.0)
        assert ok
        jittered, ok = _hover_point(env, task, seed, 0.03)
        assert ok, f"{task} seed {seed}: the expert failed with approach jitter"
        offsets.append(np.linalg.norm(jittered[:2] - base[:2]))
    # the hover point moved (well beyond the phase tolerance) but stayed within the jitter disc + tolerance
    assert max(offsets) > 0.012 and max(offsets) < 0.03 + 0.015, offsets


def test_approach_jitter_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="approach_jitter"):
        ScriptedExpert(approach_jitter=0.5)
    with pytest.raises(ValueError, match="approach_jitter"):
        ScriptedExpert(approach_jitter=-0.01)


def test_a_goal_is_judged_by_the_task_it_names_or_is_a_phrasing_of():
    # any phrasing, either split, case and punctuation aside; colours come from the words
    task, params = tasks.goal_task("Make the light come on!")
    assert task.name == "turn_on_light"
    phrasing = tasks.TASKS["lift_block"].phrasings[0].format(color="red", top="red", bottom="")
    task, params = tasks.goal_task(phrasing.upper())
    assert task.name == "lift_block" and params == {"colors": ["red"]}
    # a named task judges whatever the wording; its colours only when the wording is one of its phrasings
    task, params = tasks.goal_task("flip the switch", "turn_on_light")
    assert task.name == "turn_on_light" and params is None
    task, params = tasks.goal_task(phrasing, "lift_block")
    assert params == {"colors": ["red"]}
    # the named task wins over the task the words say
    assert tasks.goal_task("turn on the light", "turn_off_light")[0].name == "turn_off_light"
    # nothing to judge by: a reason, not a guess
    assert "no task phrased 'wave hello'" in tasks.goal_task("wave hello")
    assert "no task 'fly'" in tasks.goal_task("turn on the light", "fly")
