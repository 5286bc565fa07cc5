"""Typed specs of custom resources (Istio's, the Gateway API's) to the dicts their APIs take.
``CustomResource`` sends ``spec`` verbatim (no snake_case translation), so this is the one place
the spelling is decided: camelCase keys (or a field's ``api`` metadata), unset (None / empty)
fields left out. Pure."""

from __future__ import annotations

import dataclasses
from typing import Any


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def to_spec(value: Any) -> Any:
    """Dataclasses to API dicts: camelCase keys, unset (None / empty) fields left out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        spec = {}
        for item in dataclasses.fields(value):
            converted = to_spec(getattr(value, item.name))
            if converted not in (None, [], {}):
                spec[item.metadata.get("api", _camel(item.name))] = converted
        return spec
    if isinstance(value, list | tuple):
        return [to_spec(v) for v in value]
    if isinstance(value, dict):
        return {k: to_spec(v) for k, v in value.items()}
    return value
