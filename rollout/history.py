"""Typed records of a stack's history and config, parsed from the JSON the `pulumi` CLI prints.

``pulumi stack history --json [--show-secrets]`` prints a list of updates, newest first; each has
``version``, ``kind``, ``startTime``, ``message``, ``environment``, ``config`` (key ->
``{"value"?, "objectValue"?, "secret"}``), ``result`` and, once finished, ``endTime`` and
``resourceChanges``. ``pulumi config --json`` prints the same config-value shape. Without
``--show-secrets`` a secret's ``value`` is omitted; a value the CLI could not decrypt is the string
``ERROR_UNABLE_TO_DECRYPT``.

We parse that JSON ourselves rather than use ``Stack.history()``: the SDK's ``UpdateSummary``
drops ``objectValue`` (so an object and a string holding JSON look the same) and turns an omitted
secret into the literal ``"[secret]"``, which a rollback could otherwise write back as a value.

Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from components.profiles import ENVIRONMENTS, WORKLOAD_DEFAULTS
from components.settings import DEFAULT_APP, PROJECT

UNDECRYPTABLE: Final = "ERROR_UNABLE_TO_DECRYPT"
"""What `pulumi stack history --show-secrets` prints for a value it could not decrypt."""
MASKED: Final = "[secret]"
"""How a secret is shown to people (and what the SDK puts in place of an omitted one)."""
APPS_KEY: Final = f"{PROJECT}:apps"
ENVIRONMENT_KEY: Final = f"{PROJECT}:environment"

Kind = Literal["update", "preview", "refresh", "rename", "destroy", "import"]
Result = Literal["succeeded", "failed", "in-progress", ""]


class HistoryFormatError(ValueError):
    """The CLI printed something that is not the documented JSON shape."""


@dataclass(frozen=True)
class ConfigEntry:
    """One config value as the CLI prints it.

    ``value`` is None when the CLI left it out (a secret listed without ``--show-secrets``).
    ``object_value`` is the parsed structure of an object value (``is_object``).
    """

    value: str | None
    secret: bool = False
    object_value: Any = None
    is_object: bool = False

    @property
    def masked(self) -> bool:
        """A secret whose value was not shown (omitted, or the SDK's ``[secret]`` sentinel)."""
        return self.secret and (self.value is None or self.value == MASKED)

    @property
    def undecryptable(self) -> bool:
        return self.value == UNDECRYPTABLE

    @property
    def restorable(self) -> bool:
        """The real value is here, so it can be written back exactly."""
        return not self.masked and not self.undecryptable and self.value is not None

    def plain(self) -> Any:
        """The value as data: the object for object values, else the string."""
        if self.is_object:
            return self.object_value
        return self.value

    def same_as(self, other: ConfigEntry) -> bool:
        """Equal value (objects compared as data) and equal secretness."""
        if self.secret != other.secret:
            return False
        if self.is_object or other.is_object:
            return self.is_object == other.is_object and self.object_value == other.object_value
        return self.value == other.value

    def to_cli_json(self) -> dict[str, Any]:
        """The ``pulumi config --json`` shape, as `config set-all --json` reads it back."""
        data: dict[str, Any] = {"value": self.value, "secret": self.secret}
        if self.is_object:
            data["objectValue"] = self.object_value
        return data


ConfigMap = Mapping[str, ConfigEntry]


def parse_config_entry(key: str, raw: Any) -> ConfigEntry:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("secret", False), bool):
        raise HistoryFormatError(f"config {key!r}: expected {{value, objectValue, secret}}, got {raw!r}")
    value = raw.get("value")
    if value is not None and not isinstance(value, str):
        raise HistoryFormatError(f"config {key!r}: value must be a string")
    secret = bool(raw.get("secret", False))
    if "objectValue" in raw:
        return ConfigEntry(value, secret, raw["objectValue"], is_object=True)
    return ConfigEntry(value, secret)


def parse_config(raw: Any) -> dict[str, ConfigEntry]:
    """Parse the ``config`` map of a history entry or of ``pulumi config --json``."""
    if not isinstance(raw, Mapping):
        raise HistoryFormatError(f"config: expected an object, got {type(raw).__name__}")
    return {str(key): parse_config_entry(str(key), value) for key, value in raw.items()}


def parse_time(text: str) -> datetime:
    """``2026-11-20T10:15:03.000Z`` (the CLI's format; fractions optional) as an aware UTC time."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HistoryFormatError(f"not a timestamp: {text!r}") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class HistoryEntry:
    """One entry of ``pulumi stack history``."""

    version: int
    kind: str
    result: str
    start_time: datetime
    end_time: datetime | None
    message: str
    environment: Mapping[str, str]
    config: Mapping[str, ConfigEntry]
    resource_changes: Mapping[str, int] | None = None

    @property
    def duration(self) -> timedelta | None:
        return self.end_time - self.start_time if self.end_time else None

    @property
    def commit(self) -> str | None:
        """The git commit the update ran from (``git.head``), when the CLI recorded one."""
        return self.environment.get("git.head") or None

    @property
    def is_update(self) -> bool:
        return self.kind == "update"

    @property
    def succeeded_update(self) -> bool:
        """An update that completed: the only kind of entry a rollback targets by default."""
        return self.kind == "update" and self.result == "succeeded"


def _entry(raw: Any, index: int) -> HistoryEntry:
    if not isinstance(raw, Mapping):
        raise HistoryFormatError(f"entry {index}: expected an object")
    try:
        version, kind, start = raw["version"], raw["kind"], raw["startTime"]
    except KeyError as missing:
        raise HistoryFormatError(f"entry {index}: {missing.args[0]} is missing") from None
    if not isinstance(version, int) or isinstance(version, bool):
        raise HistoryFormatError(f"entry {index}: version must be an integer")
    environment = raw.get("environment") or {}
    if not isinstance(environment, Mapping):
        raise HistoryFormatError(f"entry {index}: environment must be an object")
    changes = raw.get("resourceChanges")
    end = raw.get("endTime")
    return HistoryEntry(
        version=version,
        kind=str(kind),
        result=str(raw.get("result", "")),
        start_time=parse_time(str(start)),
        end_time=parse_time(str(end)) if end else None,
        message=str(raw.get("message", "")),
        environment={str(k): str(v) for k, v in environment.items()},
        config=parse_config(raw.get("config") or {}),
        resource_changes={str(k): int(v) for k, v in changes.items()}
        if isinstance(changes, Mapping)
        else None,
    )


def parse_history(data: Any) -> list[HistoryEntry]:
    """Parse ``pulumi stack history --json`` output (already JSON-decoded); newest first.

    Self-managed backends (``file://``, ``s3://``, ...) report every entry as version 0 (their
    history records carry no version; pulumi/pulumi pkg/backend/diy/state.go getHistory). There
    the entries are numbered as Pulumi Cloud numbers them, 1 for the oldest: the CLI lists them
    newest first, so an entry's version is its position from the end.
    """
    if data is None:
        return []
    if not isinstance(data, list):
        raise HistoryFormatError("stack history: expected a JSON list")
    entries = [_entry(raw, index) for index, raw in enumerate(data)]
    if entries and all(e.version == 0 for e in entries):
        entries = [replace(e, version=len(entries) - index) for index, e in enumerate(entries)]
    return sorted(entries, key=lambda e: e.version, reverse=True)


def parse_history_text(text: str) -> list[HistoryEntry]:
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as error:
        raise HistoryFormatError(f"stack history is not JSON: {error}") from None
    return parse_history(data)


# -- what a config deployed -------------------------------------------------------------------


@dataclass(frozen=True)
class AppRelease:
    """What one app ran under a config: images, strategy, colour, canary weight."""

    name: str
    strategy: str
    image: str | None
    active: str | None = None
    colour_images: Mapping[str, str] = field(default_factory=dict)
    canary_image: str | None = None
    canary_weight: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"app": self.name, "strategy": self.strategy, "image": self.image}
        if self.strategy == "blue-green":
            data["active"] = self.active
            data["images"] = dict(self.colour_images)
        if self.strategy == "canary":
            data["canaryImage"] = self.canary_image
            data["canaryWeight"] = self.canary_weight
        return data

    def summary(self) -> str:
        """One short line, images shown by tag."""
        text = f"{self.name} {short_image(self.image)}"
        if self.strategy == "blue-green" and self.active:
            text += f" bg:{self.active}"
            idle = "green" if self.active == "blue" else "blue"
            idle_image = self.colour_images.get(idle)
            if idle_image and idle_image != self.colour_images.get(self.active):
                text += f" (idle {short_image(idle_image)})"
        if self.strategy == "canary" and self.canary_image and self.canary_image != self.image:
            text += f" canary {short_image(self.canary_image)}@{self.canary_weight or 0}%"
        return text


def short_image(image: str | None) -> str:
    """``ghcr.io/acme/app:1.4.2`` -> ``1.4.2``; a digest -> ``@sha256:0123456789ab``."""
    if not image:
        return "-"
    if "@" in image:
        return "@" + image.split("@", 1)[1][:19]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else image


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def deployed_apps(config: ConfigMap) -> list[AppRelease]:
    """The apps a config deploys, with the strategy defaults the settings apply per environment.

    Tolerant: history may hold configs older than today's schema, so this reads what is there
    rather than validating it.
    """
    env_entry = config.get(ENVIRONMENT_KEY)
    environment = env_entry.value if env_entry else None
    default_strategy = (
        str(WORKLOAD_DEFAULTS[environment]["strategy"]) if environment in ENVIRONMENTS else "rolling"
    )
    apps_entry = config.get(APPS_KEY)
    apps: Any = {DEFAULT_APP: {}}
    if apps_entry is not None and apps_entry.restorable:
        apps = apps_entry.object_value if apps_entry.is_object else _json_or_none(apps_entry.value)
    if not isinstance(apps, Mapping):
        return []
    releases = []
    for name, app in sorted(apps.items()):
        app = app if isinstance(app, Mapping) else {}
        image = app.get("image")
        strategy = str(app.get("strategy") or default_strategy)
        blue_green: Mapping[str, Any] = _mapping(app.get("blueGreen"))
        canary: Mapping[str, Any] = _mapping(app.get("canary"))
        colours = {
            colour: str(blue_green.get(f"{colour}Image") or image or "")
            for colour in ("blue", "green")
            if blue_green.get(f"{colour}Image") or image
        }
        releases.append(
            AppRelease(
                name=str(name),
                strategy=strategy,
                image=str(image) if image else None,
                active=str(blue_green.get("active") or "blue") if strategy == "blue-green" else None,
                colour_images=colours if strategy == "blue-green" else {},
                canary_image=str(canary["image"]) if canary.get("image") else None,
                canary_weight=_int(canary.get("weight", 0)) if strategy == "canary" else None,
            )
        )
    return releases


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _json_or_none(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


def entry_to_json(entry: HistoryEntry) -> dict[str, Any]:
    """The `rollout history --json` record of one entry (no config values: secrets stay out)."""
    duration = entry.duration
    return {
        "version": entry.version,
        "kind": entry.kind,
        "result": entry.result,
        "startTime": entry.start_time.isoformat().replace("+00:00", "Z"),
        "endTime": entry.end_time.isoformat().replace("+00:00", "Z") if entry.end_time else None,
        "durationSeconds": duration.total_seconds() if duration is not None else None,
        "message": entry.message,
        "commit": entry.commit,
        "apps": [app.to_json() for app in deployed_apps(entry.config)],
        "resourceChanges": dict(entry.resource_changes) if entry.resource_changes is not None else None,
    }


def secret_values(*configs: ConfigMap) -> list[str]:
    """Every real secret value in the configs, to mask wherever text is printed."""
    values: set[str] = set()
    for config in configs:
        for entry in config.values():
            if entry.secret and entry.restorable and entry.value:
                values.add(entry.value)
                if entry.is_object:
                    values.update(_leaf_strings(entry.object_value))
    return sorted((v for v in values if len(v) >= 3), key=len, reverse=True)


def _leaf_strings(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _leaf_strings(v)]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [s for v in value for s in _leaf_strings(v)]
    return [value] if isinstance(value, str) else []
