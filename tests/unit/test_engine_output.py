"""The root cause of a failed `pulumi` operation in one line (rollout/engine_output.py), over the
Diagnostics sections the CLI prints. The texts are the CLI's own format; the unreachable-cluster
and field-conflict ones were printed by the sandbox's real engine (tests/e2e show them end to
end), the timeout one is pulumi-kubernetes' message (pkg/await/error.go) as the engine lays out a
multi-error."""

from __future__ import annotations

import pytest

from rollout.engine_output import gate_failure, root_cause

UNREACHABLE = """Updating (prod):
 ++ kubernetes:networking.istio.io/v1:Gateway addons-gateway creating replacement (0s) [diff: ~provider]; error: configured Kubernetes cluster is unreachable
    pulumi:pulumi:Stack flutter-app-prod running error: update failed
Diagnostics:
  pulumi:pulumi:Stack (flutter-app-prod):
    Success: no issues found in 1 source file

    error: update failed

    Traceback (most recent call last):
      File "/app/.venv/lib/python3.11/site-packages/pulumi/runtime/resource.py", line 1340, in do_rpc_call
    pulumi.errors.RunError: Resource monitor has terminated, shutting down
  kubernetes:networking.istio.io/v1:Gateway (addons-gateway):
    error: configured Kubernetes cluster is unreachable: unable to load schema information from the API server: Get "https://127.0.0.1:9/openapi/v2?timeout=32s": dial tcp 127.0.0.1:9: connect: connection refused

Outputs:
    environment: "production"
"""

# The sandbox's API server paused (SIGSTOP): the engine lists the resources it never got to
# first, in no fixed order.
PAUSED = """Diagnostics:
  pulumi-python:dynamic/gates:HealthGate (flutter-app-live-gate):
    error: expected resource operations for urn:pulumi:faults::flutter-app::flutter-app:release:BlueGreenRelease$pulumi-python:dynamic/gates:HealthGate::flutter-app-live-gate but none were seen

  kubernetes:apps/v1:Deployment (flutter-app-blue):
    error: configured Kubernetes cluster is unreachable: unable to load schema information from the API server: Get "https://127.0.0.1:32764/openapi/v2?timeout=32s": net/http: TLS handshake timeout

  pulumi:providers:pulumi-python (default):
    error: expected resource operations for urn:pulumi:faults::flutter-app::pulumi:providers:pulumi-python::default but none were seen
"""

TIMEOUT = """Diagnostics:
  pulumi:pulumi:Stack (flutter-app-prod):
    error: update failed

  kubernetes:apps/v1:Deployment (flutter-app-green):
    error: 2 errors occurred:
    \t* the Kubernetes API server reported that "prod/flutter-app-green" failed to fully initialize or become live: 'flutter-app-green' timed out waiting to be Ready
    \t* Minimum number of live Pods was not attained

Resources:
    23 unchanged
"""

CONFLICT = """Diagnostics:
  kubernetes:apps/v1:Deployment (flutter-app-blue):
    error: Preview failed: 1 error occurred:
    \t* the Kubernetes API server reported that "prod/flutter-app-blue" failed to fully initialize or become live: Server-Side Apply field conflict detected.

  pulumi:pulumi:Stack (flutter-app-prod):
    error: preview failed
"""

CONFIG = """Diagnostics:
  pulumi:pulumi:Stack (flutter-app-prod):
    Success: no issues found in 1 source file

    error: invalid config for stack 'prod' (1 problem):
      - flutter-app:cluster.apiServer: required for an existing cluster in production
    error: an unhandled error occurred: program exited with non-zero exit code: 1
"""

POLICY = """Policies:
    \u274c flutter-app-policies@v0.1.0 (local: policies)
        - [mandatory]  no-plaintext-credentials  (kubernetes:core/v1:ConfigMap: production-config)
          a credential in a ConfigMap
Diagnostics:
  pulumi:pulumi:Stack (flutter-app-prod):
    error: update failed
"""


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        (
            UNREACHABLE,
            "kubernetes:networking.istio.io/v1:Gateway addons-gateway: configured Kubernetes cluster is "
            'unreachable: unable to load schema information from the API server: Get "https://127.0.0.1:9/',
        ),
        (
            PAUSED,
            "kubernetes:apps/v1:Deployment flutter-app-blue: configured Kubernetes cluster is unreachable: "
            'unable to load schema information from the API server: Get "https://127.0.0.1:32764/openapi/v2?timeout',
        ),
        (
            TIMEOUT,
            "kubernetes:apps/v1:Deployment flutter-app-green: the Kubernetes API server reported that "
            "\"prod/flutter-app-green\" failed to fully initialize or become live: 'flutter-app-green' timed out "
            "waiting to be Ready; Minimum number of live Pods was not attained",
        ),
        (
            CONFLICT,
            'kubernetes:apps/v1:Deployment flutter-app-blue: the Kubernetes API server reported that "prod/'
            'flutter-app-blue" failed to fully initialize or become live: Server-Side Apply field conflict detected.',
        ),
        (
            CONFIG,
            "invalid config for stack 'prod' (1 problem): - flutter-app:cluster.apiServer: required for an "
            "existing cluster in production",
        ),
        (
            POLICY,
            "mandatory policy no-plaintext-credentials (kubernetes:core/v1:ConfigMap: production-config): a "
            "credential in a ConfigMap",
        ),
        ("error: could not read plugin\n", "could not read plugin"),
        ("", "no output"),
    ],
    ids=["unreachable", "paused", "timeout", "conflict", "config", "policy", "bare error line", "nothing"],
)
def test_the_cause_in_one_line(text: str, cause: str) -> None:
    found = root_cause(text)
    assert found.startswith(cause) and "\n" not in found
    assert "update failed" not in found and "errors occurred" not in found


def test_a_long_cause_is_shortened() -> None:
    text = "Diagnostics:\n  kubernetes:core/v1:Service (s):\n    error: " + "x" * 5000 + "\n"
    assert len(root_cause(text)) <= 600


def test_a_failed_gate_is_found_in_the_dynamic_providers_traceback() -> None:
    text = (
        "    pulumi-python:dynamic:Resource gate updating (31s) error: Exception: Traceback (most recent call last):\n"
        "    components.health_gate.GateFailedError: health gate 'flutter-app-live' fail: error rate 0.12 above max 0.05\n"
    )
    assert gate_failure(text) == "health gate 'flutter-app-live' fail: error rate 0.12 above max 0.05"
    assert gate_failure(UNREACHABLE) is None
