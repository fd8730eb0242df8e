"""`robovla bringup` as a supervisor: whatever stops it, the whole graph stops, cleanly.

Real processes: the installed `robovla` command starts the graph's installed executables; the
test watches their PIDs and the graph over DDS, signals the supervisor the way a terminal,
systemd/docker (SIGTERM), a shell's background job (SIGINT ignored) or the OOM killer (SIGKILL)
would, and checks that every process is gone and, where the supervisor could ask, exited 0.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from cli_helpers import install_env, robovla_command  # noqa: E402
from graph_helpers import wait_for  # noqa: E402

from robovla.nodes.common import topics  # noqa: E402
from robovla.nodes.common.episode_client import EpisodeClient  # noqa: E402

pytestmark = pytest.mark.ros


class Bringup:
    """`robovla bringup ...` in the background, its output collected."""

    def __init__(self, tmp_path: Path, *args: str, ignore_sigint: bool = False) -> None:
        preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
        self.tmp = tmp_path / "tmp"  # the supervisor's TMPDIR: what it leaves there is left behind
        self.tmp.mkdir()
        self.log_dir = tmp_path / "logs"
        self.log_dir.mkdir()
        self.proc = subprocess.Popen([robovla_command(), "bringup", "--log-dir", str(self.log_dir), *args],
                                     env=install_env(PYTHONUNBUFFERED="1", TMPDIR=str(self.tmp)), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, preexec_fn=preexec)
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)

    def text(self) -> str:
        return "".join(self.output)

    def pids(self, timeout: float = 60) -> dict[str, int]:
        line = wait_for(lambda: next((ln for ln in self.output if " started " in ln), None), timeout)
        assert line, f"bringup never started the graph:\n{self.text()}"
        return {name: int(pid) for name, pid in re.findall(r"(\w+)\[(\d+)\]", line)}

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in self.log_dir.glob("*.log"))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a zombie has exited; only its parent's wait is due)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_graph_ready(nodes: tuple[str, ...], publishers: tuple[str, ...] = (), timeout: float = 120) -> None:
    """Every node on the graph and every topic published; with the sim, its servers answering too."""
    client = EpisodeClient(name="supervisor_test_client")
    try:
        if "sim" in nodes:
            missing = client.wait_ready(timeout, nodes=nodes, publishers=publishers)
        else:
            up = wait_for(lambda: set(nodes) <= set(client.node.get_node_names())
                          and all(client.node.count_publishers(t) for t in publishers), timeout)
            missing = None if up else f"not up: {sorted(set(nodes) - set(client.node.get_node_names()))}"
        assert missing is None, missing
    finally:
        client.close()


FULL_GRAPH = ("task_manager", "camera_sync", "history_buffer", "vla_inference", "action_smoother",
              "kinova_control", "safety_monitor", "sim")


def test_sigterm_stops_the_whole_sim_graph_cleanly(tmp_path: Path) -> None:
    """The embedded default (sim + the demo VLA), stopped as systemd or `docker stop` would."""
    graph = Bringup(tmp_path, "--sim")
    try:
        pids = graph.pids()
        assert set(pids) == {"task_manager", "perception", "control", "safety_monitor", "sim"}
        wait_graph_ready(FULL_GRAPH, publishers=(topics.ACTION_CHUNK,))
        graph.proc.send_signal(signal.SIGTERM)
        assert graph.proc.wait(60) == 0, f"{graph.text()}\n{graph.logs()}"
    finally:
        graph.kill()
    assert not [n for n, pid in pids.items() if running(pid)], f"left running:\n{graph.text()}"
    assert not list(graph.tmp.glob("robovla-*")), "the parameter directory was left behind"
    assert "SIGTERM: stopping the graph" in graph.text()
    assert "did not exit cleanly" not in graph.text() and "did not stop in time" not in graph.text()
    perception = (graph.log_dir / "perception.log").read_text(errors="replace")
    assert "checkpoints/demo" in perception and "policy ready: vla" in perception.lower(), \
        "`robovla bringup --sim` alone runs the committed demo VLA"
    sim_log = (graph.log_dir / "sim.log").read_text(errors="replace")
    assert "EGL" not in sim_log and "Fatal Python error" not in sim_log, sim_log[-2000:]


def test_sigint_stops_a_background_bringup_whose_shell_ignored_it(tmp_path: Path) -> None:
    """`robovla bringup &` in a script: the shell starts it with SIGINT ignored."""
    graph = Bringup(tmp_path, "--sim", "--only", "task_manager,action_smoother,kinova_control,sim", ignore_sigint=True)
    try:
        pids = graph.pids()
        wait_graph_ready(("task_manager", "action_smoother", "kinova_control", "sim"))
        graph.proc.send_signal(signal.SIGINT)
        assert graph.proc.wait(60) == 0, f"{graph.text()}\n{graph.logs()}"
    finally:
        graph.kill()
    assert not [n for n, pid in pids.items() if running(pid)]
    assert "SIGINT: stopping the graph" in graph.text()


def test_a_killed_supervisor_takes_its_graph_with_it(tmp_path: Path) -> None:
    """SIGKILL cannot be forwarded: the kernel's parent-death signal stops the children."""
    graph = Bringup(tmp_path, "--sim", "--only", "task_manager,action_smoother,kinova_control")
    try:
        pids = graph.pids()
        wait_graph_ready(("task_manager", "action_smoother", "kinova_control"))
        graph.proc.send_signal(signal.SIGKILL)
        graph.proc.wait(10)
        left = wait_for(lambda: not any(running(pid) for pid in pids.values()), 30)
    finally:
        graph.kill()
    assert left, f"orphans: {[n for n, pid in pids.items() if running(pid)]}"


def test_a_dying_process_stops_the_graph(tmp_path: Path) -> None:
    graph = Bringup(tmp_path, "--sim", "--only", "task_manager,action_smoother,kinova_control")
    try:
        pids = graph.pids()
        wait_graph_ready(("task_manager", "action_smoother", "kinova_control"))
        subprocess.run(["kill", "-KILL", str(pids["task_manager"])], check=True)
        assert graph.proc.wait(60) == 1
    finally:
        graph.kill()
    assert "task_manager exited with code -9: stopping the graph" in graph.text()
    assert not [n for n, pid in pids.items() if running(pid)]


def test_rviz_without_rviz2_starts_nothing(tmp_path: Path) -> None:
    import shutil

    if shutil.which("rviz2"):
        pytest.skip("rviz2 is installed here")
    proc = subprocess.run([robovla_command(), "bringup", "--sim", "--rviz", "--log-dir", str(tmp_path)], env=install_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "rviz2 is not installed" in proc.stderr and "nothing was started" in proc.stderr
    assert not list(tmp_path.iterdir()), "no process was started (none wrote a log)"
