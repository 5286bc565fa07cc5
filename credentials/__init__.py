"""What a credential looks like, by name and by value, and how it is hidden: the one detector the
program's config checks, the gates, the command line and the policy pack share. Pure, standard
library only (the policy pack imports it in its own environment).

- ``looks_like_credential(name)``: a key or variable name that holds one (``DB_PASSWORD``,
  ``apiKey``), not one that refers to one (``TOKEN_URL``, ``SECRET_NAME``).
- ``credential_in_value(text)``: what kind of credential a value holds (credentials/formats.py),
  never the credential itself.
- ``redact(text)``: every credential found by value replaced by ``[redacted]``; for a URL's user
  info or a parameter, only the credential part.
- ``mask(text, secrets)``: every known secret value (from secret config) replaced by ``[secret]``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Final

from credentials.formats import AWS_SECRET_KEY, FORMATS, aws_secret_key

REDACTED: Final = "[redacted]"
MASK: Final = "[secret]"

_WORDS: Final = frozenset(
    {
        *("password", "passwd", "pwd", "pass", "passphrase", "secret", "secrets"),
        *("token", "tokens", "apikey", "credential", "credentials", "dsn", "bearer"),
    }
)
_PAIRS: Final = frozenset(
    {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("client", "secret")}
)
# SIGNING_KEY, ENCRYPTION_KEY, LICENSE_KEY: a name ending in "key" holds one.
_LAST_WORDS: Final = frozenset({"key", "keys"})
# A name that ends in one of these refers to a credential without holding it (SECRET_NAME,
# PASSWORD_FILE, TOKEN_URL), so it is not one.
_REFERENCE_WORDS: Final = frozenset({"name", "file", "path", "ref", "url", "endpoint"})
_KEEP: Final = re.compile(r"^(?P<keep>[^=]*=|[A-Za-z][A-Za-z0-9+.-]*://|bearer\s+)", re.IGNORECASE)


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    return [w for w in re.split(r"[^a-z0-9]+", spaced) if w]


def looks_like_credential(name: str) -> bool:
    """Whether a key or variable name holds a credential (by its words, in any case style)."""
    words = _words(name)
    if not words or words[-1] in _REFERENCE_WORDS:
        return False
    return (
        words[-1] in _LAST_WORDS
        or any(w in _WORDS for w in words)
        or any(pair in _PAIRS for pair in itertools.pairwise(words))
    )


def credential_in_value(value: str) -> str | None:
    """What kind of credential ``value`` holds ("a GitHub token", "user info in a URL ..."), or
    None. Never the credential itself."""
    for kind, pattern in FORMATS:
        for match in pattern.finditer(value):
            if REDACTED in match.group() or MASK in match.group():
                continue  # already hidden
            if kind == "a credential parameter":
                return f"a credential parameter ({match.group().split('=', 1)[0]}=...)"
            return kind
    if aws_secret_key(value):
        return "an AWS secret access key"
    return None


def _hide(match: re.Match[str]) -> str:
    # Keep what names the credential (a parameter's name, a URL's scheme, "Bearer ") in view.
    kept = _KEEP.match(match.group())
    tail = "@" if match.group().endswith("@") else ""
    return f"{kept['keep'] if kept else ''}{REDACTED}{tail}"


def redact(text: str) -> str:
    """``text`` with every credential credential_in_value() finds replaced by ``[redacted]``."""
    for _, pattern in FORMATS:
        text = pattern.sub(_hide, text)
    return AWS_SECRET_KEY.sub(lambda m: REDACTED if aws_secret_key(m.group()) else m.group(), text)


def mask(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every known secret value replaced by ``[secret]``, then redacted."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return redact(text)
