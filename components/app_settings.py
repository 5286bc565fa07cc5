"""Settings of one app: image, sizing, probes, release strategy (blue/green, canary) and gates."""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.config_types import (
    Bool,
    ConfigModel,
    HttpUrl,
    Image,
    IntOrPercent,
    Port,
    Quantity,
    Strategy,
)
from components.validation import CREDENTIAL_NAME, parse_image, parse_quantity


class Compute(ConfigModel):
    """CPU and memory for one side (requests or limits)."""

    cpu: Quantity
    memory: Quantity


class Resources(ConfigModel):
    """Container resources; limits must not be below requests."""

    requests: Compute
    limits: Compute

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Resources:
        for kind in ("cpu", "memory"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            if parse_quantity(limit) < parse_quantity(request):
                raise ValueError(f"limits.{kind} {limit} is below requests.{kind} {request}")
        return self


class Probe(ConfigModel):
    """An HTTP GET probe on the container port."""

    path: Annotated[str, Field(pattern=r"^/\S*$")]
    initial_delay_seconds: Annotated[int, Field(ge=0)] = 0
    period_seconds: Annotated[int, Field(ge=1)] = 10
    timeout_seconds: Annotated[int, Field(ge=1)] = 1
    failure_threshold: Annotated[int, Field(ge=1)] = 3


class Autoscaling(ConfigModel):
    """HorizontalPodAutoscaler on CPU utilisation."""

    min_replicas: Annotated[int, Field(ge=1)]
    max_replicas: Annotated[int, Field(ge=1)]
    target_cpu_percent: Annotated[int, Field(ge=1, le=100)] = 70

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas {self.min_replicas} is above maxReplicas {self.max_replicas}")
        return self


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_env_names(names: list[str]) -> None:
    invalid = [n for n in names if not _ENV_NAME.match(n)]
    credentials = [n for n in names if CREDENTIAL_NAME.search(n)]
    if invalid:
        raise ValueError(f"not valid environment variable names (A-Z, 0-9, '_'): {', '.join(invalid)}")
    if credentials:
        raise ValueError(
            f"{', '.join(credentials)} look like credentials; credentials are secret config only "
            "(`pulumi config set --secret`), never plain values"
        )


Colour = Literal["blue", "green"]


class BlueGreen(ConfigModel):
    """Blue/green: which colour is live, and each colour's image (default: the app's ``image``)."""

    active: Colour = "blue"
    blue_image: Image | None = None
    green_image: Image | None = None
    scale_down_idle: Bool = False
    """Run the idle colour at zero replicas (once a release is confirmed)."""

    @property
    def idle(self) -> Colour:
        return "green" if self.active == "blue" else "blue"


def _steps(value: list[int]) -> list[int]:
    if any(b <= a for a, b in itertools.pairwise(value)) or value[-1] != 100:
        raise ValueError(f"expected increasing weights ending at 100 (got {value})")
    return value


class Canary(ConfigModel):
    """Istio canary: the canary image, its current traffic weight, and routing."""

    weight: Annotated[int, Field(ge=0, le=100)] = 0
    """Percent of requests (without the canary header) sent to the canary."""
    image: Image | None = None
    """Image under test; unset means no canary is running (no canary pods, no header route)."""
    replicas: Annotated[int, Field(ge=1, le=100)] = 1
    steps: Annotated[
        list[Annotated[int, Field(ge=1, le=100)]], Field(min_length=1), AfterValidator(_steps)
    ] = [
        5,
        25,
        50,
        100,
    ]
    """Weights `rollout release` walks through, a gate after each."""
    hosts: list[Annotated[str, Field(pattern=r"^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]] = Field(
        default_factory=list
    )
    """External hosts routed through ``gateways`` (the in-mesh Service host is always routed)."""
    gateways: list[Annotated[str, Field(pattern=r"^[a-z0-9-]+/[a-z0-9-]+$")]] = Field(default_factory=list)
    """Istio Gateways as namespace/name."""


class GateSettings(ConfigModel):
    """The health gates `pulumi up` runs for an app (see README "Health gates").

    Probes need a URL reachable from where `pulumi up` runs; Prometheus checks need the stack's
    ``prometheusUrl``. With neither, no gate is declared (and render says so)."""

    url: HttpUrl | None = None
    """Live URL of the app, probed after each release step (canary: with header canary: "true")."""
    preview_url: HttpUrl | None = None
    """Blue/green: URL of the preview Service (the idle colour), probed before the switch."""
    probe_path: Annotated[str, Field(pattern=r"^/\S*$")] = "/health"
    spec: dict[str, Any] = Field(default_factory=dict)
    """Overrides of the gate spec (interval, duration, failure_limit, inconclusive_limit,
    on_no_data, name, notify): the same fields as a `rollout gate` spec file."""

    @field_validator("spec")
    @classmethod
    def _spec(cls, value: dict[str, Any]) -> dict[str, Any]:
        from gates.spec import SpecError, parse_spec

        generated = {"probes", "prometheus", "checks"} & set(value)
        if generated:
            raise ValueError(
                f"{', '.join(sorted(generated))} are built from the app; set url / prometheusUrl"
            )
        try:
            parse_spec({**value, "probes": [{"url": "http://127.0.0.1/"}]})
        except SpecError as error:
            raise ValueError("; ".join(str(p) for p in error.problems)) from None
        return value


class AppSettings(ConfigModel):
    """One deployed app: image, sizing, probes and release strategy."""

    image: str
    replicas: Annotated[int, Field(ge=1, le=100)]
    container_port: Port
    service_port: Port
    max_surge: IntOrPercent
    max_unavailable: IntOrPercent
    resources: Resources
    liveness: Probe
    readiness: Probe
    strategy: Strategy = "rolling"
    env: dict[str, str] = Field(default_factory=dict)
    feature_flags: dict[str, Bool] = Field(default_factory=dict)
    autoscaling: Autoscaling | None = None
    blue_green: BlueGreen = BlueGreen()
    canary: Canary = Canary()
    gate: GateSettings = GateSettings()

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        parse_image(value)
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        _check_env_names(list(value))
        return value

    @field_validator("feature_flags")
    @classmethod
    def _flags(cls, value: dict[str, bool]) -> dict[str, bool]:
        _check_env_names([name.upper() for name in value])
        return value

    @model_validator(mode="after")
    def _rollout_can_progress(self) -> AppSettings:
        if self.max_surge in (0, "0%") and self.max_unavailable in (0, "0%"):
            raise ValueError("maxSurge and maxUnavailable are both 0: a rolling update could never progress")
        if self.autoscaling and not (
            self.autoscaling.min_replicas <= self.replicas <= self.autoscaling.max_replicas
        ):
            raise ValueError(
                f"replicas {self.replicas} is outside autoscaling "
                f"{self.autoscaling.min_replicas}..{self.autoscaling.max_replicas}"
            )
        if self.autoscaling and self.strategy != "rolling":
            raise ValueError(
                f"autoscaling is supported with strategy rolling only (strategy is {self.strategy})"
            )
        for section, strategy in (("blue_green", "blue-green"), ("canary", "canary")):
            if section in self.model_fields_set and self.strategy != strategy:
                raise ValueError(
                    f"{to_camel(section)} is set but strategy is {self.strategy}, not {strategy}"
                )
        if self.canary.weight and not self.canary_running:
            raise ValueError(f"canary.weight is {self.canary.weight} but no canary.image is set")
        return self

    @property
    def canary_running(self) -> bool:
        """A canary is deployed (from its first step until promotion removes ``canary.image``;
        during promotion it may equal ``image`` while it still serves traffic)."""
        return self.canary.image is not None

    def colour_image(self, colour: Colour) -> str:
        """The image a blue/green colour runs."""
        return (self.blue_green.blue_image if colour == "blue" else self.blue_green.green_image) or self.image
