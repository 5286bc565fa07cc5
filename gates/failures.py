"""How an HTTP request failed before any answer came, in words a user can act on.

"connection failed" hides the fix: a DNS failure is a wrong name or resolver, a refusal is nothing
listening (wrong port, pod not ready), a reset is something in the path dropping the connection
(a proxy, a crashing server), a TLS error is a certificate or protocol problem, and a timeout is a
slow or unreachable host. ``describe`` tells them apart from the exception requests raises, by the
types in its chain (requests wraps urllib3, which wraps the socket or ssl error), never from
``str(error)``: requests' messages repeat the URL, which may carry credentials. Pure: no I/O.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import IncompleteRead, RemoteDisconnected

import requests
from urllib3.exceptions import NameResolutionError

from gates.results import Failure, fmt

_MAX_CHAIN = 32
"""Exceptions looked at in one chain (requests, urllib3, socket: 3 to 5 in practice)."""


@dataclass(frozen=True)
class Described:
    failure: Failure
    detail: str
    """One line without the URL, e.g. ``TLS certificate rejected: self-signed certificate``."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it wraps: exception arguments (urllib3's ProtocolError), ``reason``
    (MaxRetryError), ``__cause__`` and ``__context__``; each once, at most _MAX_CHAIN."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending and len(seen) < _MAX_CHAIN:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        wrapped = [*current.args, reason, current.__cause__, current.__context__]
        pending += [item for item in wrapped if isinstance(item, BaseException)]


def _first(chain: list[BaseException], *kinds: type[BaseException]) -> BaseException | None:
    return next((item for item in chain if isinstance(item, kinds)), None)


def _words(text: str) -> str:
    # OpenSSL reasons are CONSTANT_CASE ("WRONG_VERSION_NUMBER"); resolver messages are sentences.
    text = text.replace("_", " ").strip().rstrip(".")
    return text[:1].lower() + text[1:]


def _dns(chain: list[BaseException]) -> str:
    lookup = _first(chain, socket.gaierror)
    strerror = lookup.strerror if isinstance(lookup, socket.gaierror) else None
    # The resolver's words tell a missing name ("Name or service not known") from a resolver that
    # could not be asked ("Temporary failure in name resolution"): different fixes.
    return f"DNS lookup failed: {_words(strerror)}" if strerror else "DNS lookup failed"


def _tls(chain: list[BaseException]) -> str:
    verify = _first(chain, ssl.SSLCertVerificationError)
    if isinstance(verify, ssl.SSLCertVerificationError):
        return f"TLS certificate rejected: {_words(verify.verify_message or 'verification failed')}"
    if _first(chain, ssl.SSLEOFError) is not None:
        return "TLS handshake failed: the server closed the connection"
    other = _first(chain, ssl.SSLError)
    reason = getattr(other, "reason", None)
    return f"TLS handshake failed: {_words(reason)}" if isinstance(reason, str) else "TLS handshake failed"


def describe(error: requests.RequestException, timeout: float) -> Described:
    """What went wrong with a request that got no answer (``timeout``: the seconds it was given)."""
    if isinstance(error, requests.Timeout):
        # ConnectTimeout: no connection at all (a firewall dropping packets, a wrong address);
        # ReadTimeout: connected, but the server did not answer in time.
        during = "connecting" if isinstance(error, requests.ConnectTimeout) else "waiting for an answer"
        return Described(Failure.TIMEOUT, f"timed out after {fmt(timeout)} s {during}")
    chain = list(_chain(error))
    if _first(chain, NameResolutionError, socket.gaierror) is not None:
        return Described(Failure.DNS, _dns(chain))
    if _first(chain, ConnectionRefusedError) is not None:
        return Described(Failure.REFUSED, "connection refused")
    if isinstance(error, requests.exceptions.SSLError) or _first(chain, ssl.SSLError) is not None:
        return Described(Failure.TLS, _tls(chain))
    # RemoteDisconnected (an orderly close before any answer) is a ConnectionResetError subclass.
    if _first(chain, RemoteDisconnected) is not None:
        return Described(Failure.RESET, "connection closed by the server without an answer")
    if _first(chain, ConnectionResetError, ConnectionAbortedError, BrokenPipeError) is not None:
        return Described(Failure.RESET, "connection reset by the server")
    if _first(chain, IncompleteRead) is not None or isinstance(
        error, requests.exceptions.ChunkedEncodingError
    ):
        return Described(Failure.RESET, "connection closed by the server in the middle of the answer")
    if _first(chain, TimeoutError) is not None:
        return Described(Failure.TIMEOUT, f"timed out after {fmt(timeout)} s")
    if isinstance(error, requests.ConnectionError):
        return Described(Failure.OTHER, f"connection failed ({type(error).__name__})")
    return Described(Failure.OTHER, f"request failed ({type(error).__name__})")
