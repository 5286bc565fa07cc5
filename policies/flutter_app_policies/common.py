"""Helpers shared by the validators: the environment a policy runs for, reading properties that
may be missing or unknown (during preview), naming resources in messages, and pod specs.

Properties reach a validator as pulumi_policy proxies: reading a value that is unknown during
preview raises ``UnknownValueError``. The helpers here turn that into the ``UNKNOWN`` marker so a
validator judges every value that is known and skips the rest; `pulumi up` analyses the resolved
values again, so nothing is skipped for good. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
from pulumi_policy import ReportViolation
from pulumi_policy.proxy import UnknownValueError

ENVIRONMENTS: Final = ("dev", "test", "staging", "production")
STRICT_ENVIRONMENTS: Final = frozenset({"staging", "production"})
# The project whose stack config names the environment when the policy config does not.
PROJECT: Final = "flutter-app"

ENVIRONMENT_PROPERTY: Final[dict[str, Any]] = {
    "type": "string",
    "enum": list(ENVIRONMENTS),
    "description": "Environment of the stack (dev, test, staging, production). Unset: the stack's "
    "flutter-app:environment config, else production.",
}


class _Unknown:
    """A value that cannot be known until the resources it depends on exist (preview)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Final = _Unknown()


def environment(config: Mapping[str, Any]) -> str:
    """The environment from the policy config, else the stack's own config, else production.

    Falling back to production makes an unconfigured pack as strict as it can be.
    """
    configured = config.get("environment")
    if configured in ENVIRONMENTS:
        return str(configured)
    # The Pulumi CLI passes the stack's config to a policy pack (PULUMI_CONFIG).
    from_stack = pulumi.Config(PROJECT).get("environment")
    return from_stack if from_stack in ENVIRONMENTS else "production"


def get(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]...``: None when missing or of another shape, UNKNOWN when unknown."""
    current = value
    try:
        for key in path:
            if isinstance(key, int):
                if not is_sequence(current) or not -len(current) <= key < len(current):
                    return None
            elif not isinstance(current, Mapping) or key not in current:
                return None
            current = current[key]
    except UnknownValueError:
        return UNKNOWN
    return current


def is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def elements(value: Any, *path: str | int) -> Iterator[tuple[int, Any]]:
    """(index, element) of the list at ``path``; unknown elements come as UNKNOWN."""
    sequence = get(value, *path)
    if not is_sequence(sequence):
        return
    for index in range(len(sequence)):
        yield index, get(sequence, index)


def entries(value: Any, *path: str | int) -> Iterator[tuple[str, Any]]:
    """(key, value) of the mapping at ``path``; unknown values come as UNKNOWN."""
    mapping = get(value, *path)
    if not isinstance(mapping, Mapping):
        return
    for key in list(mapping):
        yield str(key), get(mapping, key)


def known_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def number(value: Any) -> float | None:
    """A number (the wire sends every number as a double), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def check_split(
    label: str,
    path: str,
    weights: Sequence[tuple[int, float]],
    report_violation: ReportViolation,
    complete: bool = True,
) -> None:
    """One traffic split (Istio's ``route``, an HTTPRoute rule's ``backendRefs``, at ``path``):
    each weight a whole number from 0 to 100, together 100. ``complete``: False when some weight
    is unknown (during preview): the known ones are checked, the total is `pulumi up`'s."""
    for position, weight in weights:
        if not 0 <= weight <= 100 or not weight.is_integer():
            report_violation(
                f"{label}: {path}[{position}].weight is {show(weight)}; expected a whole number from 0 to 100",
                None,
            )
    total = sum(weight for _, weight in weights)
    if complete and weights and total != 100:
        shown = " + ".join(show(weight) for _, weight in weights)
        report_violation(f"{label}: {path} weights add up to {show(total)} ({shown}); expected 100", None)


def labels(value: Any, *path: str | int) -> dict[str, str] | None:
    """A string map, or None when it (or any value in it) is not known."""
    mapping = get(value, *path)
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        return None
    result = {}
    for key, item in entries(mapping):
        if not isinstance(item, str):
            return None
        result[key] = item
    return result


# --- naming resources in messages --------------------------------------------------------------


def kubernetes_label(resource_type: str, props: Any, name: str) -> str:
    """``Kind namespace/name`` (``Kind name`` when cluster-scoped or unnamed in the program)."""
    kind = known_str(get(props, "kind")) or resource_type.rsplit(":", 1)[-1]
    object_name = known_str(get(props, "metadata", "name")) or name
    namespace = known_str(get(props, "metadata", "namespace"))
    return f"{kind} {namespace}/{object_name}" if namespace else f"{kind} {object_name}"


def namespace_of(props: Any) -> str | None:
    """The object's namespace ("default" when unset), or None when unknown."""
    namespace = get(props, "metadata", "namespace")
    if namespace is None:
        return "default"
    return namespace if isinstance(namespace, str) else None


# --- pods ---------------------------------------------------------------------------------------

# Full type tokens of the workloads whose pod spec the pod rules check, and where the spec is.
POD_SPEC_PATHS: Final[dict[str, tuple[str, ...]]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# Workloads that run until stopped: they need probes (a Job's pods run to completion).
LONG_RUNNING: Final = frozenset(
    {
        "kubernetes:core/v1:Pod",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:apps/v1:DaemonSet",
        "kubernetes:apps/v1:ReplicaSet",
    }
)


def pod_spec(resource_type: str, props: Any) -> Any:
    """The pod spec of a workload (None when the type has none or it is missing/unknown)."""
    path = POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return None
    spec = get(props, *path)
    return spec if isinstance(spec, Mapping) else None


@dataclass(frozen=True)
class Container:
    """One container of a pod spec and how messages name it: ``containers[0] (web)``."""

    field: str
    """``containers`` or ``initContainers``."""
    index: int
    spec: Any

    @property
    def where(self) -> str:
        name = known_str(get(self.spec, "name"))
        return f"{self.field}[{self.index}]" + (f" ({name})" if name else "")


def containers(spec: Any, *, init: bool = True) -> Iterator[Container]:
    """The known containers of a pod spec (and its init containers unless ``init`` is False)."""
    for field in ("containers", "initContainers") if init else ("containers",):
        for index, item in elements(spec, field):
            if isinstance(item, Mapping):
                yield Container(field, index, item)


# --- label selectors ----------------------------------------------------------------------------


def selector_matches(selector: Any, pod_labels: Mapping[str, str]) -> bool | None:
    """Whether a LabelSelector (matchLabels + matchExpressions) selects ``pod_labels``.

    None when the selector is not known. An empty selector selects everything, as the API says.
    """
    if not isinstance(selector, Mapping):
        return None
    match_labels = labels(selector, "matchLabels")
    if match_labels is None:
        return None
    if any(pod_labels.get(k) != v for k, v in match_labels.items()):
        return False
    for _, expression in elements(selector, "matchExpressions"):
        key = known_str(get(expression, "key"))
        operator = known_str(get(expression, "operator"))
        values = [v for _, v in elements(expression, "values")]
        if key is None or operator is None or not all(isinstance(v, str) for v in values):
            return None
        if operator == "In" and pod_labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in pod_labels and pod_labels[key] in values:
            return False
        if operator == "Exists" and key not in pod_labels:
            return False
        if operator == "DoesNotExist" and key in pod_labels:
            return False
    return True


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every known string in a property value (unknown values are skipped)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in entries(value):
            yield from strings(item, f"{path}.{key}" if path else key)
    elif is_sequence(value):
        for index, item in elements(value):
            yield from strings(item, f"{path}[{index}]")
