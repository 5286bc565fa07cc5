"""`rollout render`: the files it writes, its exit codes and messages, secrets masked, and
every rendered manifest valid against the Kubernetes schema."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rollout.cli import main
from tests.support.project import ROOT, STACKS, edit_stack
from tests.support.schemas import KUBERNETES_VERSION, kubernetes_errors, manifest_errors


def rollout(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render")
    code, _stdout, stderr = rollout(
        "--cwd", str(ROOT), "render", *[f"--stack={s}" for s in STACKS], "--out", str(out)
    )
    assert code == 0, stderr
    return out


ENVIRONMENT_KINDS = [
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "ConfigMap",
    "NetworkPolicy",
    "NetworkPolicy",
]
STACK_KINDS = {
    "dev": ["Service", "Deployment", "PodDisruptionBudget", "Ingress"],
    "test": ["Service", "Deployment", "PodDisruptionBudget", "Ingress", "PodMonitor"],
    "staging": [
        *("Service", "Deployment", "Deployment", "PodDisruptionBudget", "DestinationRule", "VirtualService"),
        *("PodMonitor", "Gateway"),
    ],
    "production": [
        *("Service", "Service", "Deployment", "Deployment", "PodDisruptionBudget"),
        *("VirtualService", "VirtualService", "PodMonitor", "Gateway"),
    ],
}


@pytest.mark.parametrize("stack", STACKS)
def test_every_manifest_validates_against_the_kubernetes_and_crd_schemas(rendered: Path, stack: str) -> None:
    manifests = list(yaml.safe_load_all((rendered / stack / "manifests.yaml").read_text()))
    assert sorted(m["kind"] for m in manifests) == sorted(ENVIRONMENT_KINDS + STACK_KINDS[stack])
    errors = [e for m in manifests if (e := manifest_errors(m))]
    assert not errors, f"invalid against Kubernetes {KUBERNETES_VERSION} / the CRDs:\n" + "\n".join(errors)


def test_schema_check_does_reject_a_bad_manifest(rendered: Path) -> None:
    deployment = next(
        m
        for m in yaml.safe_load_all((rendered / "dev" / "manifests.yaml").read_text())
        if m["kind"] == "Deployment"
    )
    deployment["spec"]["replicas"] = "six"
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
    assert "Deployment" in (kubernetes_errors(deployment) or "")
    monitor = next(
        m
        for m in yaml.safe_load_all((rendered / "production" / "manifests.yaml").read_text())
        if m["kind"] == "PodMonitor"
    )
    monitor["spec"]["podMetricsEndpoints"][0]["intervall"] = "15s"
    monitor["spec"]["podTargetLabels"] = "app"
    errors = manifest_errors(monitor) or ""
    assert "intervall" in errors and "podTargetLabels" in errors


def test_manifests_are_in_apply_order_with_api_field_names(rendered: Path) -> None:
    text = (rendered / "production" / "manifests.yaml").read_text()
    manifests = list(yaml.safe_load_all(text))
    assert [m["kind"] for m in manifests][:3] == ["Namespace", "ResourceQuota", "LimitRange"]
    assert all(list(m)[:3] == ["apiVersion", "kind", "metadata"] for m in manifests)
    assert "matchLabels" in text and "match_labels" not in text
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 6 and isinstance(deployment["spec"]["replicas"], int)


def test_resources_json_lists_every_declared_resource(rendered: Path) -> None:
    resources = json.loads((rendered / "production" / "resources.json").read_text())
    assert {"type", "name", "parent", "dependsOn", "inputs"} <= set(resources[0])
    types = {r["type"] for r in resources}
    assert {
        "flutter-app:platform:Cluster",
        "pulumi:providers:kubernetes",
        "flutter-app:platform:Environment",
        "flutter-app:release:BlueGreenRelease",
        "kubernetes:apps/v1:Deployment",
    } <= types
    deployment = next(r for r in resources if r["type"] == "kubernetes:apps/v1:Deployment")
    assert deployment["parent"].endswith("flutter-app:release:BlueGreenRelease::flutter-app")
    assert any(
        d.endswith("kubernetes:core/v1:Namespace::production-namespace") for d in deployment["dependsOn"]
    )


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_resources_json_lists_the_aws_resources_of_eks_stacks(rendered: Path, stack: str) -> None:
    types = {r["type"] for r in json.loads((rendered / stack / "resources.json").read_text())}
    assert {
        "pulumi:providers:aws",
        "aws:ec2/vpc:Vpc",
        "aws:eks/cluster:Cluster",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:ecr/repository:Repository",
        "kubernetes:helm.sh/v3:Release",
    } <= types
    dev_types = {r["type"] for r in json.loads((rendered / "dev" / "resources.json").read_text())}
    assert not {t for t in dev_types if t.startswith(("aws:", "pulumi:providers:aws"))}


def test_render_is_deterministic(tmp_path: Path, rendered: Path) -> None:
    code, _, _ = rollout("--cwd", str(ROOT), "render", "--stack", "staging", "--out", str(tmp_path))
    assert code == 0
    for name in ("manifests.yaml", "resources.json"):
        assert (tmp_path / "staging" / name).read_text() == (rendered / "staging" / name).read_text()


def test_stdout_shows_the_resource_tree_and_stderr_the_warnings(tmp_path: Path) -> None:
    code, stdout, stderr = rollout("--cwd", str(ROOT), "render", "--stack", "dev", "--out", str(tmp_path))
    assert code == 0
    assert "dev: 16 resources, 10 Kubernetes objects" in stdout
    assert "└─ flutter-app:platform:Workload  flutter-app" in stdout
    assert "   ├─ kubernetes:apps/v1:Deployment  flutter-app-deployment" in stdout
    assert "warning: dev: flutter-app:firebaseApiKey is not set" in stderr


def test_secret_values_never_reach_the_files(project: Path, tmp_path: Path) -> None:
    from rollout.offline.render import manifests, resources_json, to_yaml
    from tests.support.project import run_stack

    edit_stack(
        project, "production", lambda c: c.update({"flutter-app:databasePassword": {"secure": "v1:AAAA"}})
    )
    run = run_stack(project, "production", secrets={"flutter-app:databasePassword": "hunter2-do-not-leak"})
    yaml_text, json_text = to_yaml(manifests(run.resources)), resources_json(run.resources)
    assert "hunter2-do-not-leak" not in yaml_text + json_text
    secret = next(m for m in yaml.safe_load_all(yaml_text) if m["kind"] == "Secret")
    assert secret["stringData"] == {"DATABASE_PASSWORD": "[secret]"}
    assert kubernetes_errors(secret) is None


def test_strings_kubectl_would_read_as_booleans_are_quoted() -> None:
    """Found by the sandbox's API server: an app named `n` got `app: n`, which kubectl (YAML 1.1
    as go-yaml reads it) takes for false; PyYAML reads it back as a string either way."""
    from rollout.offline.render import to_yaml

    labels = {"app": "n", "track": "y", "Y": "N", "flag": "yes", "name": "no-way"}
    text = to_yaml([{"metadata": {"labels": labels}}])
    assert "app: 'n'" in text and "track: 'y'" in text and "'Y': 'N'" in text
    assert "flag: 'yes'" in text and "name: no-way" in text
    assert yaml.safe_load(text)["metadata"]["labels"] == labels


def test_secure_values_render_masked_through_the_cli(project: Path, tmp_path: Path) -> None:
    edit_stack(
        project, "staging", lambda c: c.update({"flutter-app:firebaseApiKey": {"secure": "v1:c2VjcmV0"}})
    )
    code, _, stderr = rollout("--cwd", str(project), "render", "--stack", "staging", "--out", str(tmp_path))
    assert code == 0, stderr
    text = (tmp_path / "staging" / "manifests.yaml").read_text() + (
        tmp_path / "staging" / "resources.json"
    ).read_text()
    assert "v1:c2VjcmV0" not in text
    assert "FIREBASE_API_KEY: '[secret]'" in text


def test_bad_value_exits_2_naming_the_key_and_writes_nothing(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    edit_stack(
        project,
        "production",
        lambda c: c["flutter-app:apps"]["flutter-app"].update(replicas=0, strategy="blue"),
    )
    code, _stdout, stderr = rollout(
        "--cwd", str(project), "render", "--stack", "production", "--out", str(out)
    )
    assert code == 2
    assert "flutter-app:apps.flutter-app.replicas" in stderr and "(got 0)" in stderr
    assert "flutter-app:apps.flutter-app.strategy" in stderr
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) < 20
    assert not out.exists()


def test_a_bad_stack_leaves_earlier_output_untouched(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert rollout("--cwd", str(project), "render", "--stack", "dev", "--out", str(out))[0] == 0
    before = (out / "dev" / "manifests.yaml").read_text()
    edit_stack(project, "dev", lambda c: c.update({"flutter-app:logLevel": "loud"}))
    code, _, stderr = rollout(
        "--cwd", str(project), "render", "--stack", "test", "--stack", "dev", "--out", str(out)
    )
    assert code == 2 and "flutter-app:logLevel" in stderr
    assert (out / "dev" / "manifests.yaml").read_text() == before
    assert not (out / "test").exists()


def test_declared_type_mismatch_and_missing_key_exit_2_with_every_other_problem(
    project: Path, tmp_path: Path
) -> None:
    def change(config: dict) -> None:
        config["flutter-app:apiRetries"] = "two"
        del config["flutter-app:apiBaseUrl"]
        config["flutter-app:apps"]["flutter-app"]["replicas"] = True

    edit_stack(project, "test", change)
    code, _, stderr = rollout("--cwd", str(project), "render", "--stack", "test", "--out", str(tmp_path))
    assert code == 2
    # The declared-type problem does not hide the settings' problems, and no key is named twice.
    assert stderr.splitlines() == [
        "error: invalid config for stack 'test' (3 problems):",
        "  - flutter-app:apiBaseUrl: required (declared in Pulumi.yaml without a default) but not set in "
        "Pulumi.test.yaml",
        """  - flutter-app:apiRetries: must be of type 'integer' (got "two")""",
        "  - flutter-app:apps.flutter-app.replicas: Input should be a valid integer (got true)",
    ]


def test_unknown_stack_and_missing_project_exit_2(tmp_path: Path) -> None:
    code, _, stderr = rollout("--cwd", str(ROOT), "render", "--stack", "prod", "--out", str(tmp_path))
    assert (
        code == 2
        and "stack 'prod' has no Pulumi.prod.yaml; stacks here: dev, production, staging, test" in stderr
    )
    code, _, stderr = rollout("--cwd", str(tmp_path), "render", "--stack", "dev")
    assert code == 2 and "no Pulumi.yaml" in stderr


def test_bad_arguments_exit_2() -> None:
    code, _, stderr = rollout("render")
    assert code == 2 and "--stack" in stderr


def test_python_m_rollout_and_console_script_run_the_same_cli(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for command in ([sys.executable, "-m", "rollout"], [str(Path(sys.executable).parent / "rollout")]):
        result = subprocess.run(
            [*command, "render", "--stack", "dev", "--out", str(tmp_path / command[-1].replace("/", "_"))],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "dev: 16 resources" in result.stdout


def test_every_project_stack_passes_the_policy_pack(rendered: Path) -> None:
    code, stdout, stderr = rollout(
        "--cwd", str(ROOT), "render", *[f"--stack={s}" for s in STACKS], "--out", str(rendered)
    )
    assert code == 0, stderr
    assert stdout.count("policy: 0 mandatory") == len(STACKS)


def test_production_image_tagged_latest_exits_3_naming_the_policy(project: Path, tmp_path: Path) -> None:
    edit_stack(
        project,
        "production",
        lambda c: c["flutter-app:apps"]["flutter-app"].update(image="ghcr.io/example/flutter-app:latest"),
    )
    code, stdout, stderr = rollout(
        "--cwd", str(project), "render", "--stack", "production", "--out", str(tmp_path / "out")
    )
    assert code == 3
    assert "MANDATORY [image-pinned]" in stdout and "latest" in stdout
    assert "production: 2 mandatory policy violation(s)" in stderr  # the blue and the green Deployment
    assert (tmp_path / "out" / "production" / "manifests.yaml").is_file()  # what was rendered is still shown


def test_dev_violations_are_advisory_and_do_not_fail(project: Path, tmp_path: Path) -> None:
    edit_stack(
        project,
        "dev",
        lambda c: c["flutter-app:apps"]["flutter-app"].update(image="ghcr.io/example/flutter-app:latest"),
    )
    code, stdout, _ = rollout(
        "--cwd", str(project), "render", "--stack", "dev", "--out", str(tmp_path / "out")
    )
    assert code == 0
    assert "ADVISORY [image-pinned]" in stdout


def test_missing_policy_pack_is_a_clear_error(project: Path, tmp_path: Path) -> None:
    code, _, stderr = rollout(
        "--cwd", str(project), "render", "--stack", "dev", "--policy-pack", str(tmp_path / "nowhere")
    )
    assert code == 2 and "no policy pack at" in stderr
