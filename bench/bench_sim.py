"""Benchmark the MuJoCo Gen3 sim: step + render fps (224x224, 2 cameras) and real-time factor.

Writes bench/results/sim.json and bench/results/sim.md. Run:
    source scripts/env.sh && python bench/bench_sim.py [--seconds 20] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402

from robovla.sim.config import SimConfig  # noqa: E402
from robovla.sim.env import Gen3SimEnv  # noqa: E402
from robovla.sim.expert import ScriptedExpert  # noqa: E402
from robovla.sim.rollout import apply_action  # noqa: E402
from robovla.sim.tasks import TASK_NAMES  # noqa: E402


def _run(env: Gen3SimEnv, seconds: float, render: bool) -> dict[str, float]:
    """Expert-driven episodes over all tasks for about `seconds` of wall time."""
    expert = ScriptedExpert(dt=env.config.control_dt)
    steps, sim_time, render_time = 0, 0.0, 0.0
    start = time.perf_counter()
    k = 0
    while time.perf_counter() - start < seconds:
        episode = env.reset(TASK_NAMES[k % len(TASK_NAMES)], seed=k)
        expert.reset(episode)
        state = env.state()
        for _ in range(150):
            if render:
                t0 = time.perf_counter()
                env.render()
                render_time += time.perf_counter() - t0
            apply_action(env, expert.act(state), state)
            state = env.step()
            steps += 1
        sim_time += env.time
        k += 1
    wall = time.perf_counter() - start
    return {
        "control_steps": steps,
        "wall_s": wall,
        "steps_per_s": steps / wall,
        "real_time_factor": sim_time / wall,
        "render_s_per_step": render_time / max(steps, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="wall time per measurement")
    parser.add_argument("--cores", type=int, default=2, help="pin the process to this many CPU cores (0 = all)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if args.cores and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))[: args.cores]
        os.sched_setaffinity(0, cores)
    cfg = SimConfig()
    env = Gen3SimEnv(cfg)
    env.render()  # renderer setup outside the timing
    physics = _run(env, args.seconds, render=False)
    rendered = _run(env, args.seconds, render=True)
    env.close()
    n_cams = len(cfg.cameras)
    result = {
        "config": {
            "physics_hz": 1.0 / cfg.physics_dt,
            "control_hz": cfg.control_hz,
            "image_size": cfg.image_size,
            "cameras": list(cfg.cameras),
            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "mujoco": mujoco.__version__,
            "mujoco_gl": os.environ.get("MUJOCO_GL"),
            "machine": platform.processor() or platform.machine(),
        },
        "physics_only": physics,
        "step_and_render": rendered
        | {
            "frames_per_s_per_camera": rendered["steps_per_s"],
            "camera_frames_per_s_total": rendered["steps_per_s"] * n_cams,
            "render_ms_per_camera": 1000.0 * rendered["render_s_per_step"] / n_cams,
        },
        "goal_frames_per_s_per_camera": 30.0,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sim.json").write_text(json.dumps(result, indent=2))
    r = result["step_and_render"]
    md = [
        "# Sim benchmark (bench/bench_sim.py)",
        "",
        f"MuJoCo {result['config']['mujoco']}, MUJOCO_GL={result['config']['mujoco_gl']}, "
        f"{result['config']['cores']} cores, physics {result['config']['physics_hz']:.0f} Hz, "
        f"control {cfg.control_hz:.0f} Hz, scripted expert driving all tasks.",
        "",
        "| measurement | value |",
        "|---|---|",
        f"| physics only: control steps/s | {physics['steps_per_s']:.0f} |",
        f"| physics only: real-time factor | {physics['real_time_factor']:.1f}x |",
        f"| step + render {cfg.image_size}x{cfg.image_size} x {n_cams} cams: frames/s per camera | {r['frames_per_s_per_camera']:.1f} |",
        f"| step + render: camera frames/s (all cameras) | {r['camera_frames_per_s_total']:.1f} |",
        f"| step + render: real-time factor | {r['real_time_factor']:.2f}x |",
        f"| render time per camera frame | {r['render_ms_per_camera']:.1f} ms |",
        "",
        "Goal: >= 30 frames/s per camera on 2 cores.",
    ]
    (args.out / "sim.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
