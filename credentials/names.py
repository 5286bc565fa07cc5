"""What a name says about the value it holds: a config key, an environment variable or a
parameter (``name=value`` in a URL's query or fragment, a connection string, a command line).

Names are read by their words, whatever the case style: ``accessToken``, ``auth_token``,
``X-Amz-Security-Token`` and ``AWS_SECRET_ACCESS_KEY`` are the same words as written elsewhere.
"""

from __future__ import annotations

import functools
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

PARAMETER_LAST_WORDS: Final = (
    *("password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "sig", "signature"),
    *("credential", "credentials", "auth", "apikey", "jwt", "key"),
)
"""The last words of a parameter that holds a credential. A parameter names what its value is by
its last word (``token_type``, ``max_tokens``, ``secret_name`` hold none), so only that word counts."""
# A token that marks a position in a list (page_token, nextPageToken, continuation_token) is
# handed out to anyone who may list; it grants nothing.
_LIST_POSITION: Final = frozenset(
    {"page", "next", "continuation", "continue", "sync", "cursor", "resume", "start", "prev", "previous"}
)
# A key that selects or orders data (sort_key, cache_key, publicKey) is no secret.
_NOT_SECRET_KEY: Final = frozenset(
    {"public", "sort", "cache", "partition", "primary", "foreign", "idempotency", "hash", "object"}
)


def words(name: str) -> list[str]:
    """The lowercase words of ``name``, split at case changes and at anything not a letter or digit."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    return [w for w in re.split(r"[^a-z0-9]+", spaced) if w]


def looks_like_credential(name: str) -> bool:
    """Whether a key or variable name holds a credential (by its words, in any case style)."""
    found = words(name)
    if not found or found[-1] in _REFERENCE_WORDS:
        return False
    return (
        found[-1] in _LAST_WORDS
        or any(w in _WORDS for w in found)
        or any(pair in _PAIRS for pair in itertools.pairwise(found))
    )


# A long text repeats a few names (&key=...&key=...): each is read into words once.
@functools.lru_cache(maxsize=1024)
def parameter_holds_credential(name: str) -> bool:
    """Whether the value of a parameter ``name=value`` is a credential, by the name's last word
    (PARAMETER_LAST_WORDS): ``access_token``, ``accessToken``, ``X-Amz-Signature``, ``sig``,
    ``key``, ``--secret-key``; not ``page_token`` nor ``sort_key``."""
    found = words(name)
    if not found or found[-1] not in PARAMETER_LAST_WORDS:
        return False
    before = found[-2] if len(found) > 1 else ""
    if found[-1] == "token":
        return before not in _LIST_POSITION
    if found[-1] == "key":
        return before not in _NOT_SECRET_KEY
    return True
