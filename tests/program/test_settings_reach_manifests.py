"""What issue 15's decisions let through reaches the manifests as meant: the namespace quota from
stack config, probe paths joined after the URL's path, names exactly at Kubernetes' limits, and
names that refer to a credential without holding one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.profiles import QUOTA_DEFAULTS
from rollout.offline.engine import ProgramRun
from rollout.offline.render import clean, manifests
from tests.support.apiserver import Refusals
from tests.support.project import ROOT, STACKS, edit_stack, run_stack

TODAY = {
    "production": ("8", "16Gi", "16", "32Gi", "60"),
    "staging": ("4", "8Gi", "8", "16Gi", "30"),
    "test": ("2", "4Gi", "4", "8Gi", "20"),
    "dev": ("2", "4Gi", "4", "8Gi", "20"),
}


def quota(run: ProgramRun) -> dict[str, str]:
    hard: dict[str, str] = next(m for m in manifests(run.resources) if m["kind"] == "ResourceQuota")["spec"][
        "hard"
    ]
    return hard


@pytest.mark.parametrize("stack", STACKS)
def test_the_quota_defaults_are_todays_values(stack: str) -> None:
    cpu, memory, limit_cpu, limit_memory, pods = TODAY[stack]
    assert quota(run_stack(ROOT, stack)) == {
        "requests.cpu": cpu,
        "requests.memory": memory,
        "limits.cpu": limit_cpu,
        "limits.memory": limit_memory,
        "pods": pods,
        "services.loadbalancers": "0",
    }
    assert set(QUOTA_DEFAULTS) == set(STACKS)


def test_ten_production_apps_deploy_with_a_larger_quota_in_stack_config(project: Path) -> None:
    def ten_apps(config: dict[str, Any]) -> None:
        config["flutter-app:apps"] = {f"app{i}": {"image": "ghcr.io/example/app:1.0.0"} for i in range(10)}
        config["flutter-app:namespaceQuota"] = {
            "requests": {"cpu": "40", "memory": "64Gi"},
            "limits": {"cpu": "80", "memory": "128Gi"},
            "pods": 200,
        }

    edit_stack(project, "production", ten_apps)
    run = run_stack(project, "production")
    assert quota(run) == {
        "requests.cpu": "40",
        "requests.memory": "64Gi",
        "limits.cpu": "80",
        "limits.memory": "128Gi",
        "pods": "200",
        "services.loadbalancers": "0",
    }
    deployments = [m for m in manifests(run.resources) if m["kind"] == "Deployment"]
    assert len(deployments) == 20  # blue and green of each


def test_a_probe_path_with_a_query_is_joined_after_the_urls_path(project: Path) -> None:
    edit_stack(
        project,
        "dev",
        lambda c: c["flutter-app:apps"]["flutter-app"].update(
            gate={"url": "https://dev.example.com/web/", "probePath": "/health?full=1"}
        ),
    )
    run = run_stack(project, "dev")
    gate = next(r for r in run.resources if r.name == "flutter-app-live-gate")
    assert [p["url"] for p in clean(gate.inputs["spec"])["probes"]] == [
        "https://dev.example.com/web/health?full=1"
    ]


@pytest.mark.parametrize(
    ("stack", "name", "strategy"),
    [
        ("production", "p" * 52, "blue-green"),  # app.kubernetes.io/instance: 52 + "-production" = 63
        ("dev", "d" * 55, "rolling"),
        ("staging", "s" * 55, "canary"),  # "-staging" and "-canary": 63 and 62
    ],
)
def test_names_at_the_limits_render_objects_the_api_server_takes(
    project: Path, stack: str, name: str, strategy: str
) -> None:
    def longest(config: dict[str, Any]) -> None:
        config["flutter-app:apps"] = {name: {"image": "ghcr.io/example/app:1.0.0", "strategy": strategy}}

    edit_stack(project, stack, longest)
    objects = manifests(run_stack(project, stack).resources)
    assert Refusals()(objects) == []
    assert max(
        len(m["metadata"]["labels"]["app.kubernetes.io/instance"])
        for m in objects
        if m["kind"] == "Deployment"
    ) == len(f"{name}-{stack}")


def test_names_that_refer_to_a_credential_are_plain_config(project: Path) -> None:
    env = {
        "TOKEN_URL": "https://auth.example.com/token",
        "SECRET_NAME": "flutter-app-secrets",
        "CONTACT": "ops@example.com",
    }
    edit_stack(project, "dev", lambda c: c["flutter-app:apps"]["flutter-app"].update(env=env))
    container = next(m for m in manifests(run_stack(project, "dev").resources) if m["kind"] == "Deployment")
    values = {
        e["name"]: e.get("value") for e in container["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert {k: values[k] for k in env} == env
