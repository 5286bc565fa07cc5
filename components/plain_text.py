"""Checks every plain value of a stack's config gets, whatever key holds it, because every one of
them ends up in plain text somewhere (a ConfigMap, a pod spec, a HealthGate's stored spec, the
rendered files, `rollout release --dry-run`): no credential, no control character, nothing too
long or too deeply nested for the API server or for the checks themselves. Pure.

The bounds are the API server's and the runtime's, with room: etcd takes a request of at most
1.5 MiB and a ConfigMap's data at most 1 MiB, and runc cannot put a NUL byte in an environment
variable. Each value is checked in time linear in its length (credentials/), and long values are
refused before anything else reads them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from credentials import credential_in_value

MAX_VALUE_CHARS: Final = 32 * 1024
"""The longest single value accepted (a host, an image, an env value, a URL)."""
MAX_CONFIG_CHARS: Final = 512 * 1024
"""All plain config together, far below what one Deployment or ConfigMap may hold."""
MAX_DEPTH: Final = 32
"""How deeply config objects may nest (the schema nests five levels)."""
_ALLOWED_CONTROLS: Final = frozenset("\t\n\r")


def strings(value: Any, path: str, depth: int = 0) -> Iterator[tuple[str, str | None]]:
    """(path, text) of every string in a config value (keys included, as ``path`` names them);
    (path, None) where the value nests deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        yield path, None
    elif isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield f"{path}.{key}", str(key)
            yield from strings(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}[{index}]", depth + 1)


def _controls(text: str, allowed: frozenset[str] = frozenset(), last: int = 127) -> list[str]:
    return sorted(
        {f"\\x{ord(c):02x}" for c in text if (ord(c) < 32 or 127 <= ord(c) <= last) and c not in allowed}
    )


def check_name_text(value: str) -> str:
    """A name-like value without a format of its own (a kubeconfig context): one line, no control
    character at all, or ValueError. Tabs and line breaks are fine in a value shown as a block, not in a name:
    `ctx\\nother` would match no context and show as two in every message."""
    # C1 too (0x80-0x9f): 0x9b starts an escape sequence on many terminals.
    if controls := _controls(value, last=0x9F):
        raise ValueError(
            f"contains control characters ({', '.join(controls[:5])}); expected a name on one line "
            "of printable characters"
        )
    return value


def text_problem(text: str) -> str | None:
    """Why a plain value cannot be taken (never repeating it), or None."""
    if len(text) > MAX_VALUE_CHARS:
        return f"is {len(text)} characters long; at most {MAX_VALUE_CHARS} are accepted"
    if controls := _controls(text, _ALLOWED_CONTROLS):
        return (
            f"contains control characters ({', '.join(controls[:5])}): a NUL byte cannot reach a container's "
            "environment, and the others corrupt what shows them"
        )
    if kind := credential_in_value(text):
        return (
            f"holds {kind}; it would be stored in plain text: put credentials in secret config "
            "(`pulumi config set --secret`), which reaches the app from its Secret"
        )
    return None


def plain_text_problems(raw: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """Key -> problem for every plain value (``raw``: config keys without ``prefix``), at most one
    per key, the whole config's size included."""
    problems: dict[str, str] = {}
    total = 0
    for key in sorted(raw):
        for path, text in strings(raw[key], f"{prefix}{key}"):
            if text is None:
                problems.setdefault(path, f"nests deeper than {MAX_DEPTH} levels")
                break
            total += len(text)
            if (problem := text_problem(text)) is not None:
                problems.setdefault(path, problem)
    if total > MAX_CONFIG_CHARS:
        problems.setdefault(
            f"{prefix}(all keys)",
            f"the plain config holds {total} characters; at most {MAX_CONFIG_CHARS} are accepted",
        )
    return problems
