"""Pure validation helpers shared by the stack settings: errors that name the key, image
references and Kubernetes quantities. No I/O, no Pulumi runtime."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pulumi


@dataclass(frozen=True)
class Problem:
    """One invalid config value: where it is, what it was, what was expected."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(pulumi.RunError):
    """Invalid stack config, with every problem found.

    A ``pulumi.RunError`` so that ``pulumi up`` prints the message without a Python traceback.
    """

    def __init__(self, stack: str, problems: Sequence[Problem]) -> None:
        self.stack = stack
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"invalid config for stack '{stack}' ({count} problem{'s' if count != 1 else ''}):"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`; did you mean 'x'?` when ``word`` looks like a typo of one of ``choices``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


# Grammar of github.com/distribution/reference (reference.go), restated as regular expressions.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"sha256:[0-9a-f]{64}"
_REFERENCE = re.compile(
    rf"^(?P<repository>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
IMAGE_EXPECTED = (
    "an image reference REPOSITORY:TAG or REPOSITORY@sha256:DIGEST (e.g. ghcr.io/acme/flutter-app:1.4.2)"
)


@dataclass(frozen=True)
class ImageRef:
    """A parsed container image reference; at least one of tag and digest is set."""

    repository: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        ref = self.repository
        if self.tag:
            ref += f":{self.tag}"
        if self.digest:
            ref += f"@{self.digest}"
        return ref


def parse_image(value: str) -> ImageRef:
    """Parse ``value`` or raise ValueError saying what was expected."""
    match = _REFERENCE.match(value)
    if not match:
        raise ValueError(f"expected {IMAGE_EXPECTED}")
    tag, digest = match["tag"], match["digest"]
    if not tag and not digest:
        raise ValueError(
            "the image has no tag or digest; expected REPOSITORY:TAG or REPOSITORY@sha256:DIGEST"
        )
    return ImageRef(match["repository"], tag, digest)


_QUANTITY = re.compile(r"^(?P<number>[+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?P<suffix>[KMGTPE]i|[mkMGTPE]|)$")
_SUFFIX = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(value: str) -> Decimal:
    """A Kubernetes resource quantity ("250m", "512Mi", "2") as a number, or ValueError."""
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError("expected a Kubernetes quantity such as 250m, 0.5, 512Mi or 2Gi")
    try:
        return Decimal(match["number"]) * _SUFFIX[match["suffix"]]
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError("expected a Kubernetes quantity") from exc


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def check_dns_label(value: str) -> str:
    """A Kubernetes object / namespace name (RFC 1123 label), or ValueError."""
    if not _DNS_LABEL.match(value):
        raise ValueError("expected a lowercase RFC 1123 label: a-z, 0-9 and '-', at most 63 characters")
    return value


# Names that hold credentials; they belong in secret config, never in plain values.
CREDENTIAL_NAME = re.compile(r"(pass(word|wd)?|secret|token|api[-_]?key|private[-_]?key|credential)", re.I)
