"""Kubernetes workload and object rules: one named validator per rule, each filtering on full type
tokens and skipping values that are missing or unknown during preview."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from pulumi_policy import ReportViolation, ResourceValidationArgs

from credentials import credential_in_value, looks_like_credential
from flutter_app_policies.common import (
    LONG_RUNNING,
    STRICT_ENVIRONMENTS,
    UNKNOWN,
    containers,
    elements,
    entries,
    environment,
    get,
    known_str,
    kubernetes_label,
    pod_spec,
    strings,
)

SERVICE: Final = "kubernetes:core/v1:Service"
CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"

# Environments where a Service may be of type LoadBalancer unless the config says otherwise:
# dev and test are short-lived and reached directly; staging and production take traffic only
# through the Istio ingress gateway.
LOAD_BALANCER_DEFAULTS: Final = {"dev": True, "test": True, "staging": False, "production": False}

# A release version: 1.4.2, v1.4.2, 1.4.2-rc.1, 1.4.2+build.7 (MAJOR.MINOR.PATCH, semver-ish).
VERSION_TAG: Final = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")


def _label(args: ResourceValidationArgs) -> str:
    return kubernetes_label(args.resource_type, args.props, args.name)


def container_resources(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every container (init containers too) sets CPU and memory requests and limits."""
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for container in containers(spec):
        missing = [
            f"resources.{side}.{kind}"
            for side in ("requests", "limits")
            for kind in ("cpu", "memory")
            if get(container.spec, "resources", side, kind) is None
        ]
        if missing:
            report_violation(f"{_label(args)}: {container.where} has no {', '.join(missing)}", None)


def container_probes(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every container of a long-running workload has a liveness and a readiness probe."""
    if args.resource_type not in LONG_RUNNING:
        return
    spec = pod_spec(args.resource_type, args.props)
    for container in containers(spec, init=False):
        missing = [p for p in ("livenessProbe", "readinessProbe") if get(container.spec, p) is None]
        if missing:
            report_violation(f"{_label(args)}: {container.where} has no {' and no '.join(missing)}", None)


def _image_problem(image: str, strict: bool) -> str | None:
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    if digest:
        return None
    if tag is None:
        return "has no tag (it would run whatever is latest); pin a version tag or a digest"
    if tag == "latest":
        return "uses the tag 'latest'; pin a version tag or a digest"
    if strict and not VERSION_TAG.match(tag):
        return f"has tag '{tag}', which is not a version (such as 1.4.2 or v1.4.2); pin a version or a digest"
    return None


def image_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Images name a tag other than latest, or a digest; in staging/production a version or digest."""
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    strict = environment(args.get_config()) in STRICT_ENVIRONMENTS
    for container in containers(spec):
        image = get(container.spec, "image")
        if image is None:
            report_violation(f"{_label(args)}: {container.where} has no image", None)
        elif isinstance(image, str):
            problem = _image_problem(image, strict)
            if problem:
                report_violation(f"{_label(args)}: {container.where} image {image} {problem}", None)


def pod_run_as_non_root(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every container runs as non-root: runAsNonRoot true (container or pod), never user 0."""
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    pod_non_root = get(spec, "securityContext", "runAsNonRoot")
    pod_user = get(spec, "securityContext", "runAsUser")
    for container in containers(spec):
        non_root = get(container.spec, "securityContext", "runAsNonRoot")
        user = get(container.spec, "securityContext", "runAsUser")
        effective = pod_non_root if non_root is None else non_root
        effective_user = pod_user if user is None else user
        if effective is UNKNOWN or effective_user is UNKNOWN:
            continue
        if non_root is False:
            report_violation(
                f"{_label(args)}: {container.where} sets securityContext.runAsNonRoot: false", None
            )
        elif effective is not True:
            report_violation(
                f"{_label(args)}: {container.where} may run as root: set securityContext.runAsNonRoot: "
                "true on the container or the pod",
                None,
            )
        if effective_user == 0 and not isinstance(effective_user, bool):
            field = "securityContext.runAsUser" if user is not None else "the pod's securityContext.runAsUser"
            report_violation(f"{_label(args)}: {container.where} runs as user 0 (root) from {field}", None)


def no_privileged_containers(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No container is privileged or allows privilege escalation."""
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for container in containers(spec):
        for field in ("privileged", "allowPrivilegeEscalation"):
            if get(container.spec, "securityContext", field) is True:
                report_violation(
                    f"{_label(args)}: {container.where} sets securityContext.{field}: true", None
                )


def no_host_namespaces(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Pods do not share the node's network, process or IPC namespace."""
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if get(spec, field) is True:
            report_violation(f"{_label(args)}: pod spec sets {field}: true", None)


def no_host_path_volumes(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Pods mount no hostPath volume (the node's file system)."""
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for index, volume in elements(spec, "volumes"):
        host_path = get(volume, "hostPath")
        if host_path is not None and host_path is not UNKNOWN:
            name = known_str(get(volume, "name"))
            path = known_str(get(volume, "hostPath", "path"))
            report_violation(
                f"{_label(args)}: volumes[{index}]{f' ({name})' if name else ''} is a hostPath volume"
                + (f" on {path}" if path else ""),
                None,
            )


def load_balancer_services(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Services of type LoadBalancer only where the environment allows them (allowLoadBalancer)."""
    if args.resource_type != SERVICE or get(args.props, "spec", "type") != "LoadBalancer":
        return
    config = args.get_config()
    env = environment(config)
    allowed = config.get("allowLoadBalancer")
    if not isinstance(allowed, bool):
        allowed = LOAD_BALANCER_DEFAULTS[env]
    if not allowed:
        report_violation(
            f"{_label(args)}: spec.type is LoadBalancer, which {env} does not allow "
            "(route traffic through the Istio ingress gateway, or set allowLoadBalancer in the policy config)",
            None,
        )


HEALTH_GATE: Final = "pulumi-python:dynamic/gates:HealthGate"


def no_plaintext_credentials(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No credential in plain config: not as a ConfigMap key or value, not as a container env var
    with a plain value (by name or by value), not in a HealthGate's spec (stored in plain text)."""
    if args.resource_type == CONFIG_MAP:
        for field in ("data", "binaryData"):
            for key, value in entries(args.props, field):
                if looks_like_credential(key):
                    report_violation(
                        f"{_label(args)}: {field} key {key} looks like a credential; keep it in a Secret",
                        None,
                    )
                elif isinstance(value, str) and (kind := credential_in_value(value)):
                    report_violation(
                        f"{_label(args)}: {field} key {key} holds {kind}; keep it in a Secret", None
                    )
        return
    if args.resource_type == HEALTH_GATE:
        for path, text in strings(get(args.props, "spec"), "spec"):
            if kind := credential_in_value(text):
                report_violation(f"HealthGate {args.name}: {path} holds {kind}, stored in plain text", None)
        return
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for container in containers(spec):
        for index, variable in elements(container.spec, "env"):
            if not isinstance(variable, Mapping):
                continue
            name = known_str(get(variable, "name"))
            value = known_str(get(variable, "value"))
            if name and looks_like_credential(name) and get(variable, "value") is not None:
                report_violation(
                    f"{_label(args)}: {container.where} env[{index}] {name} has a plain value; "
                    "take it from a Secret (valueFrom.secretKeyRef)",
                    None,
                )
            elif name and value and (kind := credential_in_value(value)):
                report_violation(
                    f"{_label(args)}: {container.where} env[{index}] {name} holds {kind} in a plain value; "
                    "take it from a Secret (valueFrom.secretKeyRef)",
                    None,
                )
