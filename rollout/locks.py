"""Who holds a stack's lock. A file backend keeps each lock as a file
(``.pulumi/locks/<org>/<project>/<stack>/<id>.json``, pkg/backend/diy/lock.go) naming the PID,
host, user and start time of the update that took it, so a lock left by a process that no longer
runs can be told from one held by an update in progress. Other backends' locks are not readable
from here (Pulumi Cloud shows a running update in the stack's history instead)."""

from __future__ import annotations

import contextlib
import json
import socket
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import psutil

from rollout.history import HistoryFormatError, parse_time
from rollout.leftovers import LockHolder

PID_REUSE_SLACK_S = 5
"""A process started this much after the lock's time is not its holder (the PID was reused)."""


def file_backend_locks(backend_url: str, project: str, stack: str) -> list[LockHolder]:
    """The lock files of ``stack`` under a ``file://`` backend, each with whether its holder runs."""
    parsed = urlparse(backend_url)
    if parsed.scheme != "file":
        return []
    root = Path(unquote(parsed.path)) / ".pulumi" / "locks"
    holders = []
    for path in sorted([*root.glob(f"*/{project}/{stack}/*.json"), *root.glob(f"{stack}/*.json")]):
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
            pid = int(content["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        since = None
        with contextlib.suppress(HistoryFormatError):
            since = parse_time(str(content.get("timestamp", "")))
        host = str(content.get("hostname", "?"))
        holders.append(
            LockHolder(
                pid,
                host,
                str(content.get("username", "?")),
                since,
                _holder_alive(pid, host, since),
                str(path),
            )
        )
    return holders


def _holder_alive(pid: int, host: str, since: datetime | None) -> bool | None:
    if host != socket.gethostname():
        return None
    try:
        process = psutil.Process(pid)
        started = process.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return None
    return since is None or started <= since.timestamp() + PID_REUSE_SLACK_S
