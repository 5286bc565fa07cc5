"""What a Kubernetes API server (and the admission and runtime behind it) would refuse in rendered
manifests, checked offline: the semantic rules the OpenAPI schema cannot express (names, label
keys and values, quantities, rolling-update parameters, requests within limits, the namespace's
LimitRange), restated from k8s.io/apimachinery/pkg/util/validation and
pkg/apis/{core,apps}/validation, independently of the program's own checks (components/), so the
one can test the other.

``Refusals`` composes the checks a test applies to a render: the schema (kubernetes-validate, the
Istio CRDs), these rules, and any further checker, e.g. a server-side dry run against the sandbox's
real API server once it exists (a callable taking the manifests and returning refusals).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.support.schemas import manifest_errors

Manifest = dict[str, Any]
Checker = Callable[[Sequence[Manifest]], list[str]]

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_IANA_SVC_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_PERCENT = re.compile(r"[0-9]+%")
# resource.Quantity: <signedNumber><suffix>, suffix binary SI, decimal SI or a decimal exponent.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+|)"
)
_SCALE = {
    "": 0,
    "n": -9,
    "u": -6,
    "m": -3,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
INT32_MAX = 2**31 - 1
INTEGER_RESOURCES = frozenset({"pods", "services", "services.loadbalancers", "services.nodeports"})


def quantity(text: Any) -> Decimal | None:
    """The value of a Kubernetes quantity, or None when the API server would not parse it."""
    if not isinstance(text, str):
        return Decimal(text) if isinstance(text, int) and not isinstance(text, bool) else None
    match = _QUANTITY.fullmatch(text)
    if not match:
        return None
    try:
        number = Decimal(match["number"])
    except InvalidOperation:
        return None
    suffix = match["suffix"]
    if suffix.endswith("i"):
        return number * 1024 ** ("KMGTPE".index(suffix[0]) + 1)
    if suffix[:1] in ("e", "E"):
        return number.scaleb(int(suffix[1:]))
    return number.scaleb(_SCALE[suffix])


def _name(kind: str, name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return f"{kind}: metadata.name is required"
    rules = {
        "Service": (_DNS1035_LABEL, 63, "DNS-1035 label"),
        "Namespace": (_DNS1123_LABEL, 63, "DNS-1123 label"),
    }
    pattern, limit, what = rules.get(kind, (_DNS1123_SUBDOMAIN, 253, "DNS-1123 subdomain"))
    if len(name) > limit or not pattern.fullmatch(name):
        return f"{kind} {name!r}: metadata.name is not a {what} of at most {limit} characters"
    return None


def _labels(where: str, labels: Any) -> list[str]:
    problems = []
    for key, value in (labels or {}).items():
        prefix, _, name = str(key).rpartition("/")
        if (prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix))) or (
            len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name)
        ):
            problems.append(f"{where}: label key {key!r} is invalid")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            problems.append(f"{where}: label {key}={value!r} is not a valid label value")
    return problems


def _int_or_percent(value: Any) -> int | None:
    """The number of an IntOrString (a count or a percentage), None when the API refuses it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= INT32_MAX else None
    if isinstance(value, str) and _PERCENT.fullmatch(value):
        return int(value[:-1])
    return None


def _rolling_update(where: str, rolling: Mapping[str, Any]) -> list[str]:
    surge, unavailable = rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")
    surge_n, unavailable_n = _int_or_percent(surge), _int_or_percent(unavailable)
    problems = []
    if surge_n is None:
        problems.append(f"{where}: maxSurge {surge!r} is not a non-negative int or percent")
    if unavailable_n is None:
        problems.append(f"{where}: maxUnavailable {unavailable!r} is not a non-negative int or percent")
    if surge_n == 0 and unavailable_n == 0:
        problems.append(f"{where}: maxUnavailable may not be 0 when maxSurge is 0")
    if isinstance(unavailable, str) and unavailable_n is not None and unavailable_n > 100:
        problems.append(f"{where}: maxUnavailable must not be greater than 100%")
    return problems


def _resources(where: str, resources: Mapping[str, Any]) -> list[str]:
    problems = []
    parsed: dict[str, dict[str, Decimal]] = {}
    for side in ("requests", "limits"):
        for name, text in (resources.get(side) or {}).items():
            value = quantity(text)
            if value is None or value < 0:
                problems.append(f"{where}: resources.{side}.{name} {text!r} is not a valid quantity")
                continue
            parsed.setdefault(side, {})[name] = value
            if name == "memory" and value != value.to_integral_value():
                # The API server stores it; no container runtime can start with a fraction of a byte.
                problems.append(f"runtime: {where}: resources.{side}.memory {text!r} is not whole bytes")
    for name, request in parsed.get("requests", {}).items():
        limit = parsed.get("limits", {}).get(name)
        if limit is not None and request > limit:
            problems.append(f"{where}: resources.requests.{name} must be less than or equal to the limit")
    return problems


def _container(where: str, container: Mapping[str, Any], names: set[str], ports: set[str]) -> list[str]:
    problems = []
    name = container.get("name")
    if not isinstance(name, str) or len(name) > 63 or not _DNS1123_LABEL.fullmatch(name):
        problems.append(f"{where}: container name {name!r} is not a DNS-1123 label")
    elif name in names:
        problems.append(f"{where}: duplicate container name {name!r}")
    names.add(str(name))
    for port in container.get("ports") or []:
        number = port.get("containerPort")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            problems.append(f"{where}: containerPort {number!r} is out of range")
        port_name = port.get("name")
        if port_name is not None:
            if len(port_name) > 15 or not _IANA_SVC_NAME.fullmatch(port_name) or "--" in port_name:
                problems.append(f"{where}: port name {port_name!r} is not an IANA service name")
            ports.add(port_name)
    seen: set[str] = set()
    for variable in container.get("env") or []:
        env_name = variable.get("name")
        if not isinstance(env_name, str) or not env_name or "=" in env_name or not env_name.isprintable():
            problems.append(f"{where}: env name {env_name!r} is invalid")
        elif env_name in seen:
            # The API server accepts it with a warning; the later value silently hides the earlier.
            problems.append(f"warning: {where}: env {env_name} is set twice")
        seen.add(str(env_name))
    problems += _resources(where, container.get("resources") or {})
    for probe_name in ("livenessProbe", "readinessProbe"):
        probe = container.get(probe_name)
        if not probe:
            continue
        for field_name in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "failureThreshold"):
            value = probe.get(field_name, 1)
            if not isinstance(value, int) or not 0 <= value <= INT32_MAX:
                problems.append(f"{where}: {probe_name}.{field_name} {value!r} is out of range")
        port = (probe.get("httpGet") or {}).get("port")
        if isinstance(port, str) and port not in ports:
            problems.append(f"{where}: {probe_name} port {port!r} names no container port")
    return problems


def _pod_template(where: str, template: Mapping[str, Any]) -> list[str]:
    problems = _labels(f"{where} template", (template.get("metadata") or {}).get("labels"))
    spec = template.get("spec") or {}
    names: set[str] = set()
    for container in spec.get("containers") or []:
        ports: set[str] = set()
        problems += _container(where, container, names, ports)
    return problems


def _deployment(manifest: Manifest, where: str) -> list[str]:
    spec = manifest.get("spec") or {}
    problems = []
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or not 0 <= replicas <= INT32_MAX:
        problems.append(f"{where}: replicas {replicas!r} is out of range")
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    problems += _labels(f"{where} selector", selector)
    if any(labels.get(k) != v for k, v in selector.items()):
        problems.append(f"{where}: selector does not match template labels")
    rolling = (spec.get("strategy") or {}).get("rollingUpdate")
    if rolling is not None:
        problems += _rolling_update(where, rolling)
    return problems + _pod_template(where, spec.get("template") or {})


def _service(manifest: Manifest, where: str) -> list[str]:
    spec = manifest.get("spec") or {}
    problems = _labels(f"{where} selector", spec.get("selector"))
    for port in spec.get("ports") or []:
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            problems.append(f"{where}: port {number!r} is out of range")
        target = port.get("targetPort")
        if isinstance(target, str) and (len(target) > 15 or not _IANA_SVC_NAME.fullmatch(target)):
            problems.append(f"{where}: targetPort {target!r} is not an IANA service name")
    return problems


_IPV4 = re.compile(r"[0-9]+(\.[0-9]+){3}")


def _ingress(manifest: Manifest, where: str) -> list[str]:
    """networking/validation: ValidateIngressSpec's host and backend rules."""
    problems = []
    spec = manifest.get("spec") or {}
    for rule in spec.get("rules") or []:
        host = rule.get("host")
        if host is not None:
            name = host.removeprefix("*.")
            if (
                "*" in name
                or _IPV4.fullmatch(host)
                or len(host) > 253
                or not _DNS1123_SUBDOMAIN.fullmatch(name)
                or any(len(label) > 63 for label in name.split("."))
            ):
                problems.append(f"{where}: host {host!r} is not a DNS-1123 subdomain (a wildcard first only)")
        for path in (rule.get("http") or {}).get("paths") or []:
            service = (path.get("backend") or {}).get("service") or {}
            name = service.get("name", "")
            if len(name) > 63 or not _DNS1035_LABEL.fullmatch(name):
                problems.append(f"{where}: backend service {name!r} is not a DNS-1035 label")
    return problems


def _quota(manifest: Manifest, where: str) -> list[str]:
    problems = []
    for name, text in ((manifest.get("spec") or {}).get("hard") or {}).items():
        value = quantity(text)
        if value is None or value < 0:
            problems.append(f"{where}: hard.{name} {text!r} is not a valid quantity")
        elif name in INTEGER_RESOURCES and value != value.to_integral_value():
            problems.append(f"{where}: hard.{name} {text!r} must be an integer")
    return problems


def _hpa(manifest: Manifest, where: str) -> list[str]:
    spec = manifest.get("spec") or {}
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if not isinstance(low, int) or low < 1 or not isinstance(high, int) or high < low:
        return [f"{where}: minReplicas {low!r} / maxReplicas {high!r} are out of order"]
    return []


def _configmap(manifest: Manifest, where: str) -> list[str]:
    problems = []
    for field_name in ("data", "stringData"):
        for key in manifest.get(field_name) or {}:
            if len(key) > 253 or not _CONFIG_KEY.fullmatch(key):
                problems.append(f"{where}: {field_name} key {key!r} is invalid")
    return problems


_KIND_CHECKS: dict[str, Callable[[Manifest, str], list[str]]] = {
    "Deployment": _deployment,
    "Service": _service,
    "Ingress": _ingress,
    "ResourceQuota": _quota,
    "HorizontalPodAutoscaler": _hpa,
    "ConfigMap": _configmap,
    "Secret": _configmap,
}


def _limit_range(manifests: Sequence[Manifest]) -> list[str]:
    """Admission: every container within its namespace's LimitRange maximum."""
    maxima: dict[str, dict[str, Decimal]] = {}
    for manifest in manifests:
        if manifest.get("kind") == "LimitRange":
            namespace = (manifest.get("metadata") or {}).get("namespace", "")
            for item in (manifest.get("spec") or {}).get("limits") or []:
                for name, text in (item.get("max") or {}).items():
                    value = quantity(text)
                    if value is not None:
                        maxima.setdefault(namespace, {})[name] = value
    problems = []
    for manifest in manifests:
        if manifest.get("kind") != "Deployment":
            continue
        meta = manifest.get("metadata") or {}
        limits = maxima.get(meta.get("namespace", ""), {})
        containers = (((manifest.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "containers"
        )
        for container in containers or []:
            for name, text in ((container.get("resources") or {}).get("limits") or {}).items():
                value = quantity(text)
                if name in limits and value is not None and value > limits[name]:
                    problems.append(
                        f"admission: Deployment {meta.get('name')}: limits.{name} {text} is above the LimitRange max"
                    )
    return problems


def semantic_refusals(manifests: Sequence[Manifest]) -> list[str]:
    """What the API server, admission (LimitRange) or the runtime would refuse, beyond the schema."""
    problems: list[str] = []
    for manifest in manifests:
        kind = str(manifest.get("kind"))
        meta = manifest.get("metadata") or {}
        where = f"{kind} {meta.get('namespace', '')}/{meta.get('name')}"
        if problem := _name(kind, meta.get("name")):
            problems.append(problem)
        namespace = meta.get("namespace")
        if namespace is not None and (len(namespace) > 63 or not _DNS1123_LABEL.fullmatch(namespace)):
            problems.append(f"{where}: namespace {namespace!r} is not a DNS-1123 label")
        problems += _labels(where, meta.get("labels"))
        problems += _KIND_CHECKS.get(kind, lambda _m, _w: [])(manifest, where)
    return problems + _limit_range(manifests)


def schema_refusals(manifests: Sequence[Manifest]) -> list[str]:
    """Every manifest against the Kubernetes OpenAPI schema or its CRD's (strict)."""
    return [e for m in manifests if (e := manifest_errors(m))]


@dataclass
class Refusals:
    """The checks a rendered stack must pass; add a checker (e.g. a server-side dry run)."""

    checkers: list[Checker] = field(default_factory=lambda: [schema_refusals, semantic_refusals])

    def __call__(self, manifests: Sequence[Manifest]) -> list[str]:
        return [problem for check in self.checkers for problem in check(manifests)]
