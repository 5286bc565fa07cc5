"""Typed building blocks of the stack settings: the base model and the constrained value types
(ports, quantities, DNS labels, booleans as `pulumi config` writes them). Pure."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from components.validation import check_dns_label, parse_image, parse_quantity

Strategy = Literal["rolling", "blue-green", "canary"]
LogLevel = Literal["debug", "info", "warning", "error"]
LogSink = Literal["console", "file"]
Port = Annotated[int, Field(ge=1, le=65535)]
DnsLabel = Annotated[str, AfterValidator(check_dns_label)]


def _quantity(value: str) -> str:
    parse_quantity(value)
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]


# maxSurge / maxUnavailable: a pod count or a percentage, as the Deployment API takes them.
def _int_or_percent(value: int | str) -> int | str:
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}%", value):
        return value
    raise ValueError("expected a pod count (0 or more) or a percentage such as 25%")


IntOrPercent = Annotated[int | str, AfterValidator(_int_or_percent)]


def _bool(value: object) -> object:
    # As pulumi.Config.get_bool reads them: only true and false, never "yes", "on" or 1.
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("expected true or false")


Bool = Annotated[bool, BeforeValidator(_bool)]


class ConfigModel(BaseModel):
    """Frozen, camelCase keys, unknown keys refused (each named with a did-you-mean)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, strict=False
    )


def _image(value: str | None) -> str | None:
    if value is not None:
        parse_image(value)
    return value


Image = Annotated[str, AfterValidator(_image)]
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")]


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value)
    except ValueError:
        raise ValueError(f"expected an IPv4/IPv6 CIDR such as 10.0.0.0/16 (got {value!r})") from None
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
SemVer = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")]
