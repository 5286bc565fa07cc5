"""Read a user's YAML file (project, stack, gate spec) as strictly as the Pulumi CLI reads stack
files: one document, and a key written twice in the same mapping is an error naming the key and
both lines. PyYAML alone keeps the last one silently, which drops an app or changes a count."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlFileError(Exception):
    """A file that is not one valid YAML document; ``problems`` lists each reason."""

    def __init__(self, summary: str, problems: list[str] | None = None) -> None:
        self.summary = summary
        self.problems = problems or []
        super().__init__("\n".join([summary, *[f"  - {p}" for p in self.problems]]))


def _path_text(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "(top level)"


def _duplicates(node: yaml.Node, path: tuple[str, ...], seen: set[int]) -> Iterator[tuple[int, str]]:
    # Walk the composed node graph (before construction, where the repetition is still visible).
    # An alias points at a node already walked: `seen` keeps recursive anchors finite.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            # `<<: *anchor` merges defaults that explicit keys may override: not a repetition.
            if key_node.tag == _MERGE_TAG:
                continue
            name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode):
                identity = (key_node.tag, key_node.value)
                if identity in first:
                    where = _path_text(path)
                    yield (
                        line,
                        f"key '{name}' in {where} is repeated at line {line} (first at line "
                        f"{first[identity]}): YAML keeps only the last one; remove or merge one of them",
                    )
                else:
                    first[identity] = line
            yield from _duplicates(value_node, (*path, name), seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicates(item, (*path[:-1], f"{path[-1] if path else ''}[{index}]"), seen)


def _at(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _syntax_error(source: str, error: yaml.YAMLError) -> YamlFileError:
    # The construct that is broken starts at the context mark (an unclosed "[" on line 24); the
    # parser notices at the problem mark, often lines later. Name the start first.
    context, problem = getattr(error, "context", None), getattr(error, "problem", None)
    context_mark, problem_mark = getattr(error, "context_mark", None), getattr(error, "problem_mark", None)
    if (
        context
        and context_mark is not None
        and problem_mark is not None
        and context_mark.line != problem_mark.line
    ):
        text = f"at {_at(context_mark)} ({context}): at {_at(problem_mark)}, {problem}"
    elif problem_mark is not None:
        text = f"at {_at(problem_mark)}: {', '.join(s for s in (context, problem) if s) or error}"
    else:
        text = f": {', '.join(s for s in (context, problem) if s) or error}"
    return YamlFileError(f"{source}: not valid YAML {text}".replace("YAML :", "YAML:"))


def parse_yaml(text: str, source: str) -> Any:
    """The one document in ``text`` (None when empty); YamlFileError naming ``source`` otherwise."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise _syntax_error(source, error) from None
    if node is None:
        return None
    duplicates = [text for _, text in sorted(_duplicates(node, (), set()))]
    if duplicates:
        count = len(duplicates)
        raise YamlFileError(f"{source}: {count} repeated key{'s' if count != 1 else ''}:", duplicates)
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        raise _syntax_error(source, error) from None
    finally:
        loader.dispose()


def read_yaml(path: Path, source: str | None = None) -> Any:
    """Read and parse ``path``; YamlFileError (also when the file cannot be read) naming it as
    ``source`` (default: its file name)."""
    source = source or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise YamlFileError(f"{source}: cannot read it ({reason})") from None
    return parse_yaml(text, source)
