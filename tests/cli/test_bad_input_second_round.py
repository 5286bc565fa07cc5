"""Bad input, second round: the families a hostile or careless user found after the first round,
one table each. Every row exits 2 with a message naming the key and what was expected, repeats no
credential on any output, writes nothing, and ends within a few seconds whatever the size of the
input (the checks are linear, long values are refused before anything else reads them)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gates.text import hidden_characters
from rollout.cli import main
from tests.cli.test_bad_input import (
    APP_KEY,
    DEV_HEAD,
    Row,
    app,
    assert_refused,
    check_row,
    gate,
    rows,
    top,
)
from tests.support.project import edit_stack

SECONDS = 20.0
"""Every refusal below, on a loaded CI machine; the quadratic checks this replaced took minutes."""
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documentation example
GITLAB = "glpat-" + "x" * 20
SLACK_HOOK = "https://hooks.slack.com/services/T0000/B0000/" + "Y" * 24
OPENAI = "sk-proj-" + "z" * 40
AZURE = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=" + "k" * 40 + "==;"
PGP = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQ" + "p" * 40 + "\n-----END PGP PRIVATE KEY BLOCK-----"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
BEARER = "Bearer " + "t" * 32
CREDENTIALS = [AWS_ID, GITLAB, SLACK_HOOK, OPENAI, AZURE, PGP, AWS_SECRET, BEARER]


def timed_refusal(project: Path, row: Any) -> str:
    started = time.perf_counter()
    stderr = check_row(project, row)
    assert time.perf_counter() - started < SECONDS, f"{row[0]}: took too long"
    for credential in CREDENTIALS:
        assert credential not in stderr and credential[-16:] not in stderr, (
            f"{row[0]}: a credential was echoed"
        )
    return stderr


# --- 1. credentials in keys that end up in plain text -----------------------------------------

PLAIN_CREDENTIALS = [
    (
        "databaseHost holds an AWS key id",
        "dev",
        top("databaseHost", f"{AWS_ID}.example.com"),
        "flutter-app:databaseHost",
    ),
    (
        "databaseName holds a GitHub token",
        "dev",
        top("databaseName", "ghp_" + "g" * 36),
        "flutter-app:databaseName",
    ),
    ("an env value holds a Slack webhook", "dev", app(env={"HOOK": SLACK_HOOK}), f"{APP_KEY}.env.HOOK"),
    ("an env value holds an Azure key", "dev", app(env={"STORE": AZURE}), f"{APP_KEY}.env.STORE"),
    ("an env value holds a PGP private key", "dev", app(env={"SIGNING": PGP}), f"{APP_KEY}.env.SIGNING"),
    ("an env value holds an AWS secret key", "dev", app(env={"AWS": AWS_SECRET}), f"{APP_KEY}.env.AWS"),
    (
        "an env value holds a Bearer token",
        "dev",
        app(env={"AUTH_HEADER": BEARER}),
        f"{APP_KEY}.env.AUTH_HEADER",
    ),
    ("an env value holds an OpenAI key", "dev", app(env={"MODEL": OPENAI}), f"{APP_KEY}.env.MODEL"),
    (
        "the kube context holds a token",
        "dev",
        top("cluster", {"mode": "existing", "kubeContext": GITLAB}),
        "flutter-app:cluster.kubeContext",
    ),
    (
        "a host holds an access token",
        "dev",
        app(expose={"hosts": ["app.example.com"], "tlsSecret": OPENAI}),
        f"{APP_KEY}.expose.tlsSecret",
    ),
    (
        "the gate spec name holds a token",
        "dev",
        gate(url="https://dev.example.com", spec={"name": OPENAI}),
        f"{APP_KEY}.gate.spec.name",
    ),
    (
        "a baseline version holds a key id",
        "staging",
        gate(spec={"sequential": {"baseline_version": AWS_ID}}),
        f"{APP_KEY}.gate.spec.sequential.baseline_version",
    ),
    (
        "apiBaseUrl holds a token in its fragment",
        "dev",
        top("apiBaseUrl", "https://dev-api.example.com/#access_token=" + "q" * 20),
        "flutter-app:apiBaseUrl",
    ),
    (
        "a gate URL holds a refresh token",
        "dev",
        gate(url="https://dev.example.com/?refresh_token=" + "r" * 20),
        f"{APP_KEY}.gate.url",
    ),
]


@rows([(case, stack, change, key, None, "") for case, stack, change, key in PLAIN_CREDENTIALS])
def test_a_credential_in_any_plain_key_is_refused_without_echoing_it(project: Path, row: Any) -> None:
    timed_refusal(project, row)


# --- 3, 4, 5. sizes, nesting, what the API server or the runtime would refuse ------------------

BIG = [
    (
        "a value of 100 KB",
        "dev",
        app(env={"BLOB": "a" * 100_000}),
        f"{APP_KEY}.env.BLOB",
        None,
        "at most 32768 are accepted",
    ),
    (
        "a value of 2 MB",
        "dev",
        top("databaseHost", "db" * 1_000_000),
        "flutter-app:databaseHost",
        None,
        "at most 32768 are accepted",
    ),
    (
        "env values adding up past 512 KB",
        "dev",
        app(env={f"V{i}": "b" * 30_000 for i in range(20)}),
        "flutter-app:(all keys)",
        None,
        "at most 524288",
    ),
    (
        "an env value with a NUL byte",
        "dev",
        app(env={"MODE": "fast\x00slow"}),
        f"{APP_KEY}.env.MODE",
        None,
        "control characters (\\x00)",
    ),
    (
        "a memory limit of 512 bytes",
        "dev",
        app(resources={"limits": {"memory": "512"}}),
        f"{APP_KEY}.resources.limits.memory",
        '"512"',
        "at least 6Mi",
    ),
]


@rows(BIG)
def test_values_too_big_or_that_no_container_takes_are_refused_quickly(project: Path, row: Any) -> None:
    timed_refusal(project, row)


# --- 6, 7, 10. what the cluster and AWS take -------------------------------------------------

CLUSTER = [
    (
        "the Gateway's namespace",
        "staging",
        lambda c: c.update(
            {
                "flutter-app:namespace": "gateway-system",
                "flutter-app:cluster": {
                    "traffic": "gateway-api",
                    "gateway": {"name": "public", "namespace": "gateway-system"},
                },
            }
        ),
        "flutter-app:cluster.gateway.namespace",
        None,
        "the platform's",
    ),
    (
        "the ingress controller's namespace",
        "dev",
        top("namespace", "ingress-nginx"),
        "flutter-app:cluster.ingressController.namespace",
        None,
        "the platform's",
    ),
    (
        "a VPC of 0.0.0.0/0",
        "staging",
        top("cluster", {"network": {"cidr": "0.0.0.0/0"}}),
        "flutter-app:cluster.network.cidr",
        '"0.0.0.0/0"',
        "between /16 and /28",
    ),
    (
        "an IPv6 VPC",
        "staging",
        top("cluster", {"network": {"cidr": "fd00::/56"}}),
        "flutter-app:cluster.network.cidr",
        '"fd00::/56"',
        "IPv4",
    ),
    (
        "a Kubernetes version EKS does not offer",
        "staging",
        top("cluster", {"kubernetesVersion": "1.99"}),
        "flutter-app:cluster.kubernetesVersion",
        '"1.99"',
        "EKS offers",
    ),
    (
        "a gate URL at the metadata address",
        "dev",
        gate(url="http://169.254.169.254/latest/meta-data/"),
        f"{APP_KEY}.gate.url",
        None,
        "link-local",
    ),
    # The namespace the stack declares when `namespace` is unset is flutter-app-<environment>.
    (
        "the ingress controller's namespace as the default namespace",
        "dev",
        top("cluster", {"ingressController": {"namespace": "flutter-app-dev"}}),
        "flutter-app:cluster.ingressController.namespace",
        None,
        "is the stack's own namespace (flutter-app-dev, as flutter-app:namespace is unset",
    ),
    (
        "the Gateway's namespace as the default namespace",
        "staging",
        top(
            "cluster",
            {"traffic": "gateway-api", "gateway": {"name": "public", "namespace": "flutter-app-staging"}},
        ),
        "flutter-app:cluster.gateway.namespace",
        None,
        "the Gateway's namespace is the platform's",
    ),
    (
        "a multicast VPC",
        "staging",
        top("cluster", {"network": {"cidr": "224.0.0.0/16"}}),
        "flutter-app:cluster.network.cidr",
        '"224.0.0.0/16"',
        "is a multicast range; expected an RFC 1918 range",
    ),
    (
        "a loopback VPC",
        "production",
        top("cluster", {"network": {"cidr": "127.0.0.0/16"}}),
        "flutter-app:cluster.network.cidr",
        '"127.0.0.0/16"',
        "is a loopback range",
    ),
    (
        "a link-local VPC",
        "staging",
        top("cluster", {"network": {"cidr": "169.254.0.0/16"}}),
        "flutter-app:cluster.network.cidr",
        '"169.254.0.0/16"',
        "is a link-local range",
    ),
    (
        "a VPC in the documentation range",
        "staging",
        top("cluster", {"network": {"cidr": "192.0.2.0/24"}}),
        "flutter-app:cluster.network.cidr",
        '"192.0.2.0/24"',
        "neither private (RFC 1918) nor publicly routable",
    ),
    (
        "a kube context with a line break",
        "dev",
        top("cluster", {"kubeContext": "ctx\nother"}),
        "flutter-app:cluster.kubeContext",
        '"ctx\\nother"',
        "contains control characters (\\x0a); expected a name on one line",
    ),
    (
        "a kube context with a tab",
        "dev",
        top("cluster", {"kubeContext": "ctx\tother"}),
        "flutter-app:cluster.kubeContext",
        None,
        "contains control characters (\\x09)",
    ),
    (
        "gateway-api without a gateway",
        "staging",
        top("cluster", {"traffic": "gateway-api"}),
        "flutter-app:cluster.gateway",
        None,
        "required with traffic gateway-api: {name, namespace}",
    ),
    (
        "a gateway with traffic ingress",
        "dev",
        top("cluster", {"traffic": "ingress", "gateway": {"name": "public", "namespace": "gateway-system"}}),
        "flutter-app:cluster.gateway",
        None,
        "traffic ingress uses ingressController",
    ),
]

GATEWAY_API = {"traffic": "gateway-api", "gateway": {"name": "public", "namespace": "gateway-system"}}


def gateway_with(**values: Any) -> Any:
    gateway = {"name": "public", "namespace": "gateway-system", **values}
    return top("cluster", {"traffic": "gateway-api", "gateway": gateway})


# The listener name: the CRD's SectionName (pattern and maxLength of the Gateway API v1.4.1
# standard CRDs, tests/data/gateway-api-standard-v1.4.1.yaml); meaningless with Istio.
SECTION_NAMES: list[Row] = [
    (
        "sectionName with an empty label",
        "staging",
        gateway_with(sectionName="a..b"),
        "flutter-app:cluster.gateway.sectionName",
        '"a..b"',
        "expected a Gateway listener name (the Gateway API's SectionName)",
    ),
    (
        "sectionName in upper case",
        "staging",
        gateway_with(sectionName="HTTPS"),
        "flutter-app:cluster.gateway.sectionName",
        '"HTTPS"',
        "a DNS-1123 subdomain",
    ),
    (
        "sectionName ending with a dash",
        "staging",
        gateway_with(sectionName="https-"),
        "flutter-app:cluster.gateway.sectionName",
        '"https-"',
        "expected a Gateway listener name",
    ),
    (
        "sectionName empty",
        "staging",
        gateway_with(sectionName=""),
        "flutter-app:cluster.gateway.sectionName",
        '""',
        "expected a Gateway listener name",
    ),
    (
        "sectionName of 254 characters",
        "staging",
        gateway_with(sectionName="a" * 254),
        "flutter-app:cluster.gateway.sectionName",
        None,
        "is 254 characters; a Gateway listener name (the Gateway API's SectionName) has at most 253",
    ),
    (
        "sectionName not a string",
        "staging",
        gateway_with(sectionName=443),
        "flutter-app:cluster.gateway.sectionName",
        "443",
        "string",
    ),
    (
        "sectionName with traffic istio",
        "staging",
        top(
            "cluster",
            {
                "traffic": "istio",
                "gateway": {"name": "public", "namespace": "istio-ingress", "sectionName": "https"},
            },
        ),
        "flutter-app:cluster.gateway.sectionName",
        None,
        "is a Gateway API listener; traffic istio binds the VirtualServices to the whole Gateway",
    ),
    (
        "a Gateway name with an empty label",
        "staging",
        gateway_with(name="a..b"),
        "flutter-app:cluster.gateway.name",
        '"a..b"',
        "expected a Gateway's name",
    ),
]


@rows(SECTION_NAMES)
def test_a_section_name_the_crd_would_refuse_is_refused(project: Path, row: Any) -> None:
    timed_refusal(project, row)


def test_a_valid_section_name_reaches_every_route_and_fits_the_crd(project: Path) -> None:
    from tests.support.schemas import manifest_errors

    edit_stack(project, "staging", gateway_with(sectionName="https.public-1"))
    out = project / "out"
    err = io.StringIO()
    code = main(
        ["--cwd", str(project), "render", "--stack", "staging", "--out", str(out)], out=io.StringIO(), err=err
    )
    assert code == 0, err.getvalue()
    manifests = [m for m in yaml.safe_load_all((out / "staging" / "manifests.yaml").read_text()) if m]
    routes = [m for m in manifests if m["kind"] == "HTTPRoute"]
    assert routes and all(
        r["spec"]["parentRefs"]
        == [{"name": "public", "namespace": "gateway-system", "sectionName": "https.public-1"}]
        for r in routes
    )
    assert not [e for m in routes if (e := manifest_errors(m))]


# Two apps whose objects of one kind would share a name in the namespace: the second would replace
# the first (two `Service web-canary` in the rendered files, one left on the cluster).
WEB = {"image": "ghcr.io/example/web:1.0.0", "expose": {"hosts": ["web.example.com"]}}
OTHER = {"image": "ghcr.io/example/other:1.0.0"}


def apps_in(cluster: dict[str, Any] | None, **apps: dict[str, Any]) -> Any:
    def change(config: dict[str, Any]) -> None:
        config["flutter-app:apps"] = apps
        if cluster is not None:
            config["flutter-app:cluster"] = cluster

    return change


NAME_COLLISIONS: list[Row] = [
    (
        "a canary's track Service and a rolling app",
        "staging",
        apps_in(
            GATEWAY_API, web={**WEB, "strategy": "canary"}, **{"web-canary": {**OTHER, "strategy": "rolling"}}
        ),
        "flutter-app:apps.web-canary",
        None,
        "its Service 'web-canary' and Deployment 'web-canary' are also app web's",
    ),
    (
        "a canary's stable Service and another canary",
        "staging",
        apps_in(
            GATEWAY_API,
            web={**WEB, "strategy": "canary"},
            **{"web-stable": {**OTHER, "strategy": "canary", "expose": {"hosts": ["other.example.com"]}}},
        ),
        "flutter-app:apps.web-stable",
        None,
        "its Service 'web-stable' is also app web's",
    ),
    (
        "a canary's track Deployment and a rolling app, with Istio",
        "staging",
        apps_in(None, web={**WEB, "strategy": "canary"}, **{"web-canary": {**OTHER, "strategy": "rolling"}}),
        "flutter-app:apps.web-canary",
        None,
        "its Deployment 'web-canary' is also app web's",
    ),
    (
        "a blue/green preview Service and an app of that name",
        "production",
        apps_in(
            None, web={**WEB, "strategy": "blue-green"}, **{"web-preview": {**OTHER, "strategy": "rolling"}}
        ),
        "flutter-app:apps.web-preview",
        None,
        "its Service 'web-preview' is also app web's",
    ),
    (
        "a blue/green colour and a rolling app",
        "dev",
        apps_in(None, web={**OTHER, "strategy": "blue-green"}, **{"web-blue": OTHER}),
        "flutter-app:apps.web-blue",
        None,
        "its Deployment 'web-blue' is also app web's",
    ),
]


@rows(NAME_COLLISIONS)
def test_two_apps_that_would_declare_one_object_are_refused(project: Path, row: Any) -> None:
    timed_refusal(project, row)


@rows(CLUSTER)
def test_what_the_cluster_or_aws_would_refuse_is_refused_first(project: Path, row: Any) -> None:
    timed_refusal(project, row)


# --- 4, 6, 10. the stack file itself ----------------------------------------------------------

HEAD = "config:\n  flutter-app:environment: dev\n"
BOMB = (
    HEAD
    + "  flutter-app:apps:\n    x: &a [l, l, l, l, l, l, l, l, l, l]\n"
    + "".join(f"    x{i}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))
)
DEEP = HEAD + "  flutter-app:apps: " + "[" * 20_000 + "]" * 20_000 + "\n"
# 31 KB: a 30,000-character string referenced 100,000 times (well under 200,000 values), under a
# key the program does not know. 3 GB once expanded: before, 20 s and 6.5 GB to refuse it.
LONG_BOMB = (
    HEAD
    + "  flutter-app:junk:\n    s: &l0 "
    + "x" * 30_000
    + "\n"
    + "".join(f"    l{i + 1}: &l{i + 1} [{', '.join([f'*l{i}'] * 10)}]\n" for i in range(5))
)


@pytest.mark.parametrize(
    ("case", "text", "fragment"),
    [
        ("a YAML alias bomb", BOMB, "expand to more than 200000 values"),
        ("20,000 levels of nesting", DEEP, "nested deeper than 64 levels"),
        (
            "an alias into itself",
            HEAD + "  flutter-app:apps: &x [*x]\n",
            "refers to a value that contains it",
        ),
        ("a long string through 100,000 aliases", LONG_BOMB, "expand to more than 4194304 characters"),
    ],
)
def test_a_stack_file_that_would_exhaust_memory_or_the_stack_is_refused(
    project: Path, case: str, text: str, fragment: str
) -> None:
    (project / "Pulumi.dev.yaml").write_text(text)
    started = time.perf_counter()
    assert_refused(project, ("Pulumi.dev.yaml", fragment))
    assert time.perf_counter() - started < SECONDS, case


def test_a_long_string_through_aliases_is_refused_in_bounded_memory(project: Path) -> None:
    import tracemalloc

    (project / "Pulumi.dev.yaml").write_text(LONG_BOMB)
    tracemalloc.start()
    try:
        assert_refused(project, ("Pulumi.dev.yaml: its aliases (*name) expand to more than",))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"peak {peak} bytes"


def _apps(*entries: str) -> str:
    return (
        DEV_HEAD
        + "  flutter-app:apps:\n"
        + "".join(f"    {key}:\n      image: ghcr.io/example/app:1.0.0\n" for key in entries)
    )


# Keys the Pulumi CLI reads as one (go-yaml v3 resolves plain words; config/object.go then names a
# key by fmt's %v): one of the two apps would be dropped without a word. go-yaml itself refuses
# two keys of the same text, quoted or not.
@pytest.mark.parametrize(
    ("case", "text", "fragment"),
    [
        (
            "true and True",
            _apps("true", "True"),
            "keys 'true' (line 16) and 'True' (line 18) in config.flutter-app:apps are both the key 'true'",
        ),
        (
            "'true' and true",
            _apps("'true'", "true"),
            "key 'true' in config.flutter-app:apps is repeated at line 18 (first at line 16)",
        ),
        ("FALSE and false", _apps("FALSE", "false"), "are both the key 'false'"),
        ("~ and null", _apps("~", "null"), "are both the key '<nil>'"),
        ("1 and 0x1", _apps("1", "0x1"), "keys '1' (line 16) and '0x1' (line 18)"),
    ],
)
def test_two_app_keys_the_cli_reads_as_one_are_refused_naming_both(
    project: Path, case: str, text: str, fragment: str
) -> None:
    (project / "Pulumi.dev.yaml").write_text(text)
    assert_refused(project, ("Pulumi.dev.yaml", fragment))


@pytest.mark.parametrize(
    ("case", "make", "fragment"),
    [
        ("a directory", lambda p: p.mkdir(), "is a directory; expected a YAML file"),
        ("a FIFO", lambda p: os.mkfifo(p), "not a regular file"),
        ("a link to /dev/zero", lambda p: p.symlink_to("/dev/zero"), "not a regular file"),
        ("a symlink loop", lambda p: p.symlink_to(p), "cannot read it"),
    ],
)
def test_a_stack_file_that_is_not_a_file_says_what_it_is(
    project: Path, case: str, make: Any, fragment: str
) -> None:
    path = project / "Pulumi.dev.yaml"
    path.unlink()
    make(path)
    started = time.perf_counter()
    assert_refused(project, ("Pulumi.dev.yaml", fragment))
    assert time.perf_counter() - started < SECONDS, case


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        # The CLI checks the types Pulumi.yaml declares: "yes" is a word, not a boolean.
        ("  flutter-app:debugMode: yes\n", "flutter-app:debugMode: must be of type 'boolean' (got \"yes\")"),
        (
            "  flutter-app:featureBeta: on\n",
            "flutter-app:featureBeta: must be of type 'boolean' (got \"on\")",
        ),
    ],
)
def test_yaml_1_1_words_are_words_as_the_pulumi_cli_reads_them(
    project: Path, text: str, fragment: str
) -> None:
    key = text.split(":")[1]
    edit_stack(project, "dev", lambda config: config.pop(f"flutter-app:{key}", None))
    path = project / "Pulumi.dev.yaml"
    path.write_text(path.read_text() + text)
    assert_refused(project, (fragment,))


def test_an_app_named_on_is_an_app_named_on(project: Path) -> None:
    path = project / "Pulumi.dev.yaml"
    edit_stack(project, "dev", lambda config: config.pop("flutter-app:apps"))
    path.write_text(
        path.read_text()
        + "  flutter-app:apps:\n    on:\n      image: ghcr.io/example/on:1.0.0\n"
        + "    yes:\n      image: ghcr.io/example/yes:1.0.0\n"
    )
    out = project / "out"
    code = main(
        ["--cwd", str(project), "render", "--stack", "dev", "--out", str(out)],
        out=io.StringIO(),
        err=io.StringIO(),
    )
    assert code == 0
    manifests = (out / "dev" / "manifests.yaml").read_text()
    assert "name: 'on'" in manifests or 'name: "on"' in manifests or "name: on\n" in manifests
    assert "name: 'yes'" in manifests or 'name: "yes"' in manifests or "name: yes\n" in manifests
    assert "name: 'true'" not in manifests and "name: true\n" not in manifests


# --- 8. gate specs, 9. rollout report --out, 10. command lines --------------------------------


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


GATE_SPECS = [
    (
        "a header with a line break",
        {"probes": [{"url": "http://127.0.0.1:9/h", "headers": {"x": "a\r\nInjected: 1"}}]},
        "probes[0].headers.x",
        "contains U+000D, U+000A",
    ),
    (
        "a zero window",
        {
            "probes": [{"url": "http://127.0.0.1:9/h"}],
            "prometheus": {"url": "http://127.0.0.1:9"},
            "checks": [{"name": "e", "template": "error-rate", "params": {"window": "0s"}, "max": 0.1}],
        },
        "checks[0].params.window",
        "above zero",
    ),
    (
        "an escape sequence in the name",
        {"name": "gate\x1b[31m", "probes": [{"url": "http://127.0.0.1:9/h"}]},
        "name",
        "control or format characters (\\x1b)",
    ),
    (
        "a bearer_token_env with a newline",
        {
            "probes": [{"url": "http://127.0.0.1:9/h"}],
            "prometheus": {"url": "http://127.0.0.1:9", "bearer_token_env": "TOKEN\n"},
            "checks": [{"name": "e", "query": "up", "max": 1}],
        },
        "prometheus.bearer_token_env",
        "NAME of an environment variable",
    ),
    (
        "a credential as bearer_token_env",
        {
            "probes": [{"url": "http://127.0.0.1:9/h"}],
            "prometheus": {"url": "http://127.0.0.1:9", "bearer_token_env": AWS_ID},
            "checks": [{"name": "e", "query": "up", "max": 1}],
        },
        "prometheus.bearer_token_env",
        "NAME of an environment variable",
    ),
    *[
        (
            f"a header value {case}",
            {"probes": [{"url": "http://127.0.0.1:9/h", "headers": {"canary": value}}]},
            "probes[0].headers.canary",
            expected,
        )
        for case, value, expected in [
            ("with a leading space", " true", "starts or ends with a space or tab"),
            ("with a trailing tab", "true\t", "starts or ends with a space or tab"),
            ("beyond latin-1", "\u2713 check", "contains U+2713"),
            ("with ESC", "a\x1b[31m", "contains U+001B"),
            ("with DEL", "a\x7f", "contains U+007F"),
            ("with VT", "a\x0bb", "contains U+000B"),
            ("with a C1 control", "a\x85b", "contains U+0085"),
        ]
    ],
    (
        "a header name that is no token",
        {"probes": [{"url": "http://127.0.0.1:9/h", "headers": {"x y": "1"}}]},
        "probes[0].headers.x y",
        "RFC 9110 token characters",
    ),
    (
        "a header name with ESC",
        {"probes": [{"url": "http://127.0.0.1:9/h", "headers": {"x\x1b[2J": "1"}}]},
        "probes[0].headers.x\\x1b[2J",
        "RFC 9110 token characters",
    ),
    (
        "a C1 CSI in the name",
        {"name": "gate\x9b31m", "probes": [{"url": "http://127.0.0.1:9/h"}]},
        "name",
        "control or format characters (\\x9b)",
    ),
    (
        "a bidi override in the name",
        {"name": "gate\u202eetag", "probes": [{"url": "http://127.0.0.1:9/h"}]},
        "name",
        "control or format characters (\\u202e)",
    ),
    (
        "a window of 10^20 hours",
        {
            "probes": [{"url": "http://127.0.0.1:9/h"}],
            "prometheus": {"url": "http://127.0.0.1:9"},
            "checks": [
                {"name": "e", "template": "error-rate", "params": {"window": "9" * 20 + "h"}, "max": 0.1}
            ],
        },
        "checks[0].params.window",
        "expected at most 720h (30 days)",
    ),
    (
        "an interval of 300 years",
        {"probes": [{"url": "http://127.0.0.1:9/h"}], "interval": 1e10, "duration": 1e10},
        "interval",
        "less than or equal to 86400",
    ),
    (
        "the metadata address",
        {"probes": [{"url": "http://169.254.169.254/latest/"}]},
        "probes[0].url",
        "link-local",
    ),
    (
        "a token in the Prometheus URL's query",
        {
            "probes": [{"url": "http://127.0.0.1:9/h"}],
            "prometheus": {"url": "http://127.0.0.1:9/?access_token=" + "s" * 20},
            "checks": [{"name": "e", "query": "up", "max": 1}],
        },
        "prometheus.url",
        "credential",
    ),
]


@pytest.mark.parametrize(("case", "spec", "field", "expected"), GATE_SPECS, ids=[g[0] for g in GATE_SPECS])
def test_gate_specs_are_checked_before_anything_is_probed(
    tmp_path: Path, case: str, spec: dict[str, Any], field: str, expected: str
) -> None:
    import yaml

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    report = tmp_path / "report.json"
    code, out, err = run(["gate", "--spec", str(path), "--report", str(report)])
    assert code == 2, err
    assert f"  - {field}: " in err and expected in err, err
    assert not hidden_characters(err.replace("\n", "")) and AWS_ID not in err and "s" * 20 not in err
    assert not report.exists() and out == ""


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def loop(path: Path) -> Path:
    path.symlink_to(path)
    return path


def dangling(path: Path) -> Path:
    path.symlink_to(path.with_name("nowhere"))
    return path


def chart_directory(tmp: Path) -> Path:
    (tmp / "report-latency.png").mkdir()
    return tmp / "report.md"


OUTPUT_FILES = [
    ("a FIFO", lambda tmp: fifo(tmp / "r.md"), "is a FIFO (not a regular file)"),
    ("a symlink loop", lambda tmp: loop(tmp / "r.md"), "is a loop of symbolic links"),
    ("a dangling link", lambda tmp: dangling(tmp / "r.md"), "nowhere, which does not exist"),
    ("/dev/full", lambda _tmp: Path("/dev/full"), "is a character device (not a regular file)"),
    ("under a symlink loop", lambda tmp: loop(tmp / "d") / "r.md", "d is a loop of symbolic links"),
]


@pytest.mark.parametrize(
    ("case", "out", "fragment"),
    [
        ("a directory", lambda tmp: tmp, "is a directory"),
        *OUTPUT_FILES,
        (
            "a directory where a chart goes",
            chart_directory,
            "report-latency.png is a directory; expected a regular file",
        ),
        (
            "a path under a file",
            lambda tmp: (tmp / "file.md").touch() or tmp / "file.md" / "report.md",
            "file.md is a regular file; expected a directory",
        ),
    ],
)
def test_report_out_is_checked_before_any_query(
    tmp_path: Path, project: Path, case: str, out: Any, fragment: str
) -> None:
    target = out(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    # Prometheus at a closed port: nothing may be asked of it before --out is known to be good.
    code, _, err = run(
        [
            "--cwd",
            str(project),
            "report",
            "--stack",
            "dev",
            "--prometheus",
            "http://127.0.0.1:9",
            "--out",
            str(target),
        ]
    )
    assert code == 2 and fragment in err, err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize(("case", "report", "fragment"), OUTPUT_FILES, ids=[o[0] for o in OUTPUT_FILES])
def test_gate_report_is_checked_before_anything_is_probed(
    tmp_path: Path, case: str, report: Any, fragment: str
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("probes:\n  - url: http://127.0.0.1:9/h\nmode: threshold\ninterval: 1\nduration: 1\n")
    target = report(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    started = time.perf_counter()
    code, out, err = run(["gate", "--spec", str(spec), "--report", str(target)])
    assert code == 2 and f"--report {target}: " in err and fragment in err, err
    assert "every 1 s" not in err and out == "", "the gate ran"
    assert sorted(tmp_path.rglob("*")) == before and time.perf_counter() - started < SECONDS


@pytest.mark.parametrize(
    ("case", "out", "fragment"),
    [
        ("a symlink loop", lambda tmp: loop(tmp / "out"), "is a loop of symbolic links"),
        ("a FIFO", lambda tmp: fifo(tmp / "out"), "is a FIFO"),
        (
            "a file where the stack's directory goes",
            lambda tmp: (tmp / "out").mkdir() or (tmp / "out" / "dev").touch() or tmp / "out",
            "dev is a regular file; expected a directory (it is replaced)",
        ),
        ("under /dev/full", lambda _tmp: Path("/dev/full/out"), "/dev/full is a character device"),
    ],
)
def test_render_out_is_checked_before_rendering(
    tmp_path: Path, project: Path, case: str, out: Any, fragment: str
) -> None:
    target = out(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    code, _, err = run(["--cwd", str(project), "render", "--stack", "dev", "--out", str(target)])
    assert code == 2 and f"--out {target}: " in err and fragment in err, err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("case", "argv", "fragment"),
    [
        (
            "an infinite timeout",
            ["--timeout", "inf"],
            "argument --timeout: expected a number of seconds above 0 and at most 300, got 'inf'",
        ),
        (
            "a window of 10^14 hours",
            ["--window", "99999999999999h"],
            "argument --window: expected at most 720h (30 days), got '99999999999999h'",
        ),
        ("a window of 10^5000 seconds", ["--window", "9" * 5000 + "s"], "expected at most 720h"),
    ],
)
def test_report_durations_are_bounded(project: Path, case: str, argv: list[str], fragment: str) -> None:
    # Prometheus at a closed port: a query would exit 1, not 2.
    code, _, err = run(
        ["--cwd", str(project), "report", "--stack", "dev", "--prometheus", "http://127.0.0.1:9", *argv]
    )
    assert code == 2 and fragment in err, err


def test_a_negative_window_names_itself(project: Path) -> None:
    code, _, err = run(["--cwd", str(project), "report", "--stack", "dev", "--window", "-1s"])
    assert code == 2 and "--window: expected a duration such as 30s, 15m or 1h, got '-1s'" in err


def test_render_writes_nothing_for_a_credential_production_would_catch(project: Path) -> None:
    """Before: production's policy pack caught it (exit 3) and the files were still written."""
    edit_stack(project, "production", app(env={"HOOK": SLACK_HOOK}))
    stderr = assert_refused(project, (f"{APP_KEY}.env.HOOK",), "production")
    assert SLACK_HOOK not in stderr


# --- names that would act on the terminal, and the project file ---------------------------------

ESC = "\x1b[2J\x1b[31m"


@pytest.mark.parametrize(
    ("case", "argv", "option", "shown"),
    [
        ("report --stack with ESC", ["report", "--stack", f"dev{ESC}"], "--stack", "dev\\x1b[2J\\x1b[31m"),
        ("render --stack with a C1 CSI", ["render", "--stack", "dev\x9b31m"], "--stack", "dev\\x9b31m"),
        (
            "release --app with ESC",
            ["release", "--stack", "dev", "--image", "ghcr.io/example/app:1.0.0", "--app", f"x{ESC}"],
            "--app",
            "x\\x1b[2J\\x1b[31m",
        ),
        (
            "release --stack with a bidi override",
            ["release", "--stack", "dev\u202e", "--image", "ghcr.io/example/app:1.0.0"],
            "--stack",
            "dev\\u202e",
        ),
        ("rollback --stack with ESC", ["rollback", "--stack", f"s{ESC}", "--previous"], "--stack", "s\\x1b"),
        (
            "history --stack with a zero-width joiner",
            ["history", "--stack", "s\u200d"],
            "--stack",
            "s\\u200d",
        ),
        (
            "undecodable bytes in --stack",
            ["report", "--stack", b"dev\xff".decode("utf-8", "surrogateescape")],
            "--stack",
            "dev\\udcff",
        ),
    ],
)
def test_names_on_the_command_line_that_act_on_the_terminal_are_refused(
    project: Path, case: str, argv: list[str], option: str, shown: str
) -> None:
    code, out, err = run(["--cwd", str(project), *argv])
    assert code == 2, err
    assert f"argument {option}: contains control or format characters" in err and shown in err, err
    assert not hidden_characters(err.replace("\n", "")) and out == ""
    assert not (project / "build").exists()


@pytest.mark.parametrize(
    ("command", "stack"),
    [
        (["release", "--image", "ghcr.io/example/app:1.0.0"], "d" * 5000),
        (["rollback", "--previous"], "d" * 101),
        (["recover"], "dev prod"),
        (["history"], "a/b/c/d"),
        (["render"], "../dev"),
    ],
)
def test_a_stack_name_the_pulumi_cli_would_refuse_is_bad_input(
    project: Path, command: list[str], stack: str
) -> None:
    code, out, err = run(["--cwd", str(project), command[0], "--stack", stack, *command[1:]])
    assert code == 2 and out == "", err
    assert "argument --stack:" in err and "is not a stack name: expected [org/][project/]stack" in err
    assert len(err) < 1000  # a long name is cut, not repeated whole


HIDDEN_NAMES: list[Row] = [
    (
        "an env key that clears the screen",
        "dev",
        app(env={f"A{ESC}B": "1"}),
        f"{APP_KEY}.env",
        None,
        "key 'A\\x1b[2J\\x1b[31mB' contains control or format characters (\\x1b)",
    ),
    (
        "an app name with ESC",
        "dev",
        lambda c: c["flutter-app:apps"].update({f"x{ESC}": c["flutter-app:apps"].pop("flutter-app")}),
        "flutter-app:apps",
        None,
        "key 'x\\x1b[2J\\x1b[31m' contains control or format characters",
    ),
    (
        "a top-level key with ESC",
        "dev",
        top(f"debug{ESC}", True),
        "flutter-app:debug\\x1b[2J\\x1b[31m",
        None,
        "contains control or format characters (\\x1b)",
    ),
    (
        "a gate name with a C1 CSI",
        "dev",
        gate(url="https://dev.example.com", spec={"name": "gate\x9b31m"}),
        f"{APP_KEY}.gate.spec.name",
        None,
        "control or format characters (\\x9b)",
    ),
    (
        "a gate name with a bidi override",
        "dev",
        gate(url="https://dev.example.com", spec={"name": "gate\u202etxt.exe"}),
        f"{APP_KEY}.gate.spec.name",
        None,
        "control or format characters (\\u202e)",
    ),
]


@rows(HIDDEN_NAMES)
def test_names_in_the_stack_file_that_act_on_the_terminal_are_refused(project: Path, row: Any) -> None:
    stderr = timed_refusal(project, row)
    assert not hidden_characters(stderr.replace("\n", "")), stderr


@pytest.mark.parametrize(
    ("case", "make", "fragment"),
    [
        ("a directory", lambda p: p.mkdir(), "Pulumi.yaml: is a directory; expected a YAML file"),
        ("a FIFO", lambda p: os.mkfifo(p), "Pulumi.yaml: is a FIFO (not a regular file)"),
        (
            "a link to /dev/zero",
            lambda p: p.symlink_to("/dev/zero"),
            "Pulumi.yaml: is a character device (not a regular file)",
        ),
        ("a symlink loop", lambda p: p.symlink_to(p), "Pulumi.yaml: cannot read it"),
    ],
)
def test_a_project_file_that_is_not_a_file_says_what_it_is(
    project: Path, case: str, make: Any, fragment: str
) -> None:
    path = project / "Pulumi.yaml"
    path.unlink()
    make(path)
    started = time.perf_counter()
    stderr = assert_refused(project, (fragment,))
    assert "no Pulumi.yaml" not in stderr
    assert time.perf_counter() - started < SECONDS, case
    code, _, err = run(
        ["--cwd", str(project), "report", "--stack", "dev", "--prometheus", "http://127.0.0.1:9"]
    )
    assert code == 2 and fragment in err, err


def test_every_line_printed_has_its_control_characters_escaped() -> None:
    from rollout.cli import Console

    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err)
    console.print(f"a{ESC}b\tc\nd\u202ee\x9b\x00")
    console.note("\r\x07")
    console.ask("f\x1b[1A?")
    assert out.getvalue() == "a\\x1b[2J\\x1b[31mb\tc\nd\\u202ee\\x9b\\x00\n"
    assert err.getvalue() == "\\x0d\\x07\nf\\x1b[1A?"
