"""trainer: the TrainPolicy action server — the same library as `robovla train`, as a ROS node.

One goal at a time, run in the action's execute thread so the node keeps answering. Feedback
carries epoch, step, loss and ETA; cancel saves a resumable state plus a `stopped/` checkpoint
and returns it; any failure (bad data, incompatible base checkpoint, a crash in training) ends
the goal with success=false and the reason, and the node stays up for the next goal.
"""

from __future__ import annotations

import json
import math
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from robovla.action import TrainPolicy
from robovla.nodes.common import topics
from robovla.nodes.common.params import declare_config
from robovla.nodes.common.runner import run, side_node


@dataclass
class TrainerParams:
    default_preset: str = "tiny"
    runs_root: str = "~/robovla_runs"  # out_dir default: <runs_root>/<timestamp>
    feedback_min_period_s: float = 0.2


def _f(x: float) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else 0.0


class Trainer(Node):
    def __init__(self) -> None:
        super().__init__("trainer")
        self.p = declare_config(self, TrainerParams)
        self._busy = threading.Lock()
        self.server = ActionServer(
            side_node(self), TrainPolicy, topics.TRAIN_POLICY, execute_callback=self._execute,
            goal_callback=lambda _g: GoalResponse.ACCEPT, cancel_callback=lambda _h: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup(),
        )
        self.get_logger().info(f"ready: {topics.TRAIN_POLICY} (default preset {self.p.default_preset})")

    def _execute(self, handle) -> TrainPolicy.Result:
        goal = handle.request
        result = TrainPolicy.Result()
        if not self._busy.acquire(blocking=False):
            result.success, result.message = False, "rejected: a training goal is already running"
            handle.abort()
            return result
        try:
            return self._train(handle, goal, result)
        finally:
            self._busy.release()

    def _train(self, handle, goal, result: TrainPolicy.Result) -> TrainPolicy.Result:
        from robovla.train import TrainingError, load_train_config, run_training
        from robovla.train.config import parse_overrides

        data = [d for d in goal.data_dirs if d.strip()]
        out = goal.out_dir.strip() or str(Path(self.p.runs_root).expanduser() / time.strftime("run_%Y%m%d_%H%M%S"))
        last = [0.0]

        def on_progress(p) -> None:
            now = time.monotonic()
            if p.state == "training" and p.step < p.total_steps and now - last[0] < self.p.feedback_min_period_s:
                return
            last[0] = now
            fb = TrainPolicy.Feedback()
            fb.epoch, fb.step, fb.total_steps = int(p.epoch), int(p.step), int(p.total_steps)
            fb.loss, fb.eta_s, fb.state = _f(p.loss), _f(p.eta_s), p.state
            handle.publish_feedback(fb)

        try:
            if not data:
                raise TrainingError("no data_dirs given")
            cfg = load_train_config(goal.preset.strip() or self.p.default_preset, list(goal.overrides),
                                    int(goal.steps) or None)
            model_overrides = {k.split(".", 1)[1]: v for k, v in parse_overrides(list(goal.overrides))
                               if k.startswith("model.")}
            self.get_logger().info(f"training on {data} -> {out} (base: {goal.base_checkpoint or 'none'})")
            res = run_training(cfg, data, out, goal.base_checkpoint.strip() or None, model_overrides=model_overrides,
                               on_progress=on_progress, should_stop=lambda: handle.is_cancel_requested,
                               show_progress=False)
        except (TrainingError, FileNotFoundError, ValueError) as exc:
            self.get_logger().error(f"training failed: {exc}")
            result.success, result.message = False, f"training failed: {exc}"
            handle.abort()
            return result
        except Exception as exc:  # the node must survive anything training throws
            self.get_logger().error(f"training crashed: {exc}\n{traceback.format_exc()}")
            result.success, result.message = False, f"training crashed: {type(exc).__name__}: {exc}"
            handle.abort()
            return result
        result.success = not res.stopped
        result.message = res.message + (f"; {len(res.data_problems)} data problem(s): " +
                                        "; ".join(res.data_problems[:3]) if res.data_problems else "")
        result.checkpoint_dir, result.steps_done, result.final_loss = res.checkpoint_dir, res.steps_done, _f(res.final_loss)
        result.val_action_mse = _f(res.val_metrics.get("val_action_mse", float("nan")))
        result.val_gripper_accuracy = _f(res.val_metrics.get("val_gripper_accuracy", float("nan")))
        result.metrics_json = json.dumps(res.val_metrics)
        if res.stopped:
            handle.canceled()
        else:
            handle.succeed()
        return result


NODE = Trainer  # the class robovla.nodes.container instantiates


def main() -> int:
    return run(NODE)


if __name__ == "__main__":
    raise SystemExit(main())
