"""An API server that stops answering in the middle of a release (what `kill -STOP` does to a
kube-apiserver: connections accepted, nothing answered), under the real engine: the step fails
within the provider's timeouts with the cause in one line, nothing reaches the cluster, no lock
stays, and once the API server answers again the same release, run again, completes.

The stack reaches the sandbox's API server through a relay that can pause (standins.py): pausing
the sandbox's own kube-apiserver stalls every test running beside this one."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.processes import Running
from tests.e2e.sandbox import Project
from tests.e2e.stacks import APP, GATE_SPEC, namespace, sandbox_config
from tests.e2e.standins import PausableApiServer
from tests.support.app import FaultyApp

REPO = "ghcr.io/example/flutter-app"
SECRET = "e2e-paused-key-51c2"  # a test value, not a credential


@pytest.fixture(scope="module")
def relay(
    e2e_project: Project, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[PausableApiServer, dict[str, str]]]:
    sandbox = e2e_project.sandbox
    server = PausableApiServer(sandbox.binding()["apiServer"])
    document = yaml.safe_load(Path(sandbox.env["KUBECONFIG"]).read_text())
    for cluster in document["clusters"]:
        cluster["cluster"]["server"] = server.url
    kubeconfig = tmp_path_factory.mktemp("relay") / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(document))
    try:
        yield server, {**sandbox.env, "KUBECONFIG": str(kubeconfig)}
    finally:
        server.stop()


def test_a_step_whose_api_server_stops_answering_fails_with_its_cause_and_changes_nothing(
    e2e_project: Project, relay: tuple[PausableApiServer, dict[str, str]]
) -> None:
    server, env = relay
    app = FaultyApp()
    try:
        ns = namespace("paused")
        config = sandbox_config("dev", ns, app.url, gate={"url": app.url, "spec": GATE_SPEC})
        config["cluster"] = {**config["cluster"], **e2e_project.sandbox.binding(), "apiServer": server.url}
        stack = e2e_project.new_stack("paused", config, secrets={"firebaseApiKey": SECRET})
        e2e_project.pulumi("up", "--yes", "--skip-preview", stack=stack, env=env)
        before = e2e_project.sandbox.inventory(ns)
        release = Running(
            ["release", "--stack", stack, "--image", f"{REPO}:1.9.0", "--yes"], e2e_project.path, env
        )
        release.wait_for(r"\[1/1\] .*: preview plans")
        server.pause()
        try:
            code, out, err = release.finish(timeout=300)
        finally:
            server.resume()
        assert code == 1, out + err
        (cause,) = [line for line in err.splitlines() if line.startswith("[1/1]") and "FAILED" in line]
        assert "configured Kubernetes cluster is unreachable" in cause and "timeout" in cause, cause
        assert "Traceback" not in cause
        after = e2e_project.sandbox.inventory(ns)
        assert after == before  # the Namespace, every object (same UIDs), the images, the Secret
        assert base64.b64decode(after["secret"]["FIREBASE_API_KEY"]).decode() == SECRET
        backend = Path(env["PULUMI_BACKEND_URL"].removeprefix("file://"))
        assert not list((backend / ".pulumi" / "locks").glob(f"*/*/{stack}/*.json"))
        # Nothing to untangle: the same release, run again, completes.
        result = e2e_project.rollout(
            "release", "--stack", stack, "--image", f"{REPO}:1.9.0", "--yes", env=env
        )
        assert result.returncode == 0, result.stdout + result.stderr
        deployment = e2e_project.sandbox.get("deployment", APP, ns)
        assert deployment is not None
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{REPO}:1.9.0"
    finally:
        app.stop()
