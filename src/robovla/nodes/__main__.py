"""`python -m robovla.nodes <executable> [--ros-args ...]`: run one node without the installed wrapper."""

import importlib
import sys

if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    sys.exit("usage: python -m robovla.nodes <executable> [--ros-args ...]")
module = importlib.import_module(f"robovla.nodes.{sys.argv[1]}")
sys.argv = [sys.argv[1]] + sys.argv[2:]
sys.exit(module.main())
