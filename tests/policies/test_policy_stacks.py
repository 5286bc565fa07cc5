"""The project's own stacks against the policy pack: the real program rendered offline
(rollout.offline: load_stack_config + run_program), then the real pack through pulumi_policy's
analyzer servicer with the environment's policy config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollout.offline.policy import check_policies
from tests.policies.builders import PACK
from tests.support.project import ROOT, STACKS, edit_stack, run_stack


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_without_a_mandatory_violation(stack: str) -> None:
    violations = check_policies(run_stack(ROOT, stack), stack, PACK)
    assert [v for v in violations if v.level == "mandatory"] == []


def set_image(image: str) -> Any:
    def change(config: dict[str, Any]) -> None:
        for app in config["flutter-app:apps"].values():
            app["image"] = image

    return change


def test_a_production_image_tagged_latest_is_a_mandatory_violation(project: Path) -> None:
    edit_stack(project, "production", set_image("ghcr.io/example/flutter-app:latest"))
    run = run_stack(project, "production")
    violations = check_policies(run, "production", PACK)
    mandatory = [v for v in violations if v.level == "mandatory"]
    assert mandatory, "an image tagged latest must block production"
    assert {v.policy for v in mandatory} == {"image-pinned"}
    deployments = [r for r in run.resources if r.type == "kubernetes:apps/v1:Deployment"]
    assert len(mandatory) == len(deployments)
    for violation in mandatory:
        assert violation.type == "kubernetes:apps/v1:Deployment"
        assert violation.message.startswith("Deployment flutter-app-production/")
        assert violation.message.endswith(
            "containers[0] (flutter-app) image ghcr.io/example/flutter-app:latest uses the tag 'latest'; "
            "pin a version tag or a digest"
        )


def test_the_same_image_in_dev_is_only_advisory(project: Path) -> None:
    edit_stack(project, "dev", set_image("ghcr.io/example/flutter-app:latest"))
    violations = check_policies(run_stack(project, "dev"), "dev", PACK)
    assert violations
    assert {(v.policy, v.level) for v in violations} == {("image-pinned", "advisory")}


def test_a_branch_tag_passes_in_test_but_not_in_staging(project: Path) -> None:
    for stack in ("test", "staging"):
        edit_stack(project, stack, set_image("ghcr.io/example/flutter-app:develop"))
    assert check_policies(run_stack(project, "test"), "test", PACK) == []
    staging = check_policies(run_stack(project, "staging"), "staging", PACK)
    assert staging
    assert {(v.policy, v.level) for v in staging} == {("image-pinned", "mandatory")}
    assert all("has tag 'develop', which is not a version" in v.message for v in staging)


def test_a_production_canary_at_one_replica_passes_and_its_routes_are_checked(project: Path) -> None:
    def canary(config: dict[str, Any]) -> None:
        config["flutter-app:apps"]["flutter-app"].update(
            strategy="canary",
            canary={"image": "ghcr.io/example/flutter-app:1.5.0", "weight": 5},
            expose={"hosts": ["app.example.com"]},  # previewHosts are blue/green's
        )

    edit_stack(project, "production", canary)
    run = run_stack(project, "production")
    types = {r.type for r in run.resources}
    assert "kubernetes:networking.istio.io/v1:VirtualService" in types
    assert "kubernetes:networking.istio.io/v1:DestinationRule" in types
    assert check_policies(run, "production", PACK) == []


def test_a_public_production_eks_endpoint_is_a_mandatory_violation(project: Path) -> None:
    def public(config: dict[str, Any]) -> None:
        config.setdefault("flutter-app:cluster", {})["endpointPublicAccess"] = True

    edit_stack(project, "production", public)
    violations = check_policies(run_stack(project, "production"), "production", PACK)
    assert [(v.policy, v.level, v.type) for v in violations] == [
        ("eks-private-endpoint", "mandatory", "aws:eks/cluster:Cluster")
    ]
    assert violations[0].message.endswith(
        ": vpcConfig.endpointPublicAccess is true; production needs a private endpoint "
        "(endpointPublicAccess: false, endpointPrivateAccess: true)"
    )
