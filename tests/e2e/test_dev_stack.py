"""The dev stack (rolling) through the real engine: preview with the policy pack loaded by the
engine, up, no perpetual diff, an image change, history, a secret end to end, destroy.

The steps share one stack and run in file order, as a user's session would."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.sandbox import Project
from tests.e2e.stacks import APP, GATE_SPEC, namespace, policy_pack, sandbox_config
from tests.support.app import FaultyApp

SECRET = "e2e-firebase-key-7f3a9c"  # a test value, not a credential
NEW_IMAGE = "ghcr.io/example/flutter-app:1.4.3"
POLICY = policy_pack("dev")


@dataclass
class Dev:
    project: Project
    stack: str
    namespace: str
    preview: str
    up: str


@pytest.fixture(scope="module")
def app() -> Iterator[FaultyApp]:
    server = FaultyApp()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dev(e2e_project: Project, app: FaultyApp) -> Dev:
    ns = namespace("dev")
    config = sandbox_config("dev", ns, app.url, gate={"url": app.url, "spec": GATE_SPEC})
    stack = e2e_project.new_stack("dev", config, secrets={"firebaseApiKey": SECRET})
    preview = e2e_project.pulumi("preview", *POLICY, stack=stack)
    up = e2e_project.pulumi("up", "--yes", "--skip-preview", *POLICY, stack=stack)
    return Dev(e2e_project, stack, ns, preview.stdout + preview.stderr, up.stdout + up.stderr)


def test_preview_ran_the_policy_pack_in_the_engine(dev: Dev) -> None:
    assert "flutter-app-policies" in dev.preview
    assert "Policies:" in dev.preview or "policy" in dev.preview.lower()


def test_up_created_every_object_and_the_deployment_is_available(dev: Dev) -> None:
    sandbox = dev.project.sandbox
    assert sandbox.get("namespace", dev.namespace) is not None
    for kind, name in [
        ("configmap", "flutter-app-config"),
        ("secret", "flutter-app-secrets"),
        ("resourcequota", "flutter-app-quota"),
        ("limitrange", "flutter-app-limits"),
        ("deployment", APP),
        ("service", APP),
        ("poddisruptionbudget", APP),
    ]:
        assert sandbox.get(kind, name, dev.namespace) is not None, f"{kind}/{name}"
    deployment = sandbox.get("deployment", APP, dev.namespace)
    assert deployment is not None
    conditions = {c["type"]: c for c in deployment["status"]["conditions"]}
    # The provider's await logic waited for this; it was not switched off.
    assert conditions["Available"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert "pulumi.com/skipAwait" not in deployment["metadata"].get("annotations", {})
    assert deployment["status"]["readyReplicas"] == 1


def test_users_reach_the_service_through_an_ingress_the_provider_waited_for(dev: Dev) -> None:
    ingress = dev.project.sandbox.get("ingress", APP, dev.namespace)
    assert ingress is not None
    (rule,) = ingress["spec"]["rules"]
    assert (ingress["spec"]["ingressClassName"], rule["host"]) == ("nginx", "dev.example.com")
    assert rule["http"]["paths"][0]["backend"] == {"service": {"name": APP, "port": {"name": "http"}}}
    # The provider's await ran (not skipped): the sandbox's stand-in controller published an address.
    assert "pulumi.com/skipAwait" not in ingress["metadata"].get("annotations", {})
    assert ingress["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.0.1"}]
    allow = dev.project.sandbox.get("networkpolicy", "flutter-app-allow-apps", dev.namespace)
    assert allow is not None
    assert allow["spec"]["ingress"][1]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]


def test_the_gate_ran_in_the_engine_and_probed_the_app(dev: Dev, app: FaultyApp) -> None:
    state = dev.project.export(dev.stack)
    gates = [
        r for r in state["deployment"]["resources"] if r["type"] == "pulumi-python:dynamic/gates:HealthGate"
    ]
    assert len(gates) == 1
    assert gates[0]["outputs"]["verdict"] == "pass"
    assert gates[0]["outputs"]["evaluations"] >= 3


def test_no_perpetual_diff(dev: Dev) -> None:
    result = dev.project.pulumi("preview", "--expect-no-changes", *POLICY, stack=dev.stack, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_secret_reaches_the_cluster_and_stays_encrypted_everywhere_else(dev: Dev) -> None:
    secret = dev.project.sandbox.get("secret", "flutter-app-secrets", dev.namespace)
    assert secret is not None
    assert base64.b64decode(secret["data"]["FIREBASE_API_KEY"]).decode() == SECRET
    exported = dev.project.pulumi("stack", "export", stack=dev.stack).stdout
    assert SECRET not in exported
    assert "ciphertext" in exported
    assert SECRET not in dev.project.stack_file(dev.stack).read_text()
    assert SECRET not in dev.preview + dev.up
    outputs = dev.project.pulumi("stack", "output", "--json", stack=dev.stack).stdout
    assert SECRET not in outputs


def test_an_image_change_updates_the_deployment_and_its_gate_only(dev: Dev) -> None:
    project = dev.project
    before = project.sandbox.get("deployment", APP, dev.namespace)
    assert before is not None
    project.pulumi("config", "set", "--path", f"apps.{APP}.image", NEW_IMAGE, stack=dev.stack)
    preview = json.loads(project.pulumi("preview", "--json", *POLICY, stack=dev.stack).stdout)
    changed = {
        (step["op"], step["urn"].split("::")[-2].split("$")[-1])
        for step in preview["steps"]
        if step["op"] not in ("same", "read")
    }
    assert changed == {
        ("update", "kubernetes:apps/v1:Deployment"),
        ("update", "pulumi-python:dynamic/gates:HealthGate"),
    }
    project.pulumi("up", "--yes", "--skip-preview", *POLICY, stack=dev.stack)
    after = project.sandbox.get("deployment", APP, dev.namespace)
    assert after is not None
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
    assert after["metadata"]["uid"] == before["metadata"]["uid"]  # updated in place, not replaced
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1


def test_history_records_every_update(dev: Dev) -> None:
    history = dev.project.history(dev.stack)
    updates = [h for h in history if h["kind"] == "update"]
    assert [h["result"] for h in updates] == ["succeeded", "succeeded"]


def test_destroy_leaves_nothing(dev: Dev) -> None:
    dev.project.pulumi("destroy", "--yes", "--skip-preview", stack=dev.stack)
    assert dev.project.sandbox.get("namespace", dev.namespace) is None
    state = dev.project.export(dev.stack)
    assert state["deployment"].get("resources") in (None, [])
