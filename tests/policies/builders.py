"""Crafted registrations (as rollout.offline.engine records them) and a runner that drives the
real policy pack over them through pulumi_policy's analyzer servicer."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rollout.offline.engine import Registration
from rollout.offline.policy import PolicyConfigEntry, Violation, analyze, load_policy_config
from tests.support.project import ROOT

PACK = ROOT / "policies"
NAMESPACE = "shop"
IMAGE = "ghcr.io/acme/web:1.4.2"
STACK_URN_PREFIX = "urn:pulumi:production::flutter-app::"

TOKENS = {
    "Deployment": ("kubernetes:apps/v1:Deployment", "apps/v1"),
    "StatefulSet": ("kubernetes:apps/v1:StatefulSet", "apps/v1"),
    "DaemonSet": ("kubernetes:apps/v1:DaemonSet", "apps/v1"),
    "Job": ("kubernetes:batch/v1:Job", "batch/v1"),
    "CronJob": ("kubernetes:batch/v1:CronJob", "batch/v1"),
    "Pod": ("kubernetes:core/v1:Pod", "v1"),
    "Service": ("kubernetes:core/v1:Service", "v1"),
    "ConfigMap": ("kubernetes:core/v1:ConfigMap", "v1"),
    "PodDisruptionBudget": ("kubernetes:policy/v1:PodDisruptionBudget", "policy/v1"),
    "HorizontalPodAutoscaler": ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "autoscaling/v2"),
    "VirtualService": ("kubernetes:networking.istio.io/v1:VirtualService", "networking.istio.io/v1"),
    "DestinationRule": ("kubernetes:networking.istio.io/v1:DestinationRule", "networking.istio.io/v1"),
    "HTTPRoute": ("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "gateway.networking.k8s.io/v1"),
}


def registration(type_: str, name: str, inputs: dict[str, Any], *, custom: bool = True) -> Registration:
    return Registration(
        urn=f"{STACK_URN_PREFIX}{type_}::{name}",
        type=type_,
        name=name,
        custom=custom,
        parent="",
        dependencies=(),
        provider="",
        inputs=inputs,
    )


def k8s(
    kind: str,
    name: str,
    *,
    namespace: str | None = NAMESPACE,
    labels: dict[str, str] | None = None,
    **fields: Any,
) -> Registration:
    token, api_version = TOKENS[kind]
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = labels
    return registration(
        token,
        f"{name}-{kind.lower()}",
        {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields},
    )


def container(name: str = "web", **changes: Any) -> dict[str, Any]:
    """A container every rule accepts; ``changes`` replace top-level fields (None removes one)."""
    spec: dict[str, Any] = {
        "name": name,
        "image": IMAGE,
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
        "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
        "securityContext": {"allowPrivilegeEscalation": False, "privileged": False, "runAsNonRoot": True},
        "env": [{"name": "APP_NAME", "value": name}],
    }
    return _apply(spec, changes)


def pod(containers: Sequence[dict[str, Any]] | None = None, **changes: Any) -> dict[str, Any]:
    """A pod spec every rule accepts."""
    spec: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
        "containers": list(containers or [container()]),
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    return _apply(spec, changes)


def deployment(
    name: str = "web",
    *,
    replicas: int | None = 3,
    labels: dict[str, str] | None = None,
    pod_spec: dict[str, Any] | None = None,
    namespace: str = NAMESPACE,
) -> Registration:
    pod_labels = labels or {"app": name}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": pod_labels},
        "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec or pod()},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return k8s("Deployment", name, namespace=namespace, spec=spec)


def service(
    name: str = "web",
    selector: dict[str, str] | None = None,
    type_: str = "ClusterIP",
    namespace: str = NAMESPACE,
) -> Registration:
    return k8s(
        "Service",
        name,
        namespace=namespace,
        spec={
            "type": type_,
            "selector": selector or {"app": name},
            "ports": [{"port": 80, "targetPort": "http"}],
        },
    )


def pdb(name: str = "web", selector: dict[str, Any] | None = None) -> Registration:
    return k8s(
        "PodDisruptionBudget",
        name,
        spec={"maxUnavailable": 1, "selector": selector or {"matchLabels": {"app": name}}},
    )


def web_app(**deployment_changes: Any) -> list[Registration]:
    """A Deployment, its Service and its PodDisruptionBudget: compliant in every environment."""
    return [deployment(**deployment_changes), service(), pdb()]


def check(
    resources: Sequence[Registration],
    environment: str = "production",
    overrides: dict[str, dict[str, Any]] | None = None,
) -> list[Violation]:
    """Run the real pack with policies/config/<environment>.json (``overrides``: policy ->
    properties merged over the file's entry for that policy)."""
    config = load_policy_config(PACK / "config" / f"{environment}.json")
    for policy, properties in (overrides or {}).items():
        entry = config.get(policy, PolicyConfigEntry())
        config[policy] = PolicyConfigEntry(entry.level, {**entry.properties, **properties})
    return analyze(resources, PACK, config)


def messages(violations: Sequence[Violation], policy: str | None = None) -> list[str]:
    return [v.message for v in violations if policy is None or v.policy == policy]


def _apply(spec: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(spec)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def pack_copy(tmp_path: Path, main: str) -> Path:
    """A throw-away policy pack whose __main__.py is ``main``."""
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "__main__.py").write_text(main)
    return pack
