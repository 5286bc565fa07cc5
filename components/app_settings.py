"""Settings of one app: image, sizing, probes, release strategy (blue/green, canary) and gates.

Each check refuses what the Kubernetes API server (or the container runtime) would refuse, before
anything is declared: rolling-update parameters, quantities, the namespace's per-container limit,
duplicate or credential-like environment variables.
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from components.app_env import feature_env, owner_of
from components.config_types import (
    INT32_MAX,
    Bool,
    ConfigModel,
    CpuQuantity,
    DnsLabel,
    GatewayRef,
    Host,
    Image,
    IntOrPercent,
    MemoryQuantity,
    Port,
    RequestPath,
    Strategy,
    base_url,
)
from components.profiles import CONTAINER_LIMITS
from components.validation import NestedProblems, parse_image, parse_quantity
from credentials import credential_in_value, looks_like_credential

SECRET_CONFIG = "credentials are secret config only (`pulumi config set --secret`), never plain values"


class Compute(ConfigModel):
    """CPU and memory for one side (requests or limits), each more than 0."""

    cpu: CpuQuantity
    memory: MemoryQuantity


class Resources(ConfigModel):
    """Container resources; limits must not be below requests, nor above the namespace's
    per-container maximum (its LimitRange would refuse every pod)."""

    requests: Compute
    limits: Compute

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Resources:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for kind in ("cpu", "memory"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            if parse_quantity(limit) < parse_quantity(request):
                problems.append((("limits", kind), f"{limit} is below requests.{kind} {request}"))
            maximum = CONTAINER_LIMITS["max"][kind]
            if parse_quantity(limit) > parse_quantity(maximum):
                problems.append(
                    (
                        ("limits", kind),
                        f"{limit} is above {maximum}, the namespace's per-container maximum "
                        "(LimitRange): Kubernetes would refuse every pod",
                    )
                )
        if problems:
            raise NestedProblems(problems)
        return self


Seconds = Annotated[int, Field(ge=0, le=INT32_MAX)]


class Probe(ConfigModel):
    """An HTTP GET probe on the container port."""

    path: RequestPath
    initial_delay_seconds: Seconds = 0
    period_seconds: Annotated[int, Field(ge=1, le=INT32_MAX)] = 10
    timeout_seconds: Annotated[int, Field(ge=1, le=INT32_MAX)] = 1
    failure_threshold: Annotated[int, Field(ge=1, le=INT32_MAX)] = 3


class Autoscaling(ConfigModel):
    """HorizontalPodAutoscaler on CPU utilisation."""

    min_replicas: Annotated[int, Field(ge=1, le=INT32_MAX)]
    max_replicas: Annotated[int, Field(ge=1, le=INT32_MAX)]
    target_cpu_percent: Annotated[int, Field(ge=1, le=100)] = 70

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas {self.min_replicas} is above maxReplicas {self.max_replicas}")
        return self


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _variable_problem(name: str, variable: str) -> str | None:
    """Why ``variable`` (the name ``name`` becomes in the container) cannot be set by the app."""
    if not _ENV_NAME.fullmatch(name):
        return "not a valid environment variable name (A-Z, a-z, 0-9 and '_', not starting with a digit)"
    if looks_like_credential(variable):
        return f"looks like a credential; {SECRET_CONFIG}"
    if owner := owner_of(variable):
        return f"{variable} is already set by {owner}; choose another name"
    return None


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


def _steps(value: Any) -> Any:
    # Checked whole, before the union: one message naming what is expected (pydantic would name
    # each arm of `list | "auto"` and the list's item types).
    weights = value if isinstance(value, list) else []
    if value != "auto" and not (
        weights
        and all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 100 for w in weights)
        and all(b > a for a, b in itertools.pairwise(weights))
        and weights[-1] == 100
    ):
        raise ValueError("expected auto or increasing weights ending at 100, such as [5, 25, 50, 100]")
    return value


class Canary(ConfigModel):
    """Canary (Istio or Gateway API): the canary image, its current traffic weight, and routing."""

    weight: Annotated[int, Field(ge=0, le=100)] = 0
    """Percent of requests (without the canary header) sent to the canary."""
    image: Image | None = None
    """Image under test; unset means no canary is running (no canary pods, no header route)."""
    replicas: Annotated[int, Field(ge=1, le=100)] = 1
    steps: Annotated[list[int] | Literal["auto"], BeforeValidator(_steps)] = "auto"
    """Weights `rollout release` walks through, a gate after each; ``auto``: chosen when the
    release starts from the stable's traffic (gates/schedule.py), the evidence carried from step
    to step."""
    max_first_weight: Annotated[int, Field(ge=1, le=100)] = 25
    """``auto``: the largest first weight (the share of users a total failure reaches before its
    first evaluations)."""
    hosts: list[Host] = Field(default_factory=list)
    """The old spelling of ``expose.hosts``, still read (see AppSettings.exposure)."""
    gateways: list[GatewayRef] = Field(default_factory=list)
    """The old spelling of ``expose.gateways``, still read (see AppSettings.exposure)."""
    mirror: Annotated[int, Field(ge=1, le=100)] | None = None
    """Percent of the stable track's requests copied to the canary while it runs at weight 0 (its
    answers discarded): a release walks a mirrored step first, judged with no user served by the
    canary. Opt-in: a mirrored request runs twice, so a write would happen twice."""

    @model_validator(mode="after")
    def _weight_needs_an_image(self) -> Canary:
        if self.weight and self.image is None:
            raise NestedProblems([(("weight",), f"is {self.weight} but no canary.image is set")])
        return self


class Expose(ConfigModel):
    """How users reach the app: its external hosts, routed to the Service that serves live
    traffic (README "Exposure"). With Istio a VirtualService bound to ``gateways``; without it a
    Kubernetes Ingress of the cluster's ingress controller (``cluster.ingressController``)."""

    hosts: Annotated[list[Host], Field(min_length=1)]
    """Host names routed to the live Service (blue/green: the one whose selector the switch flips)."""
    gateways: Annotated[list[GatewayRef], Field(min_length=1)] | None = None
    """Istio only: Gateways as namespace/name; unset means the stack's own istio-ingress/public."""
    preview_hosts: list[Host] = Field(default_factory=list)
    """Blue/green only: host names routed to the preview Service (the idle colour)."""
    tls_secret: DnsLabel | None = None
    """Ingress only: a kubernetes.io/tls Secret in the app's namespace for ``hosts`` and
    ``previewHosts`` (with Istio the Gateway terminates TLS: cluster.addons.ingressTlsSecret)."""

    @model_validator(mode="after")
    def _hosts_once(self) -> Expose:
        seen: set[str] = set()
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for key, hosts in (("hosts", self.hosts), ("previewHosts", self.preview_hosts)):
            for index, host in enumerate(hosts):
                if host in seen:
                    problems.append(((key, index), f"{host} is listed twice; a host routes to one Service"))
                seen.add(host)
        if problems:
            raise NestedProblems(problems)
        return self


_PROBED = (
    "a HealthGate's spec is stored in plain text (state, resources.json): probe a URL that needs "
    "no credentials (a health endpoint should not)"
)
ProbedUrl = Annotated[str, base_url("http", "https", credential_hint=_PROBED)]


def _spec_location(path: str) -> tuple[str | int, ...]:
    """``probes[0].url`` -> ("probes", 0, "url"); the whole spec -> ()."""
    if path == "(spec)":
        return ()
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    return tuple(parts)


class GateSettings(ConfigModel):
    """The health gates `pulumi up` runs for an app (see README "Health gates").

    Probes need a URL reachable from where `pulumi up` runs; Prometheus checks need the stack's
    ``prometheusUrl``. With neither, no gate is declared (and render says so)."""

    url: ProbedUrl | None = None
    """Live URL of the app, probed after each release step (canary: with header canary: "true")."""
    preview_url: ProbedUrl | None = None
    """Blue/green: URL of the preview Service (the idle colour), probed before the switch."""
    probe_path: RequestPath = "/health"
    """Appended to the URL's path (a query is kept: /health?full=1)."""
    spec: dict[str, Any] = Field(default_factory=dict)
    """Overrides of the gate spec (interval, duration, failure_limit, inconclusive_limit,
    on_no_data, name, notify): the same fields as a `rollout gate` spec file."""

    @field_validator("spec")
    @classmethod
    def _spec(cls, value: dict[str, Any]) -> dict[str, Any]:
        from gates.spec import SpecError, parse_spec

        generated = sorted({"probes", "prometheus", "checks"} & set(value))
        problems: list[tuple[tuple[str | int, ...], str]] = [
            ((key,), "built from the app; set url / prometheusUrl instead") for key in generated
        ]
        rest = {key: item for key, item in value.items() if key not in generated}
        try:
            parse_spec({**rest, "probes": [{"url": "http://127.0.0.1/"}]})
        except SpecError as error:
            problems += [(_spec_location(p.path), p.message) for p in error.problems]
        if problems:
            raise NestedProblems(problems)
        return value

    @model_validator(mode="after")
    def _no_link_local_targets(self) -> GateSettings:
        from gates.spec import link_local

        if self.spec.get("allow_link_local") is True:
            return self
        problems: list[tuple[tuple[str | int, ...], str]] = [
            (
                (key,),
                f"{urlsplit(url).hostname} is a link-local address (169.254.0.0/16, fe80::/10), where a cloud's "
                "instance metadata and its credentials live; set gate.spec.allow_link_local: true if you mean it",
            )
            for key, url in (("url", self.url), ("previewUrl", self.preview_url))
            if url and link_local(urlsplit(url).hostname or "")
        ]
        if problems:
            raise NestedProblems(problems)
        return self

    @model_validator(mode="after")
    def _load_needs_probes(self) -> GateSettings:
        if "load" in self.spec and self.url is None:
            raise NestedProblems(
                [(("spec", "load"), "needs gate.url: the load goes to the gate's own probe targets")]
            )
        return self


class AppSettings(ConfigModel):
    """One deployed app: image, sizing, probes and release strategy."""

    image: Image
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
    expose: Expose | None = None
    """How users reach the app; unset: no route (the Services stay ClusterIP only)."""

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        parse_image(value)
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for name, text in value.items():
            problem = _variable_problem(name, name)
            if problem is None and (kind := credential_in_value(text)):
                problem = f"its value holds {kind}; {SECRET_CONFIG}"
            if problem:
                problems.append(((name,), problem))
        if problems:
            raise NestedProblems(problems)
        return value

    @field_validator("max_unavailable")
    @classmethod
    def _rollout_can_progress(cls, value: int | str, info: ValidationInfo) -> int | str:
        # The Deployment API's own rules (apps/validation: ValidateRollingUpdateDeployment), as
        # field checks so that they run whatever else in the app is wrong.
        surge = info.data.get("max_surge")
        if surge is not None and _amount(surge) == 0 and _amount(value) == 0:
            raise ValueError(
                f"may not be 0 when maxSurge is 0 (maxSurge {surge!s}): a rolling update could never progress"
            )
        if isinstance(value, str) and _amount(value) > 100:
            raise ValueError("expected at most 100%")
        return value

    @field_validator("feature_flags")
    @classmethod
    def _flags(cls, value: dict[str, bool], info: ValidationInfo) -> dict[str, bool]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        first: dict[str, str] = {}
        env = info.data.get("env") or {}
        for flag in value:
            variable = feature_env(flag)
            if problem := _variable_problem(flag, variable):
                problems.append(((flag,), problem))
            elif variable in first:
                problems.append(
                    ((flag,), f"becomes {variable}, as featureFlags.{first[variable]} does; keep one of them")
                )
            elif variable in env:
                problems.append(
                    ((flag,), f"becomes {variable}, which env.{variable} sets too; keep one of them")
                )
            else:
                first[variable] = flag
        if problems:
            raise NestedProblems(problems)
        return value

    @field_validator("autoscaling")
    @classmethod
    def _autoscaling(cls, value: Autoscaling | None, info: ValidationInfo) -> Autoscaling | None:
        replicas, strategy = info.data.get("replicas"), info.data.get("strategy")
        if value is None:
            return value
        if strategy is not None and strategy != "rolling":
            raise ValueError(f"is supported with strategy rolling only (strategy is {strategy})")
        if replicas is not None and not value.min_replicas <= replicas <= value.max_replicas:
            raise ValueError(f"replicas {replicas} is outside {value.min_replicas}..{value.max_replicas}")
        return value

    @field_validator("blue_green", "canary", mode="before")
    @classmethod
    def _matches_strategy(cls, value: object, info: ValidationInfo) -> object:
        # Runs only for a section the stack sets (defaults are not validated); before the
        # section's own checks, which do not matter for a section that does not belong.
        wanted = "blue-green" if info.field_name == "blue_green" else "canary"
        strategy = info.data.get("strategy")
        if strategy is not None and strategy != wanted:
            raise ValueError(f"is set but strategy is {strategy}, not {wanted}")
        return value

    @field_validator("expose")
    @classmethod
    def _preview_hosts_need_a_preview(cls, value: Expose | None, info: ValidationInfo) -> Expose | None:
        strategy = info.data.get("strategy")
        if value is not None and value.preview_hosts and strategy is not None and strategy != "blue-green":
            raise NestedProblems(
                [
                    (
                        ("previewHosts",),
                        f"is for strategy blue-green (its preview Service); strategy is {strategy}",
                    )
                ]
            )
        return value

    @model_validator(mode="after")
    def _one_spelling_of_exposure(self) -> AppSettings:
        # canary.hosts / canary.gateways are the old spelling of expose.hosts / expose.gateways.
        # They are still read, so that a rollback to a version recorded before `expose` existed
        # restores a config this program accepts; a stack may not use both spellings.
        if self.expose is not None:
            problems = [
                (
                    tuple(key.split(".")),
                    f"is the old spelling of expose.{key.split('.')[1]}; remove it (expose is set)",
                )
                for key in self.old_spellings
            ]
            if problems:
                raise NestedProblems(problems)
        if self.canary.gateways and not self.canary.hosts:
            raise NestedProblems(
                [
                    (
                        ("canary", "gateways"),
                        "is set without canary.hosts: nothing would be routed; set expose.hosts",
                    )
                ]
            )
        return self

    @property
    def exposure(self) -> Expose | None:
        """The app's exposure, from ``expose`` or its old spelling ``canary.hosts/gateways``."""
        if self.expose is not None:
            return self.expose
        if self.canary.hosts:
            return Expose(hosts=self.canary.hosts, gateways=self.canary.gateways or None)
        return None

    @property
    def old_spellings(self) -> list[str]:
        """Keys of the app set in an old spelling (``canary.hosts``), to warn about."""
        return [f"canary.{key}" for key in ("hosts", "gateways") if getattr(self.canary, key)]

    @property
    def canary_running(self) -> bool:
        """A canary is deployed (from its first step until promotion removes ``canary.image``;
        during promotion it may equal ``image`` while it still serves traffic)."""
        return self.canary.image is not None

    def colour_image(self, colour: Colour) -> str:
        """The image a blue/green colour runs."""
        return (self.blue_green.blue_image if colour == "blue" else self.blue_green.green_image) or self.image


def _amount(value: int | str) -> int:
    """The number in a pod count or a percentage ("00%" is 0, like 0)."""
    return value if isinstance(value, int) else int(value.rstrip("%"))
