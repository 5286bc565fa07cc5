"""Property: whatever app config a user writes, `rollout render` either writes manifests that the
API server would take (schema, semantic rules, admission; tests/support/apiserver.py) holding no
credential, or refuses with exit 2 naming a key and writing nothing. Never exit 0 (or 3, a policy
verdict on written files) with an object the API server would refuse, never a traceback.

The generators mix what users write with what the issues found and what Kubernetes refuses: long
and digit-first names, percentages spelled "00%", milli-byte memory, booleans where numbers go,
credentials in URLs and env, duplicate variables, URLs that do not parse; and from the second
round: long values (10-70 KB), control and format characters, YAML 1.1 words (on, yes) as names and
values (quoted, or unquoted as people type them), the metadata address, credentials of the
detector's formats with random bodies in env, plain keys (databaseHost, apiBaseUrl, ...) and image
tags, user:password@ in an image; and the Gateway API mode (HTTPRoutes) with mirrored canaries,
sound and not.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rollout.cli import main
from tests.support.apiserver import Refusals
from tests.support.project import PROJECT_FILES, ROOT, STACKS

SECRET = "Zx9-not-for-output"
# Credentials of the formats the second round of bad input found passing as plain values (built
# here from placeholder parts: none is real).
FORMATS = (
    "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY",
    "https://hooks.slack.com/services/T0000/B0000/" + "Q" * 24,
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQ" + "P" * 30,
    "glpat-" + "W" * 20,
    "sk-proj-" + "V" * 30,
    "Bearer " + "U" * 30,
)
NEVER_SHOWN = (SECRET, *(value[-14:] for value in FORMATS))
_runs = itertools.count()
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _random(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=size, max_size=size)


# Credentials of the detector's formats with random bodies (its table: docs/configuration.md),
# as they sit in a value: alone, glued to a name, as a parameter, in a URL.
credentials = st.one_of(
    st.builds("AKIA{}".format, _random("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
    st.builds("ghp_{}".format, _random(_ALNUM, 36)),
    st.builds("prod_ghp_{}".format, _random(_ALNUM, 36)),
    st.builds("glpat-{}".format, _random(_ALNUM, 20)),
    st.builds("sk-proj-{}".format, _random(_ALNUM, 40)),
    st.builds("xoxb-1234-5678-{}".format, _random(_ALNUM, 24)),
    st.builds("https://hooks.slack.com/services/T0000/B0000/{}".format, _random(_ALNUM, 24)),
    st.builds("AWS_SECRET_ACCESS_KEY={}".format, _random(_ALNUM + "/+", 40)),
    st.builds("Bearer {}".format, _random(_ALNUM + "-_.", 32)),
    st.builds("AccountKey={}==".format, _random(_ALNUM + "+/", 86)),
    st.builds("https://api.example.com/cb?x=1&access_token={}".format, _random(_ALNUM, 24)),
    st.builds("https://api.example.com/cb#refresh_token={}".format, _random(_ALNUM, 24)),
)
# Text that is not a credential but is hard to handle: long, or holding what a terminal acts on.
hard_text = st.one_of(
    st.builds("v".__mul__, st.integers(10_000, 70_000)),
    st.builds("{}{}{}".format, _random("abc", 3), st.characters(categories=("Cc", "Cf")), _random("xyz", 3)),
)
# YAML 1.1 words, which the Pulumi CLI (go-yaml v3) reads as strings when unquoted.
WORDS = ("on", "off", "yes", "no", "y", "n", "On", "YES")


# Each field: (what users write that is fine, what is edgy or wrong). An example is all fine, has
# one edgy field, or has edgy fields at random; an edgy value may still be valid ("0.5" CPU).
def _pick(*values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


counts = st.one_of(st.integers(-1, 12), st.booleans(), _pick("3", 2.0, 2.5, 2**31))
quantities = _pick(
    "100m", "0.5", "4", "0", "512m", "8500m", "3Gi", "1e3", "100n", "1.5Gi", " 1", "-1", "512Mi\n", 1
)
edgy_urls = _pick(
    "http://127.0.0.1:8080",
    "http://169.254.169.254/latest/meta-data",
    "https://app.example.com/cb#access_token=" + SECRET * 2,
    f"https://ops:{SECRET}@app.example.com",
    f"https://app.example.com?token={SECRET}",
    "https://:80",
    "http://[::1",
    "https://app.example.com:99999",
    "https://app.example.com?x=1",
    "https://app.example.com#f",
    "ftp://app.example.com",
)
edgy_paths = _pick("health", "/a b", "/h#f", "//x/y", f"/health?key={SECRET}")
ok_paths = _pick("/health", "/ready", "/health?full=1")


def _probe(paths: st.SearchStrategy[str], numbers: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"path": paths}, optional={"initialDelaySeconds": numbers, "periodSeconds": numbers}
    )


def _compute(cpu: st.SearchStrategy[Any], memory: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({}, optional={"cpu": cpu, "memory": memory})


FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "image": (
        _pick("ghcr.io/example/flutter-app:1.5.0", "ghcr.io/example/app@sha256:" + "ab" * 32),
        _pick(
            "ghcr.io/example/app:" + "v" * 70 + "-",
            "ghcr.io/example/app:1.0_",
            "ghcr.io/example/app:café",
            "ghcr.io/example/app",
            7,
            f"deploy:{SECRET}@registry.example.com/app:1.0",
        ),
    ),
    "replicas": (st.integers(1, 4), counts),
    "maxSurge": (_pick(1, 2, "25%", "50%"), st.one_of(counts, _pick("0%", "00%", "150%", "12.5%", "x"))),
    "maxUnavailable": (_pick(0, 1, "0%", "25%"), st.one_of(counts, _pick("00%", "100%", "150%", "x"))),
    "resources": (
        st.fixed_dictionaries(
            {
                "requests": _compute(_pick("100m", "250m"), _pick("128Mi", "256Mi")),
                "limits": _compute(_pick("500m", "1"), _pick("512Mi", "1Gi")),
            }
        ),
        st.fixed_dictionaries(
            {"requests": _compute(quantities, quantities), "limits": _compute(quantities, quantities)}
        ),
    ),
    "liveness": (_probe(ok_paths, st.integers(1, 30)), _probe(edgy_paths, counts)),
    "containerPort": (_pick(8080, 9000), _pick(0, 65536, "8080", True)),
    "env": (
        st.dictionaries(
            _pick("LOG_FORMAT", "WORKERS", "TOKEN_URL", "SECRET_NAME"),
            _pick("json", "4", "ops@example.com"),
            max_size=2,
        ),
        st.dictionaries(
            _pick("APP_NAME", "API_BASE_URL", "SIGNING_KEY", "DB_PWD", "FEATURE_DARK_MODE", "1X", "WORKERS"),
            st.one_of(
                _pick(
                    f"postgres://app:{SECRET}@db/app",
                    f"https://{SECRET}@sentry.example.com/1",
                    4,
                    "ghp_" + SECRET * 3,
                    "yes",
                    "on",
                    "x\x00y",
                    "tab\tand\x1b[31mescape",
                    "v" * 40_000,
                ),
                st.sampled_from(FORMATS),
                credentials,
                hard_text,
            ),
            min_size=1,
            max_size=2,
        ),
    ),
    "featureFlags": (
        st.dictionaries(_pick("dark_mode", "beta2"), st.booleans(), max_size=2),
        st.dictionaries(
            _pick("Dark_Mode", "dark_mode", "new_ui", "x y"),
            st.one_of(st.booleans(), _pick("true", 1)),
            min_size=1,
            max_size=2,
        ),
    ),
    "gate": (
        st.fixed_dictionaries(
            {"url": _pick("https://app.example.com", "https://app.example.com/base/", "http://[::1]:8080")},
            optional={"probePath": ok_paths, "spec": st.just({"interval": 10, "duration": 60})},
        ),
        st.fixed_dictionaries(
            {"url": edgy_urls},
            optional={
                "previewUrl": edgy_urls,
                "probePath": edgy_paths,
                "spec": st.fixed_dictionaries(
                    {},
                    optional={
                        "duration": _pick(math.inf, -1, True),
                        "interval": _pick(0, math.nan),
                        "probes": st.just([]),
                    },
                ),
            },
        ),
    ),
    "expose": (
        st.fixed_dictionaries(
            {
                "hosts": st.lists(
                    _pick("app.example.com", "*.apps.example.com", "web-1.example.org"),
                    min_size=1,
                    max_size=2,
                    unique=True,
                )
            }
        ),
        st.fixed_dictionaries(
            {
                "hosts": st.one_of(
                    st.lists(
                        _pick(
                            "App.example.com",
                            "10.0.0.1",
                            "localhost",
                            "a." + "b" * 64 + ".com",
                            "*",
                            "a..b",
                            "x" * 250 + ".com",
                        ),
                        max_size=2,
                    ),
                    _pick("app.example.com", 7),
                )
            },
            optional={
                "previewHosts": st.lists(_pick("preview.example.com", "app.example.com"), max_size=1),
                "gateways": _pick(["istio-ingress/public"], ["public"], []),
                "tlsSecret": _pick("app-tls", "App_TLS"),
            },
        ),
    ),
}
names = (
    st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
    _pick("1app", "App", "a-", "web_app", "x" * 52, "y" * 55, "z" * 57, "q" * 64, "on", "yes", "true", "off"),
)
strategies = {
    "dev": _pick("rolling"),
    "test": _pick("rolling"),
    "staging": _pick("canary", "rolling"),
    "production": _pick("blue-green", "canary", "rolling"),
}


# Keys that end up in plain text (the ConfigMap, the gate spec, the Deployment), where a
# credential must be refused whatever the key.
PLAIN_KEYS = ("databaseHost", "databaseName", "apiBaseUrl", "logLevel")


@st.composite
def stack_configs(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
    """A stack, the config keys to set in it (one or two apps, maybe a namespace, a quota, a
    plain key holding a credential or hard text), and whether YAML 1.1 words go unquoted."""
    stack = draw(st.sampled_from(STACKS))
    mode = draw(_pick("fine", "one edgy field", "edgy at random"))
    keys = sorted(FIELDS)
    others = ["name", "strategy", "namespace", "namespaceQuota", "plain"]
    edgy_field = draw(st.sampled_from(keys + others)) if mode == "one edgy field" else None

    def edgy(field: str) -> bool:
        return field == edgy_field or (mode == "edgy at random" and draw(st.booleans()))

    apps: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 2))):
        name = draw(names[1] if edgy("name") else names[0])
        strategy = draw(_pick("bluegreen", "canary", "blue-green") if edgy("strategy") else strategies[stack])
        app: dict[str, Any] = {"image": draw(FIELDS["image"][1] if edgy("image") else FIELDS["image"][0])}
        app["strategy"] = strategy
        chosen = draw(st.sets(st.sampled_from(keys), max_size=4))
        for field in chosen | ({edgy_field} & set(keys) if edgy_field else set()):
            app[field] = draw(FIELDS[field][1] if edgy(field) else FIELDS[field][0])
        if strategy == "canary" and draw(st.booleans()):
            app["canary"] = {
                "weight": draw(st.integers(1, 100) if not draw(st.booleans()) else st.just(0)),
                "image": "ghcr.io/example/flutter-app:1.6.0",
                **({"mirror": draw(_pick(50, 100, 0, 101))} if draw(st.booleans()) else {}),
            }
        if strategy == "rolling" and draw(st.booleans()):
            replicas = app.get("replicas", 2) if isinstance(app.get("replicas"), int) else 2
            app["autoscaling"] = {"minReplicas": 1, "maxReplicas": max(replicas, 1) + draw(st.integers(0, 3))}
        apps[name] = app
    config: dict[str, Any] = {"flutter-app:apps": apps}
    if stack in ("staging", "production") and draw(st.booleans()):
        # The Gateway API mode, on the sandbox's Gateway (gateway-system/public).
        gateway = {"name": "public", "namespace": draw(_pick("gateway-system", "gateway-system", "Gateway"))}
        config["flutter-app:cluster"] = {"traffic": "gateway-api", "gateway": gateway}
    if edgy("plain"):
        value = draw(st.one_of(credentials, hard_text))
        key = draw(st.sampled_from(PLAIN_KEYS))
        config[f"flutter-app:{key}"] = value if draw(st.booleans()) else f"db.example.com/{value}"
        if draw(st.booleans()):  # as an image tag too
            next(iter(apps.values()))["image"] = f"ghcr.io/example/app:{value}"
    if edgy("namespace"):
        config["flutter-app:namespace"] = draw(_pick("kube-system", "default", "Team-A", "n" * 64))
    if edgy("namespaceQuota"):
        config["flutter-app:namespaceQuota"] = {"pods": draw(counts), "limits": {"cpu": draw(quantities)}}
    elif draw(st.booleans()):
        config["flutter-app:namespaceQuota"] = {
            "pods": 200,
            "requests": {"cpu": "40", "memory": "80Gi"},
            "limits": {"cpu": "80", "memory": "160Gi"},
        }
    return stack, config, draw(st.booleans())


def _credentials_in(value: Any) -> list[str]:
    """The generated credentials' bodies in ``value`` (a config), which no output may hold."""
    text = yaml.safe_dump(value)
    return [
        m.group(0)[-12:] for m in re.finditer(r"[A-Za-z0-9/+_-]{16,}", text) if _looks_generated(m.group(0))
    ]


def _looks_generated(token: str) -> bool:
    return (
        any(c.isdigit() for c in token)
        and any(c.isupper() for c in token)
        and any(c.islower() for c in token)
    )


def _unquote_words(text: str) -> str:
    """The dumped stack file with the YAML 1.1 words as a person types them: unquoted."""
    return re.sub(r"'(" + "|".join(WORDS) + r")'(?=:|$)", r"\1", text, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("generated")
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "policies", project / "policies", ignore=shutil.ignore_patterns("venv", "__pycache__")
    )
    return project


@pytest.fixture(scope="module")
def refusals() -> Refusals:
    """What the rendered manifests must pass. Where the sandbox's API server runs, append a
    checker doing a server-side dry run of the manifests (`kubectl apply --dry-run=server`)."""
    return Refusals()


@settings(
    # 40 renders take about 20 s on 2 cores; GENERATED_CONFIGS=500 for a longer hunt.
    max_examples=int(os.environ.get("GENERATED_CONFIGS", "40")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(generated=stack_configs())
def test_every_generated_config_renders_valid_manifests_or_exits_2(
    workdir: Path, refusals: Refusals, generated: tuple[str, dict[str, Any], bool]
) -> None:
    stack, config, unquoted = generated
    path = workdir / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    document["config"].pop("flutter-app:apps")
    document["config"].update(config)
    text = yaml.safe_dump(document, sort_keys=False)
    path.write_text(_unquote_words(text) if unquoted else text)
    generated_credentials = _credentials_in(config)
    never_shown = (*NEVER_SHOWN, *generated_credentials)
    event("generated credentials" if generated_credentials else "no generated credential")
    event("YAML 1.1 words unquoted" if unquoted else "words quoted")
    out = workdir / f"out-{next(_runs)}"
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(
        ["--cwd", str(workdir), "render", "--stack", stack, "--out", str(out)], out=stdout, err=stderr
    )
    errors = stderr.getvalue()
    event(f"exit {code}")
    assert "Traceback" not in errors
    assert not [c for c in never_shown if c in errors + stdout.getvalue()], errors
    if code == 2:
        assert errors.startswith(f"error: invalid config for stack '{stack}'"), errors
        assert all(line.startswith("  - flutter-app:") for line in errors.splitlines()[1:]), errors
        assert not out.exists(), "a refused render wrote files"
        return
    assert code in (0, 3), f"exit {code}:\n{errors}"  # 3: a policy verdict on what was written
    written = (out / stack / "manifests.yaml").read_text() + (out / stack / "resources.json").read_text()
    assert not [c for c in never_shown if c in written]
    manifests = list(yaml.safe_load_all((out / stack / "manifests.yaml").read_text()))
    refused = refusals(manifests)
    assert not refused, "exit {} with objects the API server would refuse:\n{}".format(
        code, "\n".join(refused)
    )
    shutil.rmtree(out)
