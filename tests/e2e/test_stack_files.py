"""The stack file read by rollout (rollout/yamlfile.py) as the real Pulumi CLI reads it: the same
values for the words YAML 1.1 and YAML 1.2 read differently (on, yes, 0777, 1:30, ...), and what
the CLI refuses, rollout refuses too. The CLI's reading is `pulumi config --json`."""

from __future__ import annotations

import json
from typing import Any

from rollout.yamlfile import YamlFileError, parse_yaml
from tests.e2e.sandbox import Project

WORDS = """\
config:
  flutter-app:debugMode: yes
  flutter-app:featureBeta: on
  flutter-app:words:
    on: {off: no, yes: y, n: N}
    true: True
    octal: 0777
    hex: 0x1F
    binary: 0b101
    underscores: 1_000
    float: 1.5e3
    sexagesimal: 1:30
    leading: 08
    nothing: ~
    date: 2001-12-14
"""


def cli_values(project: Project, stack: str) -> dict[str, Any]:
    shown = json.loads(project.pulumi("config", "--json", stack=stack).stdout)
    return {key: entry.get("objectValue", entry.get("value")) for key, entry in shown.items()}


def test_yaml_words_read_as_the_pulumi_cli_reads_them(e2e_project: Project) -> None:
    stack = e2e_project.new_stack("words", {})
    path = e2e_project.stack_file(stack)
    salt = path.read_text().split("config:")[0]
    path.write_text(salt + WORDS)
    ours = parse_yaml(salt + WORDS, path.name)["config"]
    theirs = cli_values(e2e_project, stack)
    for key in ("flutter-app:debugMode", "flutter-app:featureBeta"):
        assert (
            theirs[key] == ours[key] == {"flutter-app:debugMode": "yes", "flutter-app:featureBeta": "on"}[key]
        )
    # Objects: the CLI hands them to programs as JSON, where keys are strings.
    assert json.loads(json.dumps(ours["flutter-app:words"])) == theirs["flutter-app:words"], (
        ours["flutter-app:words"],
        theirs["flutter-app:words"],
    )


def test_what_the_cli_refuses_rollout_refuses(e2e_project: Project) -> None:
    stack = e2e_project.new_stack("refused", {})
    path = e2e_project.stack_file(stack)
    salt = path.read_text().split("config:")[0]
    for text in ("config:\n  a: &x [*x]\n", "config:\n  a: [1\n", "config:\n  a: 1\n  a: 2\n"):
        path.write_text(salt + text)
        cli = e2e_project.pulumi("config", "--json", stack=stack, check=False)
        assert cli.returncode != 0, text
        try:
            parse_yaml(salt + text, path.name)
        except YamlFileError:
            continue
        raise AssertionError(f"rollout read what the CLI refuses: {text!r}")
