"""URLs in stack config, checked as the HTTP client will parse them (urllib's own parser, so what
passes here cannot fail later), and joined with a path so that no query or fragment swallows it.
Pure.

User info in a URL is refused for every URL key (README "Secrets"): each of them ends up in plain
text somewhere (the ConfigMap, a HealthGate's spec in the state and in resources.json), and each
has a secret alternative, named in the message.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from credentials import credential_in_value


def _printable(value: str) -> None:
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("expected no spaces or control characters")


def check_base_url(value: str, *, schemes: tuple[str, ...], credential_hint: str) -> str:
    """``value`` as a base URL: scheme, host, optional port and path; or ValueError saying what was
    expected. ``credential_hint`` says where a credential goes instead of the URL."""
    example = f"{schemes[0]}://app.example.com"
    _printable(value)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        # urllib's words: "Invalid IPv6 URL", "Port out of range 0-65535", "Port could not be cast..."
        raise ValueError(f"expected a URL such as {example} ({str(error).lower()})") from None
    if parts.scheme not in schemes:
        raise ValueError(f"expected a {' or '.join(f'{s}://' for s in schemes)} URL such as {example}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"user info in a URL is a credential in plain text; {credential_hint}")
    if not parts.hostname:
        raise ValueError(f"expected a URL with a host, such as {example}")
    if port == 0:
        raise ValueError("expected a port from 1 to 65535")
    if kind := credential_in_value(value):
        raise ValueError(f"the URL holds {kind}; {credential_hint}")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("expected a base URL without ?query or #fragment: paths are appended to it")
    return value


def check_path(value: str) -> str:
    """An HTTP request path (``/health``, ``/health?full=1``), or ValueError."""
    _printable(value)
    if not value.startswith("/") or value.startswith("//"):
        raise ValueError("expected a path starting with a single '/', such as /health")
    if "#" in value:
        raise ValueError("expected no #fragment: it is never sent to the server")
    if kind := credential_in_value(value):
        raise ValueError(f"the path holds {kind}; a probe path must not need a credential")
    return value


def join(base: str, path: str) -> str:
    """``base`` (a checked base URL) with ``path`` (a checked path, maybe with a query) appended to
    its path: ``https://h/app`` + ``/health?x=1`` -> ``https://h/app/health?x=1``."""
    parts = urlsplit(base)
    target = urlsplit(path)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + target.path, target.query, ""))
