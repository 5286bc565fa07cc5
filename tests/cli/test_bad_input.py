"""Bad input to `rollout render`, one table per family: every row exits 2 with a message naming
the key, the value and what was expected, writes no file, and shows no traceback."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rollout.cli import main
from tests.support.project import edit_stack

DEV_HEAD = """\
config:
  flutter-app:environment: dev
  flutter-app:apiBaseUrl: https://dev-api.example.com
  flutter-app:apiTimeoutSeconds: 30
  flutter-app:apiRetries: 3
  flutter-app:databaseHost: dev-db.example.com
  flutter-app:databaseName: flutter_app_dev
  flutter-app:logLevel: debug
  flutter-app:logSinks: [console]
  flutter-app:featureNewUi: true
  flutter-app:featureBeta: true
  flutter-app:featureAnalytics: false
  flutter-app:debugMode: true
  flutter-app:analyticsEnabled: false
"""
APP = """\
  flutter-app:apps:
    flutter-app:
      image: ghcr.io/example/flutter-app:1.4.2
"""


def render(project: Path, stack: str = "dev") -> tuple[int, str, Path]:
    out = project / "out"
    err = io.StringIO()
    code = main(
        ["--cwd", str(project), "render", "--stack", stack, "--out", str(out)], out=io.StringIO(), err=err
    )
    return code, err.getvalue(), out


def assert_refused(project: Path, fragments: tuple[str, ...], stack: str = "dev") -> str:
    code, stderr, out = render(project, stack)
    assert code == 2, stderr
    assert "Traceback" not in stderr
    missing = [f for f in fragments if f not in stderr]
    assert not missing, f"{missing} not in:\n{stderr}"
    assert not out.exists(), "a refused render wrote files"
    return stderr


# --- the stack file itself ----------------------------------------------------------------------

STACK_FILES: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "apps block twice",
        DEV_HEAD + APP + "  flutter-app:apps:\n    other:\n      image: ghcr.io/example/other:1.0.0\n",
        (
            "Pulumi.dev.yaml",
            "key 'flutter-app:apps' in config",
            "line 18 (first at line 15)",
            "keeps only the last",
        ),
    ),
    (
        "replicas twice",
        DEV_HEAD + APP + "      replicas: 2\n      replicas: 3\n",
        (
            "key 'replicas' in config.flutter-app:apps.flutter-app",
            "repeated at line 19 (first at line 18)",
        ),
    ),
    ("a scalar", "just text\n", ("Pulumi.dev.yaml", "expected a mapping of settings", 'the str "just text"')),
    ("a list", "- config\n- x\n", ("Pulumi.dev.yaml", "expected a mapping of settings (got a list)")),
    ("config a list", "config:\n  - a\n", ("Pulumi.dev.yaml", "'config' must be a mapping (got a list)")),
    (
        "a key without value",
        DEV_HEAD + "  flutter-app:apps:\n",
        ("flutter-app:apps: has no value (null)", "give it one or remove the line"),
    ),
    ("invalid YAML", DEV_HEAD + "  flutter-app:apps: {a: [1\n", ("Pulumi.dev.yaml: not valid YAML at line",)),
    ("two documents", DEV_HEAD + "---\nconfig: {}\n", ("Pulumi.dev.yaml: not valid YAML", "single document")),
]


@pytest.mark.parametrize(("case", "text", "fragments"), STACK_FILES, ids=[c[0] for c in STACK_FILES])
def test_bad_stack_files_are_refused(project: Path, case: str, text: str, fragments: tuple[str, ...]) -> None:
    (project / "Pulumi.dev.yaml").write_text(text)
    assert_refused(project, fragments)


def test_the_base_stack_text_renders(project: Path) -> None:
    """The rows above break a stack that is otherwise valid."""
    (project / "Pulumi.dev.yaml").write_text(DEV_HEAD + APP)
    code, stderr, out = render(project)
    assert code == 0, stderr
    assert (out / "dev" / "manifests.yaml").is_file()


def test_merge_keys_may_override_what_they_merge(project: Path) -> None:
    text = DEV_HEAD + (
        "  flutter-app:apps:\n"
        "    flutter-app: &base\n      image: ghcr.io/example/flutter-app:1.4.2\n"
        "    api:\n      <<: *base\n      image: ghcr.io/example/api:2.0.0\n"
    )
    (project / "Pulumi.dev.yaml").write_text(text)
    code, stderr, _ = render(project)
    assert code == 0, stderr


def test_out_pointing_at_a_file_is_refused_before_rendering(project: Path) -> None:
    target = project / "out"
    target.write_text("not a directory")
    err = io.StringIO()
    code = main(
        ["--cwd", str(project), "render", "--stack", "dev", "--out", str(target)], out=io.StringIO(), err=err
    )
    assert code == 2
    assert f"--out {target}: is a regular file; expected a directory" in err.getvalue()
    assert target.read_text() == "not a directory"
    nested = target / "deeper"
    code = main(
        ["--cwd", str(project), "render", "--stack", "dev", "--out", str(nested)], out=io.StringIO(), err=err
    )
    assert code == 2 and "Traceback" not in err.getvalue()


# --- the settings, family by family -------------------------------------------------------------
# A row: (case, stack, change to the stack's config, key, value as the message shows it (None: the
# value is not repeated, as for a credential), what was expected). The message must have one line
# for the key holding both the value and the expectation.

Change = Callable[[dict[str, Any]], None]
Row = tuple[str, str, Change, str, str | None, str]
SECRET = "Pa55w0rd-do-not-print"


def app(**values: Any) -> Change:
    return lambda config: config["flutter-app:apps"]["flutter-app"].update(values)


def gate(**values: Any) -> Change:
    return lambda config: config["flutter-app:apps"]["flutter-app"].setdefault("gate", {}).update(values)


def top(key: str, value: Any) -> Change:
    return lambda config: config.update({f"flutter-app:{key}": value})


def apps(value: Any) -> Change:
    return top("apps", value)


def check_row(project: Path, row: Row) -> str:
    case, stack, change, key, value, expected = row
    edit_stack(project, stack, change)
    stderr = assert_refused(project, (), stack)
    assert SECRET not in stderr, f"{case}: a credential reached stderr"
    lines = [ln for ln in stderr.splitlines() if ln.startswith(f"  - {key}: ")]
    assert lines, f"{case}: no line for {key} in:\n{stderr}"
    shown = f"(got {value})" if value is not None else ""
    assert any(expected in ln and shown in ln for ln in lines), f"{case}: {expected!r} {shown} not in {lines}"
    for line in lines:
        assert line.count("(got ") <= 1 and ".int" not in line and ".str" not in line, line
    return stderr


def rows(table: list[Row]) -> Any:
    return pytest.mark.parametrize("row", table, ids=[r[0] for r in table])


APP_KEY = "flutter-app:apps.flutter-app"

CREDENTIALS: list[Row] = [
    (
        "user info in gate.url",
        "dev",
        gate(url=f"https://ops:{SECRET}@app.example.com"),
        f"{APP_KEY}.gate.url",
        '"https://[redacted]@app.example.com"',
        "probe a URL that needs no credentials",
    ),
    (
        "user info in gate.previewUrl",
        "production",
        gate(previewUrl=f"https://{SECRET}@preview.example.com"),
        f"{APP_KEY}.gate.previewUrl",
        '"https://[redacted]@preview.example.com"',
        "user info in a URL is a credential in plain text",
    ),
    (
        "user info in prometheusUrl",
        "staging",
        top("prometheusUrl", f"https://prom:{SECRET}@prom.example.com"),
        "flutter-app:prometheusUrl",
        '"https://[redacted]@prom.example.com"',
        "pulumi config set --secret flutter-app:prometheusToken",
    ),
    (
        "user info in apiBaseUrl",
        "production",
        top("apiBaseUrl", f"https://svc:{SECRET}@api.example.com"),
        "flutter-app:apiBaseUrl",
        '"https://[redacted]@api.example.com"',
        "flutter-app-config ConfigMap in plain text",
    ),
    (
        "a token parameter in apiBaseUrl",
        "dev",
        top("apiBaseUrl", f"https://api.example.com/v1?token={SECRET}"),
        "flutter-app:apiBaseUrl",
        '"https://api.example.com/v1?token=[redacted]"',
        "holds a credential parameter (token=...)",
    ),
    (
        "SIGNING_KEY",
        "dev",
        app(env={"SIGNING_KEY": SECRET}),
        f"{APP_KEY}.env.SIGNING_KEY",
        None,
        "looks like a credential",
    ),
    ("DB_PWD", "test", app(env={"DB_PWD": SECRET}), f"{APP_KEY}.env.DB_PWD", None, "looks like a credential"),
    ("dbPass", "dev", app(env={"dbPass": SECRET}), f"{APP_KEY}.env.dbPass", None, "looks like a credential"),
    (
        "SENTRY_DSN",
        "dev",
        app(env={"SENTRY_DSN": "https://x.ingest.example.com/1"}),
        f"{APP_KEY}.env.SENTRY_DSN",
        None,
        "looks like a credential",
    ),
    (
        "a DSN with a password under another name",
        "production",
        app(env={"DATABASE_URL": f"postgres://app:{SECRET}@db.example.com/app"}),
        f"{APP_KEY}.env.DATABASE_URL",
        None,
        "its value holds user info in a URL",
    ),
    (
        "a DSN with a key",
        "dev",
        app(env={"ERRORS_ENDPOINT": f"https://{SECRET}@o1.ingest.example.com/2"}),
        f"{APP_KEY}.env.ERRORS_ENDPOINT",
        None,
        "its value holds user info in a URL",
    ),
    (
        "a GitHub token",
        "dev",
        app(env={"CI_HELPER": "ghp_" + "A1b2C3d4E5" * 4}),
        f"{APP_KEY}.env.CI_HELPER",
        None,
        "its value holds a GitHub token",
    ),
    (
        "a private key",
        "dev",
        app(env={"CERT": "-----BEGIN RSA PRIVATE KEY-----\nMIIE" + SECRET}),
        f"{APP_KEY}.env.CERT",
        None,
        "its value holds a private key",
    ),
    (
        "a key parameter",
        "dev",
        app(env={"MAPS": f"https://maps.example.com/api?v=3&key={SECRET}"}),
        f"{APP_KEY}.env.MAPS",
        None,
        "a credential parameter (key=...)",
    ),
    (
        "a plain key set as a secret",
        "staging",
        top("apiBaseUrl", {"secure": "v1:AAAA"}),
        "flutter-app:apiBaseUrl",
        None,
        "is set as a secret (`secure:`), but this key is not one",
    ),
    (
        "a credential in plain text",
        "dev",
        top("prometheusToken", SECRET),
        "flutter-app:prometheusToken",
        None,
        "is a credential stored in plaintext",
    ),
    (
        "a webhook URL pasted as its variable's name",
        "staging",
        gate(spec={"notify": {"url_env": f"https://hooks.example.com/{SECRET}"}}),
        f"{APP_KEY}.gate.spec.notify.url_env",
        None,
        "expected the NAME of an environment variable",
    ),
]


@rows(CREDENTIALS)
def test_credentials_are_refused_and_never_echoed(project: Path, row: Row) -> None:
    check_row(project, row)


KUBERNETES: list[Row] = [
    (
        "both zero, spelled differently",
        "dev",
        app(maxSurge="00%", maxUnavailable=0),
        f"{APP_KEY}.maxUnavailable",
        "0",
        "may not be 0 when maxSurge is 0",
    ),
    (
        "maxUnavailable 150%",
        "test",
        app(maxUnavailable="150%"),
        f"{APP_KEY}.maxUnavailable",
        '"150%"',
        "at most 100%",
    ),
    (
        "a fractional percent",
        "dev",
        app(maxSurge="12.5%"),
        f"{APP_KEY}.maxSurge",
        '"12.5%"',
        "a percentage such as 25%",
    ),
    ("a negative surge", "dev", app(maxSurge=-1), f"{APP_KEY}.maxSurge", "-1", "a pod count (0 or more)"),
    (
        "a name starting with a digit",
        "dev",
        apps({"1app": {"image": "ghcr.io/example/app:1.0.0"}}),
        "flutter-app:apps.1app",
        '"1app"',
        "starting with a letter (it names a Service)",
    ),
    (
        "a preview Service over 63 characters",
        "production",
        apps({"a" * 56: {"image": "ghcr.io/example/app:1.0.0"}}),
        f"flutter-app:apps.{'a' * 56}",
        None,
        f"its Service '{'a' * 56}-preview' is 64 characters; Kubernetes allows at most 63",
    ),
    (
        "an instance label over 63 characters",
        "production",
        apps({"b" * 53: {"image": "ghcr.io/example/app:1.0.0", "strategy": "rolling"}}),
        f"flutter-app:apps.{'b' * 53}",
        None,
        f"its label app.kubernetes.io/instance '{'b' * 53}-production' is 64 characters",
    ),
    (
        "a canary Deployment over 63 characters",
        "staging",
        apps({"c" * 57: {"image": "ghcr.io/example/app:1.0.0", "canary": {"hosts": []}}}),
        f"flutter-app:apps.{'c' * 57}",
        None,
        f"its Deployment '{'c' * 57}-canary' is 64 characters",
    ),
    (
        "memory in milli-bytes",
        "dev",
        app(resources={"limits": {"memory": "512m"}}),
        f"{APP_KEY}.resources.limits.memory",
        '"512m"',
        "expected whole bytes such as 512Mi or 1Gi ('m' means thousandths); did you mean 512Mi?",
    ),
    (
        "a zero limit",
        "dev",
        app(resources={"limits": {"cpu": "0"}}),
        f"{APP_KEY}.resources.limits.cpu",
        '"0"',
        "more than 0 CPU",
    ),
    (
        "a zero memory request",
        "dev",
        app(resources={"requests": {"memory": "0Mi"}}),
        f"{APP_KEY}.resources.requests.memory",
        '"0Mi"',
        "expected at least 6Mi",
    ),
    (
        "a memory limit no container starts with",
        "dev",
        app(resources={"limits": {"memory": "512"}}),
        f"{APP_KEY}.resources.limits.memory",
        '"512"',
        "container runtimes cannot start a container with less",
    ),
    (
        "a limit above the LimitRange",
        "production",
        app(resources={"limits": {"cpu": "4"}}),
        f"{APP_KEY}.resources.limits.cpu",
        None,
        "4 is above 2, the namespace's per-container maximum (LimitRange)",
    ),
    (
        "a quantity with a newline",
        "dev",
        app(resources={"limits": {"memory": "512Mi\n"}}),
        f"{APP_KEY}.resources.limits.memory",
        '"512Mi\\n"',
        "Kubernetes quantity",
    ),
    (
        "an image tag that is not ASCII",
        "dev",
        app(image="ghcr.io/example/app:café"),
        f"{APP_KEY}.image",
        '"ghcr.io/example/app:café"',
        "REPOSITORY:TAG",
    ),
    (
        "namespace kube-system",
        "dev",
        top("namespace", "kube-system"),
        "flutter-app:namespace",
        '"kube-system"',
        "namespace of Kubernetes or of the add-ons",
    ),
    (
        "namespace default",
        "test",
        top("namespace", "default"),
        "flutter-app:namespace",
        '"default"',
        "would declare it as its own and delete it",
    ),
    (
        "namespace kube-public",
        "dev",
        top("namespace", "kube-public"),
        "flutter-app:namespace",
        '"kube-public"',
        "choose another",
    ),
    (
        "namespace kube-node-lease",
        "dev",
        top("namespace", "kube-node-lease"),
        "flutter-app:namespace",
        '"kube-node-lease"',
        "choose another",
    ),
    (
        "namespace of an add-on",
        "staging",
        top("namespace", "istio-system"),
        "flutter-app:namespace",
        '"istio-system"',
        "add-ons",
    ),
    (
        "namespace of 64 characters",
        "dev",
        top("namespace", "n" * 64),
        "flutter-app:namespace",
        None,
        "is 64 characters; Kubernetes allows at most 63",
    ),
    (
        "a probe period beyond int32",
        "dev",
        app(liveness={"periodSeconds": 2**31}),
        f"{APP_KEY}.liveness.periodSeconds",
        str(2**31),
        "less than or equal to 2147483647",
    ),
]


@rows(KUBERNETES)
def test_values_kubernetes_would_refuse_are_refused_first(project: Path, row: Row) -> None:
    check_row(project, row)


COERCION: list[Row] = [
    ("replicas true", "dev", app(replicas=True), f"{APP_KEY}.replicas", "true", "valid integer"),
    ("replicas as text", "dev", app(replicas="6"), f"{APP_KEY}.replicas", '"6"', "valid integer"),
    ("replicas 2.0", "dev", app(replicas=2.0), f"{APP_KEY}.replicas", "2.0", "valid integer"),
    (
        "canary.weight true",
        "staging",
        app(canary={"weight": True, "image": "ghcr.io/example/flutter-app:1.5.0"}),
        f"{APP_KEY}.canary.weight",
        "true",
        "valid integer",
    ),
    ("maxSurge false", "dev", app(maxSurge=False), f"{APP_KEY}.maxSurge", "false", "a pod count"),
    (
        "a flag as 1",
        "dev",
        app(featureFlags={"dark_mode": 1}),
        f"{APP_KEY}.featureFlags.dark_mode",
        "1",
        "valid boolean",
    ),
    (
        "a flag as text",
        "dev",
        app(featureFlags={"dark_mode": "true"}),
        f"{APP_KEY}.featureFlags.dark_mode",
        '"true"',
        "valid boolean",
    ),
    (
        "an env value as a number",
        "dev",
        app(env={"WORKERS": 4}),
        f"{APP_KEY}.env.WORKERS",
        "4",
        "valid string",
    ),
    (
        "containerPort as text",
        "dev",
        app(containerPort="8080"),
        f"{APP_KEY}.containerPort",
        '"8080"',
        "valid integer",
    ),
    ("an image as a number", "dev", app(image=1.5), f"{APP_KEY}.image", "1.5", "valid string"),
    (
        "minReplicas true",
        "dev",
        app(autoscaling={"minReplicas": True, "maxReplicas": 3}),
        f"{APP_KEY}.autoscaling.minReplicas",
        "true",
        "valid integer",
    ),
    (
        "scaleDownIdle as text",
        "production",
        app(blueGreen={"scaleDownIdle": "yes"}),
        f"{APP_KEY}.blueGreen.scaleDownIdle",
        '"yes"',
        "valid boolean",
    ),
    (
        "a quota as text",
        "dev",
        top("namespaceQuota", {"pods": "30"}),
        "flutter-app:namespaceQuota.pods",
        '"30"',
        "valid integer",
    ),
    (
        "a node group size true",
        "production",
        top(
            "cluster",
            {
                "nodeGroups": {
                    "general": {
                        "instanceTypes": ["m6i.xlarge"],
                        "minSize": True,
                        "desiredSize": 3,
                        "maxSize": 6,
                    }
                }
            },
        ),
        "flutter-app:cluster.nodeGroups.general.minSize",
        "true",
        "valid integer",
    ),
]


@rows(COERCION)
def test_booleans_are_not_numbers_and_text_is_not_a_number(project: Path, row: Row) -> None:
    check_row(project, row)


UNNAMED: list[Row] = [
    (
        "a URL with a port but no host",
        "dev",
        gate(url="https://:80"),
        f"{APP_KEY}.gate.url",
        '"https://:80"',
        "expected a URL with a host",
    ),
    (
        "an IPv6 host never closed",
        "dev",
        gate(url="http://[::1"),
        f"{APP_KEY}.gate.url",
        '"http://[::1"',
        "invalid ipv6 url",
    ),
    (
        "a port out of range",
        "dev",
        gate(url="https://app.example.com:99999"),
        f"{APP_KEY}.gate.url",
        '"https://app.example.com:99999"',
        "port out of range",
    ),
    (
        "an infinite gate duration",
        "test",
        gate(spec={"duration": float("inf")}),
        f"{APP_KEY}.gate.spec.duration",
        None,
        "finite number, got inf",
    ),
    (
        "an infinite max_hold",
        "test",
        gate(spec={"max_hold": float("inf")}),
        f"{APP_KEY}.gate.spec.max_hold",
        None,
        "finite number, got inf",
    ),
    (
        "a gate spec of the wrong shape",
        "dev",
        gate(spec=[1]),
        f"{APP_KEY}.gate.spec",
        "[1]",
        "valid dictionary",
    ),
    ("apps a list", "dev", apps(["flutter-app"]), "flutter-app:apps", '["flutter-app"]', "valid dictionary"),
    (
        "an app that is text",
        "dev",
        apps({"flutter-app": "ghcr.io/example/app:1"}),
        APP_KEY,
        '"ghcr.io/example/app:1"',
        "valid dictionary",
    ),
]


@rows(UNNAMED)
def test_every_bad_value_is_exit_2_naming_its_key(project: Path, row: Row) -> None:
    check_row(project, row)


PROBE_URLS: list[Row] = [
    (
        "a query on gate.url",
        "dev",
        gate(url="https://app.example.com?x=1"),
        f"{APP_KEY}.gate.url",
        '"https://app.example.com?x=1"',
        "without ?query or #fragment: paths are appended to it",
    ),
    (
        "a fragment on gate.url",
        "dev",
        gate(url="https://app.example.com#top"),
        f"{APP_KEY}.gate.url",
        '"https://app.example.com#top"',
        "without ?query or #fragment",
    ),
    (
        "a bare ? on previewUrl",
        "production",
        gate(previewUrl="https://preview.example.com?"),
        f"{APP_KEY}.gate.previewUrl",
        '"https://preview.example.com?"',
        "without ?query",
    ),
    (
        "a fragment on probePath",
        "dev",
        gate(probePath="/health#x"),
        f"{APP_KEY}.gate.probePath",
        '"/health#x"',
        "never sent to the server",
    ),
    (
        "a probePath that is a host",
        "dev",
        gate(probePath="//evil.example.com/health"),
        f"{APP_KEY}.gate.probePath",
        '"//evil.example.com/health"',
        "a single '/'",
    ),
    (
        "a space in a probe path",
        "dev",
        app(liveness={"path": "/he alth"}),
        f"{APP_KEY}.liveness.path",
        '"/he alth"',
        "no spaces",
    ),
]


@rows(PROBE_URLS)
def test_probe_urls_are_whole_urls(project: Path, row: Row) -> None:
    check_row(project, row)


DUPLICATE_ENV: list[Row] = [
    (
        "APP_NAME",
        "dev",
        app(env={"APP_NAME": "x"}),
        f"{APP_KEY}.env.APP_NAME",
        None,
        "APP_NAME is already set by the program (the app's name)",
    ),
    (
        "APP_TRACK",
        "staging",
        app(env={"APP_TRACK": "x"}),
        f"{APP_KEY}.env.APP_TRACK",
        None,
        "already set by the program (the release track",
    ),
    (
        "a ConfigMap key",
        "dev",
        app(env={"API_BASE_URL": "https://other.example.com"}),
        f"{APP_KEY}.env.API_BASE_URL",
        None,
        "already set by flutter-app:apiBaseUrl (ConfigMap key API_BASE_URL)",
    ),
    (
        "a flag the ConfigMap sets",
        "dev",
        app(featureFlags={"new_ui": True}),
        f"{APP_KEY}.featureFlags.new_ui",
        None,
        "FEATURE_NEW_UI is already set by flutter-app:featureNewUi",
    ),
    (
        "two flags, one variable",
        "dev",
        app(featureFlags={"Dark_Mode": True, "dark_mode": False}),
        f"{APP_KEY}.featureFlags.dark_mode",
        None,
        "becomes FEATURE_DARK_MODE, as featureFlags.Dark_Mode does",
    ),
    (
        "a flag and an env var",
        "dev",
        app(env={"FEATURE_DARK_MODE": "true"}, featureFlags={"dark_mode": True}),
        f"{APP_KEY}.featureFlags.dark_mode",
        None,
        "which env.FEATURE_DARK_MODE sets too",
    ),
    (
        "a flag that is not ASCII",
        "dev",
        app(featureFlags={"\u017fpeed": True}),
        f"{APP_KEY}.featureFlags.\u017fpeed",
        None,
        "not a valid environment variable name",
    ),
]


@rows(DUPLICATE_ENV)
def test_no_variable_is_set_twice(project: Path, row: Row) -> None:
    check_row(project, row)


MESSAGES: list[Row] = [
    (
        "steps say (got) once",
        "staging",
        app(canary={"steps": [50, 25]}),
        f"{APP_KEY}.canary.steps",
        "[50, 25]",
        "increasing weights ending at 100",
    ),
    (
        "a CIDR says (got) once",
        "production",
        top("cluster", {"publicAccessCidrs": ["10.0.0.0/33"]}),
        "flutter-app:cluster.publicAccessCidrs[0]",
        '"10.0.0.0/33"',
        "CIDR",
    ),
    (
        "no validator path",
        "dev",
        app(maxSurge=[1]),
        f"{APP_KEY}.maxSurge",
        "[1]",
        "a pod count (0 or more) or a percentage",
    ),
    ("apps null", "dev", apps(None), "flutter-app:apps", None, "has no value (null)"),
    (
        "unknown threshold rule",
        "dev",
        top("reportThresholds", {"bogus": "x"}),
        "flutter-app:reportThresholds.bogus",
        None,
        "unknown rule; expected one of",
    ),
    (
        "threshold not a number",
        "dev",
        top("reportThresholds", {"cpuPercent": {"warning": True}}),
        "flutter-app:reportThresholds.cpuPercent.warning",
        None,
        "expected a number, 0 or more (got true)",
    ),
]


@rows(MESSAGES)
def test_messages_name_key_value_and_expectation_once(project: Path, row: Row) -> None:
    stderr = check_row(project, row)
    if row[0] == "apps null":
        assert stderr.count("  - ") == 1, "apps: null is one problem, not also a missing image"


QUOTA: list[Row] = [
    (
        "ten apps over the default",
        "production",
        apps({f"app{i}": {"image": "ghcr.io/example/app:1.0.0"} for i in range(10)}),
        "flutter-app:apps",
        None,
        "beyond the production namespace quota (flutter-app:namespaceQuota): raise it",
    ),
    (
        "a quota of no pods",
        "dev",
        top("namespaceQuota", {"pods": 0}),
        "flutter-app:namespaceQuota.pods",
        "0",
        "greater than or equal to 1",
    ),
    (
        "a quota in milli-bytes",
        "dev",
        top("namespaceQuota", {"limits": {"memory": "8500m"}}),
        "flutter-app:namespaceQuota.limits.memory",
        '"8500m"',
        "whole bytes",
    ),
    (
        "a quota key misspelt",
        "dev",
        top("namespaceQuota", {"pod": 10}),
        "flutter-app:namespaceQuota.pod",
        None,
        "unknown key; did you mean 'pods'?",
    ),
]


@rows(QUOTA)
def test_the_namespace_quota_is_checked_like_any_setting(project: Path, row: Row) -> None:
    check_row(project, row)


def test_every_problem_of_a_file_is_listed_at_once(project: Path) -> None:
    def many(config: dict[str, Any]) -> None:
        web = config["flutter-app:apps"]["flutter-app"]
        web.update(replicas=True, maxSurge="00%", maxUnavailable=0, env={"APP_NAME": "x"})
        config["flutter-app:reportThresholds"] = {"bogus": {}}
        config["flutter-app:namespace"] = "kube-system"

    edit_stack(project, "dev", many)
    stderr = assert_refused(project, ("(5 problems)",))
    for key in ("replicas", "maxUnavailable", "env.APP_NAME"):
        assert f"  - {APP_KEY}.{key}: " in stderr
    assert "  - flutter-app:reportThresholds.bogus: " in stderr and "  - flutter-app:namespace: " in stderr
