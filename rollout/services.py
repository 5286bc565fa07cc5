"""What the history, rollback and release commands reach outside themselves, in one injectable
place: the stack (Automation API), the terminal for approvals, the environment and the webhook
transport. Tests pass their own; the CLI uses the process's."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gates.notify import Post
from rollout.interaction import Terminal
from rollout.offline.stackfile import cli_on_path
from rollout.schedule import Measure, measure_stable
from rollout.stacks import StackOpener, open_stack


@dataclass
class Services:
    open_stack: StackOpener = open_stack
    terminal: Terminal = field(default_factory=Terminal.from_process)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    post: Post | None = None
    """HTTP POST for notifications (default: requests.post)."""
    cli_available: Callable[[], bool] = cli_on_path
    """Whether a `pulumi` CLI can be run; without one, dry runs plan from the stack file."""
    measure_traffic: Measure = measure_stable
    """The stable track's traffic, for `canary.steps: auto` (rollout/schedule.py)."""
