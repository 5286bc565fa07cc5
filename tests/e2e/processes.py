"""`rollout` as an operator or a CI runner has it: started in a session of its own, its output
read as it comes, stopped by a signal at a chosen moment. The `pulumi` CLI it drives runs in a
session of its own too, and its plugins in process groups of their own, so a process *tree* (not
a group) is what these helpers find, signal and wait for."""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

ROLLOUT = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "rollout")


class Running:
    """A `rollout` command running in the background."""

    def __init__(self, args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            [ROLLOUT, "--cwd", str(cwd), *args],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.seen: list[str] = []

    def wait_for(self, pattern: str, timeout: float = 300) -> None:
        """Read stderr until a line matches ``pattern`` (bounded by ``timeout``)."""
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                raise AssertionError(f"output ended before {pattern!r}:\n{''.join(self.seen)}")
            self.seen.append(line)
            if re.search(pattern, line):
                return
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{''.join(self.seen)}")

    def tree(self) -> list[psutil.Process]:
        """rollout and every process it started, now (the CLI, the language host, the providers)."""
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def finish(self, timeout: float = 600) -> tuple[int, str, str]:
        out, rest = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, "".join(self.seen) + rest


def kill_all(processes: Sequence[psutil.Process]) -> None:
    """SIGKILL every process at once: what a machine or runner that vanishes does to a tree."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
    gone(processes, 30)


def gone(processes: Sequence[psutil.Process], timeout: float = 120) -> list[psutil.Process]:
    """Wait (bounded) for the processes to exit; those still running after ``timeout``."""
    _, alive = psutil.wait_procs(list(processes), timeout=timeout)
    return alive
