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

from rollout.cli import main
from tests.cli.test_bad_input import APP_KEY, app, assert_refused, check_row, gate, rows, top
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
]


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
    ],
)
def test_a_stack_file_that_would_exhaust_memory_or_the_stack_is_refused(
    project: Path, case: str, text: str, fragment: str
) -> None:
    (project / "Pulumi.dev.yaml").write_text(text)
    started = time.perf_counter()
    assert_refused(project, ("Pulumi.dev.yaml", fragment))
    assert time.perf_counter() - started < SECONDS, case


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
        "probes[0].headers",
        "line breaks",
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
        "control characters",
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
    assert "\x1b" not in err and AWS_ID not in err and "s" * 20 not in err
    assert not report.exists() and out == ""


@pytest.mark.parametrize(
    ("case", "out", "fragment"),
    [
        ("a directory", lambda tmp: tmp, "is a directory"),
        (
            "a path under a file",
            lambda tmp: (tmp / "file.md").touch() or tmp / "file.md" / "report.md",
            "is not a directory",
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


def test_a_negative_window_names_itself(project: Path) -> None:
    code, _, err = run(["--cwd", str(project), "report", "--stack", "dev", "--window", "-1s"])
    assert code == 2 and "--window: expected a duration such as 30s, 15m or 1h, got '-1s'" in err


def test_render_writes_nothing_for_a_credential_production_would_catch(project: Path) -> None:
    """Before: production's policy pack caught it (exit 3) and the files were still written."""
    edit_stack(project, "production", app(env={"HOOK": SLACK_HOOK}))
    stderr = assert_refused(project, (f"{APP_KEY}.env.HOOK",), "production")
    assert SLACK_HOOK not in stderr
