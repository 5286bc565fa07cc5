"""The `pulumi` CLI as a supervised child: run in a process group of its own, so that a signal
reaches it only when rollout passes it on, exactly once, and so that everything it started can be
found and stopped.

Why: the Automation API starts `pulumi` in rollout's own process group. A Ctrl-C at a terminal
then reaches both (the CLI starts a clean cancel), but a CI runner's SIGTERM reaches rollout
alone, leaving the CLI running with the stack's lock; and forwarding a signal the CLI already got
would be its second one, which terminates it at once with the lock held. Here the CLI hears only
rollout: the first SIGINT or SIGTERM rollout receives is passed on as one SIGINT (the CLI
finishes the operations in flight, records the update, releases the lock and stops its plugins);
a second one terminates it, and every process it started (plugins run in process groups of their
own) is killed after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import psutil
from pulumi import automation as auto
from pulumi.automation.errors import create_command_error

KILL_GRACE_S = 10.0
"""After a second signal, how long the CLI's processes get to exit before they are killed."""


class Interrupted(KeyboardInterrupt):
    """The command was interrupted by ``signal`` (SIGINT or SIGTERM); when a CLI operation was
    running, it was asked to stop cleanly and has stopped."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal = signal_name


class SupervisedPulumi(auto.PulumiCommand):
    """`pulumi` run in a session of its own. While ``supervised`` is active, the first SIGINT or
    SIGTERM rollout receives asks the running CLI operation to stop cleanly (it then raises
    Interrupted when it has), or raises Interrupted at once when none runs; a second one stops the
    CLI and its plugins now."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._running: subprocess.Popen[str] | None = None
        self._family: set[psutil.Process] = set()
        self.signalled: str | None = None

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: auto.OnOutput | None = None,
        on_error: auto.OnOutput | None = None,
    ) -> auto.CommandResult:
        argv = [self.command, *([] if "--non-interactive" in args else ["--non-interactive"]), *args]
        # Only a signal that arrives while this operation runs interrupts it: the clean-up after
        # an interruption (the config put back) runs CLI operations too.
        already = self.signalled
        env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
        out: list[str] = []
        err: list[str] = []
        with subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        ) as process:
            with self._lock:
                self._running = process
            readers = [
                threading.Thread(target=_drain, args=(process.stdout, on_output, out), daemon=True),
                threading.Thread(target=_drain, args=(process.stderr, on_error, err), daemon=True),
            ]
            for reader in readers:
                reader.start()
            for reader in readers:
                reader.join()
            code = process.wait()
            with self._lock:
                self._running = None
        if self.signalled is not None and already is None:
            raise Interrupted(self.signalled)
        result = auto.CommandResult(stdout="\n".join(out), stderr="\n".join(err), code=code)
        if code != 0:
            raise create_command_error(result)
        return result

    def on_signal(self, signum: int, say: Callable[[str], Any]) -> None:
        name = signal.Signals(signum).name
        if self.signalled is not None:
            say(f"{name} again: stopping `pulumi` and its plugins now")
            self._terminate()
            raise Interrupted(self.signalled)
        self.signalled = name
        if not self._signal(signal.SIGINT):
            raise Interrupted(name)
        say(f"{name}: waiting for `pulumi` to stop cleanly (send it again to stop at once)")

    def _terminate(self) -> None:
        """Stop the running CLI now, and within KILL_GRACE_S every process it started."""
        self._signal(signal.SIGTERM)
        self._signal(signal.SIGTERM)  # the CLI's second signal: terminate immediately
        _, alive = psutil.wait_procs(list(self._family), timeout=KILL_GRACE_S)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(alive, timeout=KILL_GRACE_S)

    def _signal(self, signum: int) -> bool:
        with self._lock:
            process = self._running
            if process is None:
                return False
            # Plugins run in process groups of their own: remember every descendant now, while
            # they can still be found from the CLI, to stop them if the CLI dies first.
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(process.pid)
                self._family |= {root, *root.children(recursive=True)}
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        return True


def _drain(stream: Any, callback: auto.OnOutput | None, lines: list[str]) -> None:
    for line in iter(stream.readline, ""):
        text = line.rstrip("\n")
        if callback is not None:
            callback(text)
        lines.append(text)
    stream.close()


@contextlib.contextmanager
def supervised(command: SupervisedPulumi, say: Callable[[str], Any]) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``command`` while the block runs (see SupervisedPulumi). Only the
    main thread can handle signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    command.signalled = None
    previous = {
        signum: signal.signal(signum, lambda number, _frame: command.on_signal(number, say))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
