"""Reading what the `pulumi` CLI printed when an operation failed: the failing health gate's
report, and the root cause in one line. Pure.

The CLI ends a failed operation with a ``Diagnostics:`` section, one block per resource
(``  TYPE (NAME):``) holding its ``error:`` lines, with multi-errors as ``\\t* `` bullets; the
stack's own block says ``error: update failed``, which is the consequence, not the cause. The
root cause is the first specific error of a resource (an unreachable cluster, a timeout waiting
for Ready, a field conflict), else of the stack (invalid config), else a mandatory policy
violation, else the first error line at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GATE_LINE = re.compile(r"GateFailedError:\s*(?P<message>.+)")
_BLOCK = re.compile(r"^  (?P<type>[A-Za-z][\w.:/$-]*) \((?P<name>[^)]*)\):\s*$")
_ERROR = re.compile(r"^\s*error:\s*(?P<message>.*)$")
_POLICY = re.compile(r"^\s*-\s*\[mandatory\]\s+(?P<policy>\S+)\s+\((?P<resource>[^)]*)\)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m|<{%reset%}>|<{%[a-z]+%}>")
# What the engine says about a failure that is only the consequence of another one.
_CONSEQUENCES = re.compile(
    r"^(update failed|preview failed|refresh failed|destroy failed"
    r"|an unhandled error occurred: program exited with non-zero exit code: \d+"
    r"|.*Resource monitor has terminated.*|.*resource monitor shut down.*"
    # The resources the program had not registered yet when the engine stopped on the failure.
    r"|expected resource operations for \S+ but none were seen)$",
    re.IGNORECASE,
)
_COUNT = re.compile(r"^(?:[\w ]+ failed: )?[0-9]+ errors? occurred:?$", re.IGNORECASE)
STACK_TYPE = "pulumi:pulumi:Stack"
MAX_CAUSE_CHARS = 600


def gate_failure(text: str) -> str | None:
    """The first line of the failing gate's message in `pulumi up` output, if a gate failed."""
    for line in text.splitlines():
        match = _GATE_LINE.search(line)
        if match:
            return match["message"].strip()
    return None


def gate_report(text: str, limit: int = 40) -> list[str]:
    """The failing gate's message: its first line and the indented evaluation lines under it."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _GATE_LINE.search(line)
        if match:
            block = [match["message"].strip()]
            for follow in lines[index + 1 : index + limit]:
                if not follow.startswith("  ") or not follow.strip():
                    break
                block.append(follow.rstrip())
            return block
    return []


@dataclass(frozen=True)
class Diagnostic:
    """One ``error:`` of a Diagnostics block, its continuation lines joined."""

    type: str
    name: str
    message: str

    @property
    def consequence(self) -> bool:
        return bool(_CONSEQUENCES.match(self.message))

    def describe(self) -> str:
        where = "" if self.type == STACK_TYPE else f"{self.type.rsplit('$', 1)[-1]} {self.name}: "
        return _shorten(f"{where}{self.message}")


def _joined(parts: list[str]) -> str:
    # "Preview failed: 2 errors occurred:" only announces the bullets that follow it.
    kept = [part for part in parts if not _COUNT.match(part)] if len(parts) > 1 else parts
    text = kept[0]
    for part in kept[1:]:
        text += f" {part}" if text.endswith(":") else f"; {part}"
    return text


def diagnostics(text: str) -> list[Diagnostic]:
    """Every ``error:`` of the output's Diagnostics section, in order."""
    lines = _ANSI.sub("", text).splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == "Diagnostics:")
    except StopIteration:
        return []
    found: list[Diagnostic] = []
    block: tuple[str, str] | None = None
    current: list[str] | None = None

    def close() -> None:
        if block is not None and current:
            found.append(Diagnostic(block[0], block[1], _joined(current)))

    for line in lines[start + 1 :]:
        if line and not line.startswith(" "):
            break  # the next section (Outputs:, Resources:, Policies:)
        header = _BLOCK.match(line)
        if header:
            close()
            block, current = (header["type"], header["name"]), None
            continue
        error = _ERROR.match(line)
        if error and line.startswith("    error:"):
            close()
            current = [error["message"].strip()]
        elif current is not None and line.startswith(("    \t", "      ")) and line.strip():
            current.append(line.strip().removeprefix("* "))
        elif current is not None:
            close()
            current = None
    close()
    return found


def root_cause(text: str) -> str:
    """The cause of a failed operation, in one line (see the module docstring)."""
    found = diagnostics(text)
    specific = [d for d in found if not d.consequence]
    for diagnostic in sorted(specific, key=lambda d: d.type == STACK_TYPE):
        return diagnostic.describe()
    policy = _policy_violation(text)
    if policy:
        return policy
    for line in _ANSI.sub("", text).splitlines():
        match = _ERROR.match(line)
        if match and not _CONSEQUENCES.match(match["message"].strip()):
            return _shorten(match["message"].strip())
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return _shorten(lines[-1]) if lines else "no output"


def _policy_violation(text: str) -> str | None:
    lines = _ANSI.sub("", text).splitlines()
    for index, line in enumerate(lines):
        match = _POLICY.match(line)
        if match:
            detail = lines[index + 1].strip() if index + 1 < len(lines) else ""
            return _shorten(
                f"mandatory policy {match['policy']} ({match['resource']}): {detail}".rstrip(": ")
            )
    return None


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CAUSE_CHARS else text[: MAX_CAUSE_CHARS - 3] + "..."
