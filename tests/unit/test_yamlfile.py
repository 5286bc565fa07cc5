"""The strict YAML reader: every repeated key named with its path and both lines, merges and
anchors allowed, one document only."""

from __future__ import annotations

import pytest

from rollout.yamlfile import YamlFileError, parse_yaml


def problems(text: str) -> list[str]:
    with pytest.raises(YamlFileError) as caught:
        parse_yaml(text, "f.yaml")
    return caught.value.problems or [caught.value.summary]


def test_every_repeated_key_is_listed_with_its_path_and_lines() -> None:
    text = "a:\n  b: 1\n  b: 2\nlist:\n  - x: 1\n    x: 2\na: 3\n"
    assert problems(text) == [
        "key 'b' in a is repeated at line 3 (first at line 2): YAML keeps only the last one; "
        "remove or merge one of them",
        "key 'x' in list[0] is repeated at line 6 (first at line 5): YAML keeps only the last one; "
        "remove or merge one of them",
        "key 'a' in (top level) is repeated at line 7 (first at line 1): YAML keeps only the last one; "
        "remove or merge one of them",
    ]


def test_valid_documents_load_as_pyyaml_would() -> None:
    text = "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nempty:\n"
    assert parse_yaml(text, "f.yaml") == {"base": {"x": 1, "y": 2}, "use": {"x": 1, "y": 3}, "empty": None}
    assert parse_yaml("", "f.yaml") is None


def test_a_recursive_anchor_is_refused_at_once() -> None:
    with pytest.raises(YamlFileError, match="refers to a value that contains it"):
        parse_yaml("a: &x [*x]\n", "f.yaml")
    with pytest.raises(YamlFileError, match="refers to a value that contains it"):
        parse_yaml("a: &x {b: [1, {c: *x}]}\n", "f.yaml")
    assert parse_yaml("a: &x [1]\nb: *x\nc: [*x, *x]\n", "f.yaml") == {"a": [1], "b": [1], "c": [[1], [1]]}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        # The line where the broken construct starts first, then where the parser noticed.
        ("a: [1\n", "f.yaml: not valid YAML at line 1, column 4 (while parsing a flow sequence): at line 2"),
        (
            "config:\n  hosts: [a.example.com\n  other: 1\n  more: 2\n",
            "f.yaml: not valid YAML at line 2, column 10 (while parsing a flow sequence): at line 3",
        ),
        ("a: 1\n---\nb: 2\n", "expected a single document in the stream"),
        ("? [a]\n: 1\n", "unhashable key"),
    ],
)
def test_syntax_errors_name_the_file_and_line(text: str, fragment: str) -> None:
    assert fragment in " ".join(problems(text))
