"""Bad gate specs to `rollout gate`: every row exits 2 before anything is probed, naming the field,
the value (unless it may be a credential) and what was expected; no report is written and no
credential reaches stderr."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rollout.cli import main

SECRET = "s3cr3t-Pa55"
PROBE = "probes:\n  - url: http://127.0.0.1:9/health\n"

BAD_SPECS: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "IPv6 host never closed",
        "probes:\n  - url: http://[::1/health\n",
        ("probes[0].url", "'http://[::1/health'", "expected an http:// or https:// URL", "invalid ipv6 url"),
    ),
    (
        "port out of range",
        "probes:\n  - url: http://127.0.0.1:99999/health\n",
        ("probes[0].url", "'http://127.0.0.1:99999/health'", "port out of range 0-65535"),
    ),
    (
        "user info and a bad port",
        f"probes:\n  - url: https://ops:{SECRET}@127.0.0.1:99999/\n",
        ("probes[0].url", "'https://[redacted]@127.0.0.1:99999/'", "port out of range"),
    ),
    ("no host", "probes:\n  - url: 'https://:80'\n", ("probes[0].url", "'https://:80'", "with a host")),
    (
        "space in the URL",
        "probes:\n  - url: http://app .example.com/\n",
        ("probes[0].url", "whitespace or control characters"),
    ),
    ("infinite duration", PROBE + "duration: .inf\n", ("duration", "finite number", "got inf")),
    ("infinite max_hold", PROBE + "max_hold: .inf\n", ("max_hold", "finite number", "got inf")),
    ("not a number", PROBE + "interval: .nan\n", ("interval", "finite number", "got nan")),
    (
        "overflowing evaluations",
        PROBE + "interval: 1.0e-300\nduration: 60\n",
        ("interval", "at most 10000 evaluations"),
    ),
    ("a boolean interval", PROBE + "interval: true\n", ("interval", "valid number", "got True")),
    (
        "a token where its variable's name goes",
        PROBE
        + "prometheus:\n  url: http://127.0.0.1:9\n  bearer_token_env: 'Bearer "
        + SECRET
        + "'\nchecks:\n  - {name: e, template: error-rate}\n",
        ("prometheus.bearer_token_env", "expected the NAME of an environment variable"),
    ),
    (
        "a repeated key",
        PROBE + "interval: 10\ninterval: 5\n",
        ("key 'interval' in (top level) is repeated at line 4 (first at line 3)",),
    ),
    ("a list", "- probes\n", ("(spec): expected a mapping of gate settings, got list",)),
]


def run(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> tuple[int, str, Path]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    report = tmp_path / "reports" / "gate.json"
    err = io.StringIO()
    code = main(["gate", "--spec", str(spec), "--report", str(report)], out=io.StringIO(), err=err)
    return code, err.getvalue(), report


@pytest.mark.parametrize(("case", "text", "fragments"), BAD_SPECS, ids=[c[0] for c in BAD_SPECS])
def test_bad_specs_exit_2_naming_field_value_and_expectation(
    tmp_path: Path, case: str, text: str, fragments: tuple[str, ...]
) -> None:
    code, stderr, report = run(tmp_path, text)
    assert code == 2, stderr
    missing = [f for f in fragments if f not in stderr]
    assert not missing, f"{missing} not in:\n{stderr}"
    assert "Traceback" not in stderr and SECRET not in stderr
    assert not report.parent.exists()


def test_a_token_named_as_the_token_variable_is_not_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "ghp_" + "a1B2c3D4e5" * 3
    monkeypatch.delenv(token, raising=False)
    text = f"prometheus:\n  url: http://127.0.0.1:9\n  bearer_token_env: {token}\nchecks:\n  - {{name: e, template: error-rate}}\n"
    code, stderr, report = run(tmp_path, text)
    assert code == 2
    assert "prometheus.bearer_token_env: the environment variable it names (not shown" in stderr
    assert token not in stderr and not report.parent.exists()
