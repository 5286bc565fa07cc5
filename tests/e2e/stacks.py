"""Stack configs for the end-to-end tests: the committed stack files' values, deployed to the
sandbox (``cluster.mode: existing``, add-ons the cluster provides as ``external``), each stack in a
namespace of its own, its gates probing an app on 127.0.0.1 that stands in for the Service (kwok
pods serve no traffic)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import yaml

from tests.support.project import ROOT

PREFIX = "flutter-app:"
GATE_SPEC = {"interval": 2, "duration": 8, "max_duration": 8, "max_hold": 20}
"""The gate overrides of the e2e stacks: every 2 s for 8 s, and a sequential test still undecided
then passes (`on_undecided`'s default). What the tests decide and when is tested in tests/gates
and bench/; here the gates show that the engine runs them and that their verdicts drive releases."""
APP = "flutter-app"
# The sandbox is an existing cluster with Istio's and the Prometheus Operator's CRDs and
# namespaces: the environments that use them get them as ``external`` (no Helm chart).
EXTERNAL_ADDONS = {"addons": {"istio": "external", "monitoring": "external"}}


def policy_pack(environment: str) -> tuple[str, ...]:
    """The `pulumi preview/up` arguments that load the policy pack with the environment's config."""
    return ("--policy-pack", "policies", "--policy-pack-config", f"policies/config/{environment}.json")


def namespace(prefix: str) -> str:
    """A namespace of its own: what an aborted run left behind never collides with a new one."""
    return f"e2e-{prefix}-{uuid.uuid4().hex[:6]}"


def committed(environment: str) -> dict[str, Any]:
    """The plain config of Pulumi.<environment>.yaml, keys without the project prefix."""
    document = yaml.safe_load((ROOT / f"Pulumi.{environment}.yaml").read_text())
    return {key.removeprefix(PREFIX): value for key, value in document["config"].items()}


def sandbox_config(environment: str, namespace: str, gate_url: str, **app: Any) -> dict[str, Any]:
    """``environment``'s committed config on the sandbox: its own namespace, the sandbox's
    cluster, no Prometheus unless given, and the app's gate probing ``gate_url``."""
    config = copy.deepcopy(committed(environment))
    config["namespace"] = namespace
    config["cluster"] = {
        "mode": "existing",
        **(copy.deepcopy(EXTERNAL_ADDONS) if environment != "dev" else {}),
    }
    config.pop("prometheusUrl", None)
    settings = config["apps"][APP]
    settings["gate"] = {
        "url": gate_url,
        **({"previewUrl": gate_url} if "previewUrl" in settings.get("gate", {}) else {}),
    }
    settings.update(app)
    return config
