"""What a credential looks like, by name and by value, so that plain config (ConfigMap entries,
env values, the URLs in a HealthGate's spec) never carries one, and messages never repeat one.
Pure.

The policy pack keeps its own copy of these rules (policies/flutter_app_policies/common.py: it
runs in its own environment under the Pulumi CLI and cannot import the program);
tests/policies/test_credential_rules.py checks that both copies classify the same names and
values alike.
"""

from __future__ import annotations

import itertools
import re
from typing import Final

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


_USER_INFO: Final = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#@]*@")
# Formats that are a credential whatever they are called. Each pattern's match is what redact()
# hides; for a parameter, only its value.
_VALUE_FORMATS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("a Stripe key", re.compile(r"\b[sr]k_live_[0-9A-Za-z]{16,}")),
)
_PARAMETER: Final = re.compile(
    r"(?i)(?P<name>(?:^|[?&;\s])(?:password|passwd|pwd|pass|secret|token|access_token|api_?key|key|"
    r"sig|signature|client_secret)=)[^&;\s#]+"
)


def credential_in_value(value: str) -> str | None:
    """What kind of credential ``value`` holds ("user info in a URL", "a GitHub token", ...), or
    None. Never the credential itself."""
    if _USER_INFO.search(value):
        return "user info in a URL (scheme://user:password@host)"
    for kind, pattern in _VALUE_FORMATS:
        if pattern.search(value):
            return kind
    if match := _PARAMETER.search(value):
        return f"a credential parameter ({match['name'].strip('?&; ').rstrip('=')}=...)"
    return None


def redact(text: str) -> str:
    """``text`` with every credential found by credential_in_value() replaced by ``[redacted]``."""
    text = _USER_INFO.sub(r"\g<scheme>[redacted]@", text)
    for _, pattern in _VALUE_FORMATS:
        text = pattern.sub("[redacted]", text)
    return _PARAMETER.sub(r"\g<name>[redacted]", text)
