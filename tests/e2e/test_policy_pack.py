"""The policy pack loaded by the real engine: production's mandatory pack stops a violation at
`pulumi preview`, before anything reaches the cluster. (The dev, blue/green and canary modules'
first `pulumi up` loads their environment's pack: compliant stacks pass it.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.sandbox import Project
from tests.e2e.stacks import namespace, policy_pack, sandbox_config
from tests.support.app import FaultyApp


@pytest.fixture(scope="module")
def app() -> Iterator[FaultyApp]:
    server = FaultyApp()
    yield server
    server.stop()


def test_production_policy_violation_fails_the_real_preview(e2e_project: Project, app: FaultyApp) -> None:
    ns = namespace("violation")
    config = sandbox_config("production", ns, app.url, image="ghcr.io/example/flutter-app:main")
    stack = e2e_project.new_stack("prod-violation", config)
    result = e2e_project.pulumi("preview", *policy_pack("production"), stack=stack, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "image-pinned" in output
    assert "mandatory" in output
    assert e2e_project.sandbox.get("namespace", ns) is None
