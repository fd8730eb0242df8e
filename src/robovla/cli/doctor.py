"""`robovla doctor`: check an install, or a running graph.

With --graph it looks at the running graph (sim or robot, --namespace) and prints what is wrong in
words: nodes missing or silent on /diagnostics, cameras silent or slow, /joint_states absent or from
two publishers, the arm's controller inactive, nodes on different clocks, QoS pairs that never
connect. Exit 0 if nothing is wrong, 1 otherwise.

With --models it builds each backbone x formulation as a tiny random model of the real
transformers class (no download), runs one training step and one single-step inference and
reports a table (or JSON rows) so a broken dependency shows up as a named failing row.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any, help_text: str) -> None:
    p = subparsers.add_parser("doctor", help=help_text, description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", action="store_true",
                   help="build every backbone x formulation (tiny, offline), train one step, run step()")
    p.add_argument("--graph", action="store_true", help="check the running graph (see above)")
    p.add_argument("--namespace", default="", help="--graph: ROS namespace of the graph")
    p.add_argument("--listen", type=float, default=1.5, help="--graph: seconds to listen before judging")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    p.add_argument("--backbones", nargs="+", metavar="NAME", help="only these backbones (default: all)")
    p.add_argument("--formulations", nargs="+", metavar="NAME", help="only these formulations (default: all)")
    p.set_defaults(func=run)


def check_one(backbone: str, formulation: str) -> dict[str, Any]:
    """Build, one optimizer step, one VLAPolicy.step(); never raises (errors go in the row)."""
    import numpy as np
    import torch

    from robovla.model import VLAConfig, build_vla
    from robovla.model.backbones import adapter_class
    from robovla.policy.types import Observation, ObservationWindow
    from robovla.policy.vla import VLAPolicy

    row: dict[str, Any] = {"backbone": backbone, "formulation": formulation, "hf_class": None, "params": None,
                           "ok": False, "error": None, "seconds": None}
    start = time.perf_counter()
    try:
        row["hf_class"] = adapter_class(backbone).hf_class_name
        one = formulation.startswith("one_step")
        cfg = VLAConfig(backbone=backbone, formulation=formulation, window=1 if one else 2, chunk=2, image_size=64,
                        head="lstm", head_hidden=32, head_layers=1, finetune="full", pretrained=None)
        model = build_vla(cfg)
        row["params"] = model.parameter_counts()["total"]
        t, s = cfg.window, cfg.image_size
        g = torch.Generator().manual_seed(0)
        batch = {
            "images": torch.randint(0, 256, (2, t, 1, s, s, 3), dtype=torch.uint8, generator=g),
            "actions": torch.rand(2, t, cfg.chunk, 7, generator=g) * 2 - 1,
            "action_mask": torch.ones(2, t, cfg.chunk, dtype=torch.bool),
            "valid": torch.ones(2, t, dtype=torch.bool),
            "instruction": ["pick up the block", "open the drawer"],
        }
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        out = model.compute_loss(batch)
        out["loss"].backward()
        opt.step()
        if not torch.isfinite(out["loss"]):
            raise RuntimeError(f"training loss is {float(out['loss'])}")
        obs = Observation(stamp=0.0, images={c: np.zeros((s, s, 3), np.uint8) for c in cfg.cameras}, joint_positions=np.zeros(7),
                          gripper=0.0, ee_pose=np.array([0, 0, 0, 0, 0, 0, 1.0]))
        window = ObservationWindow(observations=(obs,) * t, valid=np.array([False] * (t - 1) + [True]))
        chunk = VLAPolicy(model).step(window, "pick up the block")
        if not np.isfinite(chunk.actions).all():
            raise RuntimeError("step() returned non-finite actions")
        row["ok"] = True
    except Exception as exc:  # report, do not crash: the point is to list what is broken
        row["error"] = f"{type(exc).__name__}: {exc}"
        log.debug("doctor: %s/%s failed", backbone, formulation, exc_info=True)
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row


def check_models(backbones: list[str] | None = None, formulations: list[str] | None = None,
                 progress: bool = True) -> list[dict[str, Any]]:
    from tqdm import tqdm

    from robovla.model import BACKBONES, FORMULATIONS

    bbs = backbones or list(BACKBONES)
    fs = formulations or list(FORMULATIONS)
    for name, allowed, given in (("backbone", BACKBONES, bbs), ("formulation", FORMULATIONS, fs)):
        bad = [x for x in given if x not in allowed]
        if bad:
            raise ValueError(f"unknown {name}(s) {bad}; choose from {', '.join(allowed)}")
    combos = [(b, f) for b in bbs for f in fs]
    return [check_one(b, f) for b, f in tqdm(combos, desc="doctor", disable=not progress, file=sys.stderr)]


def format_table(rows: list[dict[str, Any]]) -> str:
    head = ("backbone", "formulation", "hf_class", "params", "ok", "seconds", "error")
    def line(cells) -> str:
        return "  ".join(f"{str(c):<24}" if h in ("formulation", "hf_class") else f"{str(c):<16}"
                         for h, c in zip(head, cells))

    lines = [line(head)]
    for r in rows:
        lines.append(line([r["backbone"], r["formulation"], r["hf_class"] or "-", r["params"] or "-",
                           "ok" if r["ok"] else "FAIL", r["seconds"], r["error"] or ""]))
    return "\n".join(lines)


def check_graph(namespace: str = "", listen_s: float = 1.5) -> tuple[list[str], int]:
    """(problems, nodes seen) of the running graph; the expected nodes are config/graph.yaml's for
    a sim graph (a `sim` node is up) or a robot graph."""
    from robovla.control.controllers import MODE_CONTROLLERS
    from robovla.graph import resolve_graph
    from robovla.health.graph_checks import diagnose
    from robovla.nodes.common.graph_probe import GraphProbe

    probe = GraphProbe(namespace)
    try:
        probe.settle({s.name for sim in (True, False) for s in resolve_graph(sim=sim)}, quiet_s=listen_s)
        sim = "sim" in probe.node.get_node_names()
        specs = resolve_graph(sim=sim)
        control = next((s for s in specs if s.name == "kinova_control"), None)
        mode = (control.parameters.get("mode", "twist") if control is not None else "twist")
        snap = probe.snapshot([s.name for s in specs], MODE_CONTROLLERS[mode][0] if control else "", listen_s)
    finally:
        probe.close()
    return diagnose(snap), len(snap.nodes)


def run(args: argparse.Namespace) -> int:
    if args.graph:
        problems, seen = check_graph(args.namespace, args.listen)
        if args.json:
            print(json.dumps({"ok": not problems, "problems": problems}, indent=2))
        elif problems:
            print(f"robovla doctor --graph: {len(problems)} problem(s):")
            print("\n".join(f"  - {p}" for p in problems))
        else:
            print(f"robovla doctor --graph: ok ({seen} nodes)")
        return 1 if problems else 0
    if not args.models:
        print("robovla doctor: nothing to check; use --models or --graph (see --help)", file=sys.stderr)
        return 2
    import transformers

    transformers.logging.set_verbosity_error()
    logging.getLogger("robovla.model.vla").setLevel(logging.ERROR)
    try:
        rows = check_models(args.backbones, args.formulations, progress=not args.json)
    except ValueError as exc:
        print(f"robovla doctor: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
        n_ok = sum(r["ok"] for r in rows)
        print(f"\n{n_ok}/{len(rows)} combinations OK (transformers {transformers.__version__})")
    return 0 if all(r["ok"] for r in rows) else 1
