"""Production availability (stack policies, because they look across resources): every Deployment
serving traffic runs at least ``minProductionReplicas`` pods, counting its autoscaler's minimum
when one owns the count, and a PodDisruptionBudget selects its pods.

"Serving traffic" means a Service in the Deployment's namespace selects its pod template, except
a *preview* Service (named ``*-preview`` or labelled ``app.kubernetes.io/component: preview``),
which only ever selects the idle blue/green colour. Deployments labelled ``version: canary`` are
exempt too: a canary at weight 0 legitimately runs a single pod.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from flutter_app_policies.common import (
    environment,
    get,
    known_str,
    kubernetes_label,
    labels,
    namespace_of,
    number,
    selector_matches,
    show,
)

DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
SERVICE: Final = "kubernetes:core/v1:Service"
AUTOSCALERS: Final = frozenset(
    {
        "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:autoscaling/v2beta2:HorizontalPodAutoscaler",
    }
)
DISRUPTION_BUDGETS: Final = frozenset(
    {"kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:policy/v1beta1:PodDisruptionBudget"}
)
DEFAULT_MIN_REPLICAS: Final = 2
EXEMPT_VERSIONS: Final = frozenset({"canary"})


@dataclass(frozen=True)
class _Deployment:
    resource: PolicyResource
    namespace: str
    name: str
    pod_labels: dict[str, str]

    @property
    def label(self) -> str:
        return kubernetes_label(self.resource.resource_type, self.resource.props, self.resource.name)


def _of_type(args: StackValidationArgs, *types: str | frozenset[str]) -> Iterator[PolicyResource]:
    wanted = {t for group in types for t in ([group] if isinstance(group, str) else group)}
    return (r for r in args.resources if r.resource_type in wanted)


def _is_preview_service(service: PolicyResource) -> bool:
    name = known_str(get(service.props, "metadata", "name")) or service.name
    component = get(service.props, "metadata", "labels", "app.kubernetes.io/component")
    return name.endswith("-preview") or component == "preview"


def _serving_deployments(args: StackValidationArgs) -> Iterator[_Deployment]:
    """Known Deployments that a non-preview Service selects and that are not canaries."""
    services = [s for s in _of_type(args, SERVICE) if not _is_preview_service(s)]
    for resource in _of_type(args, DEPLOYMENT):
        namespace = namespace_of(resource.props)
        pod_labels = labels(resource.props, "spec", "template", "metadata", "labels")
        name = known_str(get(resource.props, "metadata", "name")) or resource.name
        if namespace is None or pod_labels is None or pod_labels.get("version") in EXEMPT_VERSIONS:
            continue
        for service in services:
            selector = labels(service.props, "spec", "selector")
            if (
                namespace_of(service.props) == namespace
                and selector  # a Service without a selector selects no pods
                and all(pod_labels.get(k) == v for k, v in selector.items())
            ):
                yield _Deployment(resource, namespace, name, pod_labels)
                break


def _autoscaler_for(args: StackValidationArgs, deployment: _Deployment) -> PolicyResource | None:
    for autoscaler in _of_type(args, AUTOSCALERS):
        target = get(autoscaler.props, "spec", "scaleTargetRef")
        if (
            namespace_of(autoscaler.props) == deployment.namespace
            and get(target, "kind") == "Deployment"
            and get(target, "name") == deployment.name
        ):
            return autoscaler
    return None


def production_min_replicas(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """In production, every Deployment serving traffic runs at least minProductionReplicas pods."""
    config = args.get_config()
    if environment(config) != "production":
        return
    minimum = number(config.get("minProductionReplicas")) or DEFAULT_MIN_REPLICAS
    for deployment in _serving_deployments(args):
        autoscaler = _autoscaler_for(args, deployment)
        if autoscaler is not None:
            owner = kubernetes_label(autoscaler.resource_type, autoscaler.props, autoscaler.name)
            value = get(autoscaler.props, "spec", "minReplicas")
            count = 1.0 if value is None else number(value)  # the API's default minReplicas is 1
            if count is not None and count < minimum:
                report_violation(
                    f"{deployment.label}: its autoscaler {owner} has spec.minReplicas {show(count)}"
                    f"{' (the default)' if value is None else ''}; production needs at least {show(minimum)}",
                    deployment.resource.urn,
                )
            continue
        value = get(deployment.resource.props, "spec", "replicas")
        count = 1.0 if value is None else number(value)  # the API's default replicas is 1
        if count is not None and count < minimum:
            report_violation(
                f"{deployment.label}: spec.replicas is {show(count)}"
                f"{' (not set, no autoscaler)' if value is None else ''}; "
                f"production needs at least {show(minimum)}",
                deployment.resource.urn,
            )


def production_pod_disruption_budget(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """In production, a PodDisruptionBudget selects the pods of every Deployment serving traffic."""
    if environment(args.get_config()) != "production":
        return
    budgets = list(_of_type(args, DISRUPTION_BUDGETS))
    for deployment in _serving_deployments(args):
        verdicts = [
            selector_matches(get(budget.props, "spec", "selector"), deployment.pod_labels)
            for budget in budgets
            if namespace_of(budget.props) == deployment.namespace
        ]
        if any(v is None or v for v in verdicts):  # selected, or cannot be known before `up`
            continue
        report_violation(
            f"{deployment.label}: no PodDisruptionBudget in namespace {deployment.namespace} selects its "
            f"pods (spec.template.metadata.labels {_show_labels(deployment.pod_labels)})",
            deployment.resource.urn,
        )


def _show_labels(values: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(values.items())) + "}"
