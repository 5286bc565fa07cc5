"""Bad input to `rollout render`, one table per family: every row exits 2 with a message naming
the key, the value and what was expected, writes no file, and shows no traceback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rollout.cli import main

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
    assert f"--out {target}: {target} exists and is not a directory" in err.getvalue()
    assert target.read_text() == "not a directory"
    nested = target / "deeper"
    code = main(
        ["--cwd", str(project), "render", "--stack", "dev", "--out", str(nested)], out=io.StringIO(), err=err
    )
    assert code == 2 and "Traceback" not in err.getvalue()
