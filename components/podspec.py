"""Pure builders for the pod template every strategy deploys (rolling, blue/green, canary).

They return pulumi_kubernetes ``*ArgsDict`` values (typed, snake_case; the SDK sends camelCase),
so the same hardened pod is declared whichever Deployment carries it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.app_env import feature_env
from components.app_settings import AppSettings, Probe
from components.names import instance_label
from components.settings import PROJECT

# A fixed non-root identity: the image's user does not matter, the pod never runs as root.
RUN_AS_USER = 10001
PORT_NAME = "http"
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
"""The annotation that tells the Kubernetes provider not to wait for an object to become ready."""


@dataclass(frozen=True)
class PodInputs:
    """What a pod needs besides the app settings: where its config and secrets live."""

    app_name: str
    environment: str
    config_map_name: pulumi.Input[str]
    secret_name: pulumi.Input[str] | None
    secret_env: Sequence[str]


def standard_labels(app_name: str, environment: str, component: str) -> dict[str, str]:
    """Labels on every object (app.kubernetes.io/* recommended labels plus the environment)."""
    return {
        "app.kubernetes.io/name": app_name,
        "app.kubernetes.io/instance": instance_label(app_name, environment),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PROJECT,
        "app.kubernetes.io/managed-by": "pulumi",
        "environment": environment,
    }


def _probe(probe: Probe) -> k8s.core.v1.ProbeArgsDict:
    return {
        "http_get": {"path": probe.path, "port": PORT_NAME},
        "initial_delay_seconds": probe.initial_delay_seconds,
        "period_seconds": probe.period_seconds,
        "timeout_seconds": probe.timeout_seconds,
        "failure_threshold": probe.failure_threshold,
    }


def _env(app: AppSettings, inputs: PodInputs, track: str) -> list[k8s.core.v1.EnvVarArgsDict]:
    # The names are app_env.POD_ENV's; the settings refuse an app env var that reuses any name here.
    env: list[k8s.core.v1.EnvVarArgsDict] = [
        {"name": "APP_NAME", "value": inputs.app_name},
        {"name": "APP_TRACK", "value": track},
    ]
    env += [{"name": name, "value": value} for name, value in sorted(app.env.items())]
    env += [
        {"name": feature_env(flag), "value": str(enabled).lower()}
        for flag, enabled in sorted(app.feature_flags.items())
    ]
    if inputs.secret_name is not None:
        env += [
            {"name": key, "value_from": {"secret_key_ref": {"name": inputs.secret_name, "key": key}}}
            for key in inputs.secret_env
        ]
    return env


def container(app: AppSettings, inputs: PodInputs, image: str, track: str) -> k8s.core.v1.ContainerArgsDict:
    """The app container: pinned image, named port, probes, resources, locked-down security context."""
    return {
        "name": inputs.app_name,
        "image": image,
        "image_pull_policy": "IfNotPresent",
        "ports": [{"name": PORT_NAME, "container_port": app.container_port, "protocol": "TCP"}],
        "env_from": [{"config_map_ref": {"name": inputs.config_map_name}}],
        "env": _env(app, inputs, track),
        "resources": {
            "requests": {"cpu": app.resources.requests.cpu, "memory": app.resources.requests.memory},
            "limits": {"cpu": app.resources.limits.cpu, "memory": app.resources.limits.memory},
        },
        "liveness_probe": _probe(app.liveness),
        "readiness_probe": _probe(app.readiness),
        "security_context": {
            "allow_privilege_escalation": False,
            "privileged": False,
            "read_only_root_filesystem": True,
            "run_as_non_root": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
    }


def pod_template(
    app: AppSettings,
    inputs: PodInputs,
    *,
    image: str,
    labels: Mapping[str, str],
    track: str,
) -> k8s.core.v1.PodTemplateSpecArgsDict:
    """A pod template that runs as non-root with no host access and spreads across zones."""
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "automount_service_account_token": False,
            "security_context": {
                "run_as_non_root": True,
                "run_as_user": RUN_AS_USER,
                "run_as_group": RUN_AS_USER,
                "fs_group": RUN_AS_USER,
                "seccomp_profile": {"type": "RuntimeDefault"},
            },
            "containers": [container(app, inputs, image, track)],
            "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}],
            "topology_spread_constraints": [
                {
                    "max_skew": 1,
                    "topology_key": "topology.kubernetes.io/zone",
                    "when_unsatisfiable": "ScheduleAnyway",
                    "label_selector": {
                        "match_labels": {k: labels[k] for k in ("app", "version") if k in labels}
                    },
                }
            ],
        },
    }
