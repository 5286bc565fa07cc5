"""The real __main__.py under the SDK's mock monitor: the resource graph, parents, the explicit
provider, labels, the guide's production values, secrets, and nothing declared on bad config."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi.runtime import rpc

from components.validation import ConfigError
from rollout.offline.engine import ProgramRun, Registration
from tests.support.project import ROOT, edit_stack, run_stack


def by_type(run: ProgramRun, token: str) -> list[Registration]:
    return [r for r in run.resources if r.type == token]


def one(run: ProgramRun, token: str) -> Registration:
    found = by_type(run, token)
    assert len(found) == 1, f"expected one {token}, got {[r.name for r in found]}"
    return found[0]


@pytest.fixture(scope="module")
def production() -> ProgramRun:
    return run_stack(ROOT, "production")


def deployment(run: ProgramRun, name: str) -> Registration:
    return next(
        r for r in by_type(run, "kubernetes:apps/v1:Deployment") if r.inputs["metadata"]["name"] == name
    )


@pytest.mark.parametrize("colour", ["blue", "green"])
def test_production_deployments_have_the_guides_values_exactly(production: ProgramRun, colour: str) -> None:
    spec = deployment(production, f"flutter-app-{colour}").inputs["spec"]
    assert spec["replicas"] == 6
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1},
    }
    (container,) = spec["template"]["spec"]["containers"]
    assert container["resources"] == {
        "requests": {"memory": "256Mi", "cpu": "250m"},
        "limits": {"memory": "512Mi", "cpu": "500m"},
    }
    assert container["ports"][0]["containerPort"] == 8080
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert (
        container["livenessProbe"]["initialDelaySeconds"],
        container["livenessProbe"]["periodSeconds"],
    ) == (30, 10)
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert (
        container["readinessProbe"]["initialDelaySeconds"],
        container["readinessProbe"]["periodSeconds"],
    ) == (5, 5)
    for service in by_type(production, "kubernetes:core/v1:Service"):
        assert service.inputs["spec"]["ports"] == [
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
        ]


def test_pods_run_as_non_root_with_no_privileges(production: ProgramRun) -> None:
    pod = deployment(production, "flutter-app-blue").inputs["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert not any(k in pod for k in ("hostNetwork", "hostPID", "hostIPC"))


def test_every_kubernetes_resource_uses_the_explicit_provider(production: ProgramRun) -> None:
    provider = one(production, "pulumi:providers:kubernetes")
    kubernetes = [r for r in production.resources if r.type.startswith("kubernetes:")]
    assert len(kubernetes) >= 7
    for resource in kubernetes:
        assert resource.provider.startswith(provider.urn + "::"), (
            f"{resource.name} uses {resource.provider!r}"
        )


def test_children_are_parented_to_their_component(production: ProgramRun) -> None:
    components = {r.urn: r for r in production.resources if not r.custom}
    environment = next(r for r in components.values() if r.type == "flutter-app:platform:Environment")
    release = next(r for r in components.values() if r.type == "flutter-app:release:BlueGreenRelease")
    parents = {r.name: r.parent for r in production.resources if r.custom}
    for name in ("production-namespace", "production-config", "production-quota", "production-limits"):
        assert parents[name] == environment.urn
    for name in (
        "flutter-app-blue",
        "flutter-app-green",
        "flutter-app-live",
        "flutter-app-preview",
        "flutter-app-pdb",
    ):
        assert parents[name] == release.urn


def app_objects(run: ProgramRun) -> list[Registration]:
    """Kubernetes objects of the app's environment (not the cluster add-ons)."""
    addons = {r.urn for r in run.resources if r.type == "flutter-app:platform:PlatformAddons"}
    return [r for r in run.resources if r.type.startswith("kubernetes:") and r.parent not in addons]


def test_namespaced_objects_depend_on_the_namespace(production: ProgramRun) -> None:
    namespace = one(production, "kubernetes:core/v1:Namespace")
    for resource in app_objects(production):
        if resource is not namespace:
            assert resource.inputs["metadata"]["namespace"] == "flutter-app-production"
            assert namespace.urn in resource.dependencies, resource.name


def test_standard_labels_everywhere(production: ProgramRun) -> None:
    for resource in app_objects(production):
        if resource.type.startswith("kubernetes:"):
            labels = resource.inputs["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "pulumi"
            assert labels["app.kubernetes.io/part-of"] == "flutter-app"
            assert labels["environment"] == "production"


def test_config_map_carries_the_environment_table(production: ProgramRun) -> None:
    data = one(production, "kubernetes:core/v1:ConfigMap").inputs["data"]
    assert data == {
        "APP_ENVIRONMENT": "production",
        "API_BASE_URL": "https://api.example.com",
        "API_TIMEOUT_SECONDS": "10",
        "API_RETRIES": "2",
        "DATABASE_HOST": "prod-db.example.com",
        "DATABASE_PORT": "5432",
        "DATABASE_NAME": "flutter_app_prod",
        "LOG_LEVEL": "error",
        "LOG_SINKS": "file",
        "FEATURE_NEW_UI": "false",
        "FEATURE_BETA": "false",
        "FEATURE_ANALYTICS": "true",
        "DEBUG_MODE": "false",
        "ANALYTICS_ENABLED": "true",
    }


@pytest.mark.parametrize(
    ("stack", "deployments"),
    [
        ("dev", ["flutter-app"]),
        ("test", ["flutter-app"]),
        ("staging", ["flutter-app-canary", "flutter-app-stable"]),
        ("production", ["flutter-app-blue", "flutter-app-green"]),
    ],
)
def test_every_stack_declares_its_strategys_deployments(stack: str, deployments: list[str]) -> None:
    run = run_stack(ROOT, stack)
    found = by_type(run, "kubernetes:apps/v1:Deployment")
    assert sorted(d.inputs["metadata"]["name"] for d in found) == deployments
    assert all(d.inputs["metadata"]["namespace"] == f"flutter-app-{stack}" for d in found)
    assert run.outputs["environment"] == stack
    assert by_type(run, "kubernetes:policy/v1:PodDisruptionBudget")


def test_dev_and_test_run_smaller_pods() -> None:
    for stack, replicas in (("dev", 1), ("test", 2)):
        spec = one(run_stack(ROOT, stack), "kubernetes:apps/v1:Deployment").inputs["spec"]
        assert spec["replicas"] == replicas
        assert spec["template"]["spec"]["containers"][0]["resources"]["limits"] == {
            "cpu": "250m",
            "memory": "256Mi",
        }


def test_secrets_become_a_secret_and_secret_key_refs(project: Path) -> None:
    edit_stack(
        project,
        "staging",
        lambda c: c.update(
            {
                "flutter-app:databasePassword": {"secure": "v1:AAAA"},
                "flutter-app:firebaseApiKey": {"secure": "v1:BBBB"},
            }
        ),
    )
    run = run_stack(project, "staging", secrets={"flutter-app:databasePassword": "hunter2-plain"})
    secret = one(run, "kubernetes:core/v1:Secret")
    assert rpc.is_rpc_secret(secret.inputs["stringData"])
    assert set(rpc.unwrap_rpc_secret(secret.inputs["stringData"])) == {
        "DATABASE_PASSWORD",
        "FIREBASE_API_KEY",
    }
    env = deployment(run, "flutter-app-stable").inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e}
    assert refs == {
        "DATABASE_PASSWORD": {"name": "flutter-app-secrets", "key": "DATABASE_PASSWORD"},
        "FIREBASE_API_KEY": {"name": "flutter-app-secrets", "key": "FIREBASE_API_KEY"},
    }
    assert "hunter2-plain" not in repr([d.inputs for d in by_type(run, "kubernetes:apps/v1:Deployment")])
    assert not run.warnings


def test_missing_secrets_are_warned_about_not_invented() -> None:
    run = run_stack(ROOT, "dev")
    assert not by_type(run, "kubernetes:core/v1:Secret")
    assert any("flutter-app:databasePassword is not set" in w for w in run.warnings)


def test_bad_config_declares_nothing(project: Path) -> None:
    def break_it(config: dict) -> None:
        config["flutter-app:apps"]["flutter-app"]["replicas"] = -3

    edit_stack(project, "production", break_it)
    with pytest.raises(ConfigError) as caught:
        run_stack(project, "production")
    assert "flutter-app:apps.flutter-app.replicas" in str(caught.value)
    assert caught.value.problems


def test_plaintext_credential_in_stack_file_is_rejected(project: Path) -> None:
    edit_stack(project, "dev", lambda c: c.update({"flutter-app:databasePassword": "hunter2"}))
    with pytest.raises(
        ConfigError, match="flutter-app:databasePassword: is a credential stored in plaintext"
    ):
        run_stack(project, "dev")


def test_autoscaled_app_leaves_replicas_to_the_hpa(project: Path) -> None:
    def autoscale(config: dict) -> None:
        config["flutter-app:apps"]["flutter-app"].update(
            strategy="rolling",
            autoscaling={"minReplicas": 6, "maxReplicas": 12},
            expose={"hosts": ["app.example.com"]},  # previewHosts are blue/green's
        )

    edit_stack(project, "production", autoscale)
    run = run_stack(project, "production")
    assert "replicas" not in one(run, "kubernetes:apps/v1:Deployment").inputs["spec"]
    hpa = one(run, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (6, 12)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "flutter-app"}


def test_two_apps_in_one_stack(project: Path) -> None:
    def add_api(config: dict) -> None:
        config["flutter-app:apps"]["api"] = {
            "image": "ghcr.io/example/flutter-api:2.0.0",
            "containerPort": 9000,
        }

    edit_stack(project, "test", add_api)
    run = run_stack(project, "test")
    names = sorted(r.inputs["metadata"]["name"] for r in by_type(run, "kubernetes:apps/v1:Deployment"))
    assert names == ["api", "flutter-app"]


def test_gate_credentials_are_accepted_as_secrets_only(project: Path) -> None:
    edit_stack(project, "staging", lambda c: c.update({"flutter-app:gateWebhookUrl": {"secure": "v1:AAAA"}}))
    run_stack(project, "staging", secrets={"flutter-app:gateWebhookUrl": "https://hooks.invalid/x"})
    edit_stack(project, "staging", lambda c: c.update({"flutter-app:prometheusToken": "plain-token"}))
    with pytest.raises(ConfigError, match="flutter-app:prometheusToken: is a credential stored in plaintext"):
        run_stack(project, "staging")
