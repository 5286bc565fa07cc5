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


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        # go-yaml v3 keeps both (their text differs), then the CLI's config/object.go names each by
        # fmt's %v: one silently replaces the other.
        (
            "a:\n  true: 1\n  True: 2\n",
            "keys 'true' (line 2) and 'True' (line 3) in a are both the key 'true'",
        ),
        ("a: {1: x, 0x1: y}\n", "keys '1' (line 1) and '0x1' (line 1) in a are both the key '1'"),
        ("a: {1: x, 1.0: y}\n", "are both the key '1'"),
        ("a: {~: x, null: y}\n", "are both the key '<nil>'"),
        ("a: {0o17: x, 017: y}\n", "are both the key '15'"),
        # go-yaml refuses two keys of the same text whatever their tags.
        ("a:\n  'true': 1\n  true: 2\n", "key 'true' in a is repeated at line 3 (first at line 2)"),
        ("a:\n  !!str 1: x\n  1: y\n", "key '1' in a is repeated at line 3 (first at line 2)"),
    ],
)
def test_keys_the_pulumi_cli_reads_as_one_are_refused_naming_both(text: str, fragment: str) -> None:
    assert any(fragment in p for p in problems(text)), problems(text)


def test_keys_are_text_as_the_cli_hands_objects_to_a_program() -> None:
    text = "a: {true: 1, 1: 2, 1.5: 3, 1000000.0: 4, 0.00001: 5, ~: 6, 2001-12-14: 7, .inf: 8}\n"
    assert parse_yaml(text, "f.yaml") == {
        "a": {
            "true": 1,
            "1": 2,  # in Python 1 == True: kept apart, as the CLI keeps them
            "1.5": 3,
            "1e+06": 4,
            "1e-05": 5,
            "<nil>": 6,
            "2001-12-14 00:00:00 +0000 UTC": 7,
            "+Inf": 8,
        }
    }


def test_a_long_string_through_aliases_is_refused_by_its_characters_before_expansion() -> None:
    import time

    text = "s: &l0 " + "x" * 30_000 + "\n"
    text += "".join(f"l{i + 1}: &l{i + 1} [{', '.join([f'*l{i}'] * 10)}]\n" for i in range(5))
    started = time.perf_counter()
    with pytest.raises(YamlFileError, match="expand to more than 4194304 characters"):
        parse_yaml(text, "f.yaml")
    assert time.perf_counter() - started < 2
    # The same aliases over a short string stay within bounds.
    assert len(parse_yaml(text.replace("x" * 30_000, "x"), "f.yaml")["l5"]) == 10
