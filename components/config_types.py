"""Typed building blocks of the stack settings: the base model and the constrained value types
(ports, quantities, names, URLs, booleans). Pure.

Strict everywhere: inside the object keys (``apps``, ``cluster``, ``namespaceQuota``) a value has
the YAML type it is written with (``pulumi config set --path`` writes true/false and whole numbers
typed, too), so ``replicas: true`` or ``replicas: "6"`` is refused, never read as 1 or 6. The
scalar keys at the top reach the program as text, as Pulumi hands every scalar to a program: they
are read the way ``pulumi.Config.get_int`` / ``get_bool`` read them (``TextInt``, ``TextBool``).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator
from pydantic.alias_generators import to_camel

from components.urls import check_base_url, check_path
from components.validation import (
    check_cpu,
    check_dns1035_label,
    check_dns_label,
    check_host,
    check_memory,
    parse_image,
    parse_quantity,
)

Strategy = Literal["rolling", "blue-green", "canary"]
LogLevel = Literal["debug", "info", "warning", "error"]
LogSink = Literal["console", "file"]
INT32_MAX = 2**31 - 1
"""The largest integer a Kubernetes API field (int32) takes."""
Port = Annotated[int, Field(ge=1, le=65535)]
DnsLabel = Annotated[str, AfterValidator(check_dns_label)]
Dns1035Label = Annotated[str, AfterValidator(check_dns1035_label)]
"""A name that also names a Service: a letter first."""
Host = Annotated[str, AfterValidator(check_host)]
"""An external host name users reach an app by (app.example.com, *.example.com)."""
GatewayRef = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
"""An Istio Gateway as namespace/name (istio-ingress/public)."""


def _quantity(value: str) -> str:
    parse_quantity(value)
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]
CpuQuantity = Annotated[str, AfterValidator(_quantity), AfterValidator(check_cpu)]
MemoryQuantity = Annotated[str, AfterValidator(_quantity), AfterValidator(check_memory)]

_PERCENT = re.compile(r"[0-9]+%")


def _int_or_percent(value: object) -> int | str:
    # One validator, not `int | str`: a union would name its branches in messages (maxSurge.int).
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT32_MAX:
        return value
    if isinstance(value, str) and _PERCENT.fullmatch(value):
        return value
    raise ValueError("expected a pod count (0 or more) or a percentage such as 25%")


IntOrPercent = Annotated[int | str, PlainValidator(_int_or_percent)]
"""maxSurge / maxUnavailable: a pod count or a percentage, as the Deployment API takes them."""


def int_or_percent_value(value: int | str, total: int) -> int:
    """Pods meant by ``value`` out of ``total`` (a percentage rounded up, as maxSurge is)."""
    if isinstance(value, int):
        return value
    return -(-total * int(value.rstrip("%")) // 100)


def _text_int(value: object) -> object:
    # As pulumi.Config.get_int reads the text the engine hands over; anything else is left to the
    # strict int check, which names it.
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,18}", value):
        return int(value)
    return value


TextInt = Annotated[int, BeforeValidator(_text_int)]
"""A whole number from a top-level key (text), never from true/false."""


def _text_bool(value: object) -> object:
    # As pulumi.Config.get_bool reads it: only true and false, never "yes", "on" or 1.
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("expected true or false")


TextBool = Annotated[bool, PlainValidator(_text_bool)]
Bool = bool
"""Inside objects: a YAML true/false only (strict)."""


class ConfigModel(BaseModel):
    """Frozen, strict, camelCase keys, unknown keys refused (each named with a did-you-mean)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        strict=True,
        allow_inf_nan=False,
    )


def _image(value: str) -> str:
    parse_image(value)
    return value


Image = Annotated[str, AfterValidator(_image)]


def base_url(*schemes: str, credential_hint: str) -> AfterValidator:
    """The check of a base URL, for ``Annotated[str, base_url(...)]``; ``credential_hint`` says
    where a credential goes instead (see urls.py)."""
    return AfterValidator(functools.partial(check_base_url, schemes=schemes, credential_hint=credential_hint))


RequestPath = Annotated[str, AfterValidator(check_path)]


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value)
    except ValueError:
        raise ValueError("expected an IPv4/IPv6 CIDR such as 10.0.0.0/16") from None
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
SemVer = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")]
