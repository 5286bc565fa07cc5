"""Pure validation helpers shared by the stack settings: errors that name the key, how a value is
shown in them, image references, Kubernetes quantities, names and label values as the API server
checks them. No I/O, no Pulumi runtime."""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pulumi

from credentials import redact


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


class NestedProblems(ValueError):
    """Raised by a validator that checks a whole structure (a gate spec, alert thresholds, an app's
    env): each problem is reported at its own key below the validated field, not as one line."""

    def __init__(self, problems: Sequence[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(message for _, message in self.problems))


def show(value: Any) -> str:
    """A value as a message shows it: as YAML would spell a scalar (``"text"``, ``true``, ``.inf``),
    structure as JSON, and never a credential in a URL (``https://[redacted]@host``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, str):
        return json.dumps(redact(value), ensure_ascii=False)
    if isinstance(value, Mapping | list | tuple):
        return redact(json.dumps(value, default=str, ensure_ascii=False))
    return redact(json.dumps(value, default=str))


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
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # Go's \w: ASCII only
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
    match = _REFERENCE.fullmatch(value)
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
    match = _QUANTITY.fullmatch(value)
    if not match:
        raise ValueError("expected a Kubernetes quantity such as 250m, 0.5, 512Mi or 2Gi")
    try:
        return Decimal(match["number"]) * _SUFFIX[match["suffix"]]
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError("expected a Kubernetes quantity") from exc


MIN_MEMORY_BYTES = 6 * 1024 * 1024


def check_memory(value: str) -> str:
    """A memory quantity in whole bytes, more than 0, or ValueError. The API server takes "512m"
    (0.512 bytes: a milli suffix), but no container can start with it."""
    amount = parse_quantity(value)
    if amount != amount.to_integral_value():
        suggestion = f"; did you mean {value[:-1]}Mi?" if value.endswith("m") else ""
        raise ValueError(f"expected whole bytes such as 512Mi or 1Gi ('m' means thousandths){suggestion}")
    if amount < MIN_MEMORY_BYTES:
        raise ValueError(
            "expected at least 6Mi, such as 512Mi: container runtimes cannot start a container with less "
            "(6 MB is Docker's documented minimum)"
        )
    return value


def check_cpu(value: str) -> str:
    """A CPU quantity more than 0, or ValueError."""
    if parse_quantity(value) <= 0:
        raise ValueError("expected more than 0 CPU, such as 250m or 1")
    return value


# Names and label values as k8s.io/apimachinery/pkg/util/validation checks them.
MAX_LABEL = 63
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def dns1123_label_problem(value: str) -> str | None:
    """Why ``value`` is not a DNS-1123 label (a namespace, a container name), or None."""
    if len(value) > MAX_LABEL:
        return f"is {len(value)} characters; Kubernetes allows at most {MAX_LABEL}"
    if not _DNS1123_LABEL.fullmatch(value):
        return "expected a lowercase RFC 1123 label: a-z, 0-9 and '-', starting and ending with a letter or digit"
    return None


def dns1035_label_problem(value: str) -> str | None:
    """Why ``value`` is not a DNS-1035 label (a Service name), or None."""
    if len(value) > MAX_LABEL:
        return f"is {len(value)} characters; Kubernetes allows at most {MAX_LABEL}"
    if not _DNS1035_LABEL.fullmatch(value):
        return (
            "expected a lowercase RFC 1035 label: a-z, 0-9 and '-', starting with a letter "
            "(it names a Service) and ending with a letter or digit"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a label value, or None."""
    if len(value) > MAX_LABEL:
        return f"is {len(value)} characters; a label value has at most {MAX_LABEL}"
    if not _LABEL_VALUE.fullmatch(value):
        return (
            "a label value has letters, digits, '-', '_' and '.', and starts and ends with a letter or digit"
        )
    return None


def check_dns_label(value: str) -> str:
    """A Kubernetes object / namespace name (RFC 1123 label), or ValueError."""
    if problem := dns1123_label_problem(value):
        raise ValueError(problem)
    return value


def check_dns1035_label(value: str) -> str:
    """A name that also names a Service (RFC 1035 label), or ValueError."""
    if problem := dns1035_label_problem(value):
        raise ValueError(problem)
    return value


# Host names as an Ingress rule (networking/validation: IsDNS1123Subdomain, a wildcard only as the
# whole first label, never an IP address) and an Istio VirtualService bound to a Gateway take them.
MAX_HOST = 253
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_IPV4 = re.compile(r"^[0-9]+(\.[0-9]+){3}$")


def host_problem(value: str) -> str | None:
    """Why ``value`` cannot be an external host name (app.example.com, *.example.com), or None."""
    if len(value) > MAX_HOST:
        return f"is {len(value)} characters; a host name has at most {MAX_HOST}"
    if _IPV4.fullmatch(value):
        return "is an IP address; routes select requests by host name: use a DNS name such as app.example.com"
    if not _HOST.fullmatch(value):
        return (
            "expected a fully qualified lowercase host name such as app.example.com (a-z, 0-9, '-' and "
            "'.', at least one dot; '*.' first for a wildcard)"
        )
    long = [label for label in value.split(".") if len(label) > MAX_LABEL]
    if long:
        return f"its label '{long[0]}' is {len(long[0])} characters; a DNS label has at most {MAX_LABEL}"
    return None


def check_host(value: str) -> str:
    """An external host name, or ValueError."""
    if problem := host_problem(value):
        raise ValueError(problem)
    return value
