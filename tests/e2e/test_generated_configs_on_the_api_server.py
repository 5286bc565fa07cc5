"""The property test of tests/program/test_generated_configs.py with the sandbox's API server as one
more judge: whatever `rollout render` writes with exit 0 (or 3) must also be taken by a real
kube-apiserver (`kubectl apply --server-side --dry-run=server`: its validation, defaulting and
admission), with the Istio and PodMonitor CRDs installed. Refused configs still exit 2."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from rollout.offline.render import to_yaml
from tests.e2e.sandbox import Sandbox
from tests.program.test_generated_configs import (
    test_every_generated_config_renders_valid_manifests_or_exits_2 as test_generated_configs_pass_the_api_server,
)
from tests.program.test_generated_configs import workdir
from tests.support.apiserver import Refusals

__all__ = ["refusals", "test_generated_configs_pass_the_api_server", "workdir"]


def server_refusals(sandbox: Sandbox) -> Any:
    """A checker: the manifests in a namespace of their own, dry-run by the API server."""

    def check(manifests: Sequence[dict[str, Any]]) -> list[str]:
        namespace = f"gen-{uuid.uuid4().hex[:8]}"
        objects = []
        for manifest in manifests:
            copy = dict(manifest, metadata=dict(manifest.get("metadata") or {}))
            # The namespace is created for real (a dry run cannot create what later objects need);
            # the Namespace object is still dry-run against it, with its labels.
            if copy.get("kind") == "Namespace":
                copy["metadata"]["name"] = namespace
            elif "namespace" in copy["metadata"]:
                copy["metadata"]["namespace"] = namespace
            objects.append(copy)
        sandbox.kubectl("create", "namespace", namespace)
        try:
            result = sandbox.run(
                ["kubectl", "apply", "--server-side", "--dry-run=server", "--field-manager=e2e", "-f", "-"],
                input=to_yaml(objects),
                check=False,
                timeout=120,
            )
        finally:
            sandbox.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        if result.returncode == 0:
            return []
        return [f"API server: {line}" for line in result.stderr.splitlines() if line.strip()]

    return check


@pytest.fixture(scope="module")
def refusals(sandbox: Sandbox) -> Refusals:
    return Refusals([*Refusals().checkers, server_refusals(sandbox)])
