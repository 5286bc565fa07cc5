"""What a credential looks like, by name and by value, and how it is hidden: the one detector the
program's config checks, the gates, the command line and the policy pack share. Pure, standard
library only (the policy pack imports it in its own environment).

- ``looks_like_credential(name)``: a key or variable name that holds one (``DB_PASSWORD``,
  ``apiKey``), not one that refers to one (``TOKEN_URL``, ``SECRET_NAME``); and
  ``parameter_holds_credential(name)`` for ``name=value`` (credentials/names.py).
- ``credential_in_value(text)``: what kind of credential a value holds (credentials/formats.py),
  never the credential itself.
- ``redact(text)``: every credential found by value replaced by ``[redacted]``, all of it; what
  names it (a parameter's name, a URL's scheme and host, ``Bearer ``) stays.
- ``mask(text, secrets)``: every known secret value (from secret config) replaced by ``[secret]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from credentials.formats import FORMATS
from credentials.names import looks_like_credential, parameter_holds_credential

__all__ = [
    "MASK",
    "REDACTED",
    "credential_in_value",
    "looks_like_credential",
    "mask",
    "parameter_holds_credential",
    "redact",
]

REDACTED: Final = "[redacted]"
MASK: Final = "[secret]"


def credential_in_value(value: str) -> str | None:
    """What kind of credential ``value`` holds ("a GitHub token", "user info in a URL ..."), or
    None. Never the credential itself."""
    for _, find in FORMATS:
        for start, end, kind in find(value):
            found = value[start:end]
            if REDACTED not in found and MASK not in found:  # else already hidden
                return kind
    return None


def redact(text: str) -> str:
    """``text`` with every credential credential_in_value() finds replaced by ``[redacted]``, all
    of it; what names it (``Bearer ``, ``key=``, a URL's scheme) stays."""
    for _, find in FORMATS:
        parts: list[str] = []
        done = 0
        for start, end, _kind in find(text):
            parts += [text[done:start], REDACTED]
            done = end
        if parts:
            text = "".join(parts) + text[done:]
    return text


def mask(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every known secret value replaced by ``[secret]``, then redacted."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return redact(text)
