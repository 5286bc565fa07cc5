"""Read a user's YAML file (project, stack, gate spec) as the Pulumi CLI reads stack files, and as
strictly: one document; a key written twice in the same mapping is an error naming the key and
both lines (PyYAML alone keeps the last one silently, which drops an app or changes a count); and
plain words resolved as go-yaml v3 resolves them (the CLI's parser): only true/false are
booleans, so an app named ``on`` or ``yes`` stays a name and ``debugMode: yes`` is the word "yes"
(YAML 1.1, PyYAML's default, would read both as true), ``0777`` is octal and ``1:30`` is text.

Keys are text, as the CLI hands config objects to a program: a key that is not a string becomes
what Go's ``fmt.Sprintf("%v", key)`` makes of its value (the CLI's config/object.go), so ``true``
and ``True`` both become "true", ``1.0`` becomes "1" and ``~`` becomes "<nil>". go-yaml refuses
two keys of the same text (``'true'`` and ``true`` included); two keys of different text that
become the same key are kept by go-yaml and collapse silently in the CLI (one app of two
dropped): both are refused here, naming both keys.

Bounded whatever the input: a file that is not a regular file or is larger than MAX_FILE_BYTES is
refused before it is read, and so is a document nested deeper than MAX_DEPTH or whose aliases
expand to more than MAX_VALUES values or MAX_CHARS characters (a "billion laughs" file: a few
kilobytes that expand to gigabytes once a long string is referenced 100,000 times), computed on
the parsed nodes before anything is expanded or serialised."""

from __future__ import annotations

import math
import re
import stat
from collections.abc import Hashable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import yaml

from rollout.files import what_it_is

_MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_FILE_BYTES: Final = 4 * 1024 * 1024
MAX_DEPTH: Final = 64
MAX_VALUES: Final = 200_000
MAX_CHARS: Final = MAX_FILE_BYTES
"""Characters of scalars once aliases are expanded: no more than a file without aliases can hold."""


class PulumiYamlLoader(yaml.SafeLoader):
    """SafeLoader with go-yaml v3's resolution of plain scalars (gopkg.in/yaml.v3 resolve.go) and
    the CLI's text keys (see key_text)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        # SafeConstructor's, with text keys: in Python True == 1 == 1.0 would merge keys the CLI
        # keeps apart ("true", "1"), and a key of another type would reach the program as JSON's
        # text of it ("null", "1.0"), not the CLI's ("<nil>", "1").
        self.flatten_mapping(node)
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found unhashable key",
                    key_node.start_mark,
                )
            mapping[key_text(key)] = self.construct_object(value_node, deep=deep)
        return mapping


def _go_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    # strconv.ParseInt(text, 0, 64) after removing "_": 0x.., 0o.., 0b.. and a legacy 0777 octal.
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if len(digits) > 1 and digits[0] == "0" and digits[1] in "0123456789":
        return sign * int(digits, 8)
    return sign * int(digits, 0)


def _go_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    special = {".nan": float("nan"), ".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf")}
    return special.get(text.lower()) or float(text.replace("_", ""))


_TIMESTAMP = re.compile(
    r"^(?P<date>[0-9]{4}-[0-9]{1,2}-[0-9]{1,2})"
    r"(?:[Tt ](?P<time>[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2})(?P<fraction>\.[0-9]+)?"
    r"(?P<zone>Z|[-+][0-9]{2}:?[0-9]{2})?)?$"
)


def _go_time(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    # go-yaml v3 decodes a timestamp to time.Time, which Pulumi's config then shows as Go's
    # String(): "2001-12-14 00:00:00 +0000 UTC".
    text = str(loader.construct_scalar(node))
    match = _TIMESTAMP.match(text)
    if match is None:
        return text
    year, month, day = (int(part) for part in match["date"].split("-"))
    hour, minute, second = (int(part) for part in (match["time"] or "0:0:0").split(":"))
    fraction = (match["fraction"] or "").rstrip("0").rstrip(".")
    zone = match["zone"] or "Z"
    offset = "+0000 UTC" if zone == "Z" else f"{zone.replace(':', '')} {zone.replace(':', '')}"
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}{fraction} {offset}"


PulumiYamlLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    (
        "tag:yaml.org,2002:int",
        r"^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$",
        "-+0123456789",
    ),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    ("tag:yaml.org,2002:merge", r"^<<$", "<"),
    ("tag:yaml.org,2002:timestamp", _TIMESTAMP.pattern, "0123456789"),
):
    PulumiYamlLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
PulumiYamlLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])
PulumiYamlLoader.add_constructor("tag:yaml.org,2002:int", _go_int)
PulumiYamlLoader.add_constructor("tag:yaml.org,2002:float", _go_float)
PulumiYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _go_time)


def _go_float_text(value: float) -> str:
    # strconv.FormatFloat(value, 'g', -1, 64), as %v prints a float64: the shortest digits that
    # read back the same, in exponent form below 1e-4 or from 1e+06 (1e+06, 1.5e-05, 123456.7).
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    while len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    point = len(digits) + exponent - 1
    minus = "-" if sign else ""
    if point < -4 or point >= 6:
        mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
        return f"{minus}{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"
    return minus + format(Decimal((0, digits, exponent)), "f")


def key_text(key: Any) -> str:
    """A mapping key as the Pulumi CLI names it: ``fmt.Sprintf("%v", key)`` of the value go-yaml
    resolved it to (timestamps are already Go's text, see _go_time)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "<nil>"
    if isinstance(key, float):
        return _go_float_text(key)
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    return str(key)


class YamlFileError(Exception):
    """A file that is not one valid YAML document; ``problems`` lists each reason."""

    def __init__(self, summary: str, problems: list[str] | None = None) -> None:
        self.summary = summary
        self.problems = problems or []
        super().__init__("\n".join([summary, *[f"  - {p}" for p in self.problems]]))


def _path_text(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "(top level)"


def _resolved_key(loader: PulumiYamlLoader, node: yaml.ScalarNode) -> str:
    try:
        return key_text(loader.construct_object(node))
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):
        # A bad explicit tag (`!!int x`): construction reports it; here the key is its text.
        return str(node.value)


def _duplicates(
    node: yaml.Node, path: tuple[str, ...], seen: set[int], loader: PulumiYamlLoader
) -> Iterator[tuple[int, str]]:
    # Walk the composed node graph (before construction, where the repetition is still visible).
    # An alias points at a node already walked: `seen` keeps recursive anchors finite.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        # go-yaml's own check compares the keys' text whatever their tags ('true' and true);
        # the second compares what the CLI makes of them (true and True are both "true").
        first: dict[str, int] = {}
        resolved: dict[str, tuple[str, int]] = {}
        for key_node, value_node in node.value:
            # `<<: *anchor` merges defaults that explicit keys may override: not a repetition.
            if key_node.tag == _MERGE_TAG:
                continue
            name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            where = _path_text(path)
            if isinstance(key_node, yaml.ScalarNode):
                text = _resolved_key(loader, key_node)
                if name in first:
                    yield (
                        line,
                        f"key '{name}' in {where} is repeated at line {line} (first at line "
                        f"{first[name]}): YAML keeps only the last one; remove or merge one of them",
                    )
                elif text in resolved:
                    other, other_line = resolved[text]
                    yield (
                        line,
                        f"keys '{other}' (line {other_line}) and '{name}' (line {line}) in {where} are "
                        f"both the key '{text}' as the Pulumi CLI reads them: it keeps one and silently "
                        "drops the other; rename or remove one of them",
                    )
                first.setdefault(name, line)
                resolved.setdefault(text, (name, line))
                name = text
            yield from _duplicates(value_node, (*path, name), seen, loader)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicates(item, (*path[:-1], f"{path[-1] if path else ''}[{index}]"), seen, loader)


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


class _Cycle(Exception):
    """An alias refers to a value that contains it."""


def _size(node: yaml.Node) -> tuple[int, int, int]:
    """(values, depth, characters of the scalars) of the document once its aliases are expanded,
    computed without expanding them: each node is counted once (an alias is another reference to
    a node already counted). _Cycle when a value contains an alias of itself (it would expand
    without end)."""
    memo: dict[int, tuple[int, int, int]] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    for _ in range(10 * MAX_VALUES):
        if not stack:
            return memo[id(node)]
        current, children_done = stack.pop()
        if id(current) in memo:
            continue
        if isinstance(current, yaml.MappingNode):
            children = [item for pair in current.value for item in pair]
        elif isinstance(current, yaml.SequenceNode):
            children = list(current.value)
        else:
            children = []
        if children_done or not children:
            open_nodes.discard(id(current))
            values = 1 + sum(memo[id(c)][0] for c in children)
            depth = 1 + max((memo[id(c)][1] for c in children), default=0)
            chars = sum(memo[id(c)][2] for c in children) if children else len(str(current.value))
            # Capped: a bomb's counts grow exponentially with its size.
            memo[id(current)] = (min(values, 10 * MAX_VALUES), depth, min(chars, 10 * MAX_CHARS))
            continue
        if any(id(child) in open_nodes or child is current for child in children):
            raise _Cycle
        open_nodes.add(id(current))
        stack.append((current, True))
        stack += [(child, False) for child in children if id(child) not in memo]
    return 10 * MAX_VALUES, 0, 10 * MAX_CHARS


def parse_yaml(text: str, source: str) -> Any:
    """The one document in ``text`` (None when empty); YamlFileError naming ``source`` otherwise."""
    try:
        node = yaml.compose(text, Loader=PulumiYamlLoader)
    except yaml.YAMLError as error:
        raise _syntax_error(source, error) from None
    except RecursionError:
        raise YamlFileError(f"{source}: nested deeper than {MAX_DEPTH} levels; refused") from None
    if node is None:
        return None
    try:
        values, depth, chars = _size(node)
    except _Cycle:
        raise YamlFileError(
            f"{source}: an alias (*name) refers to a value that contains it, which expands without end"
        ) from None
    if depth > MAX_DEPTH:
        raise YamlFileError(f"{source}: nested {depth} levels deep; at most {MAX_DEPTH} are accepted")
    if values > MAX_VALUES:
        raise YamlFileError(
            f"{source}: its aliases (*name) expand to more than {MAX_VALUES} values; refused, as the "
            "Pulumi CLI refuses excessive aliasing"
        )
    if chars > MAX_CHARS:
        raise YamlFileError(
            f"{source}: its aliases (*name) expand to more than {MAX_CHARS} characters (a file without "
            f"aliases holds at most {MAX_FILE_BYTES} bytes); refused before anything is expanded"
        )
    resolver = PulumiYamlLoader("")
    try:
        duplicates = [text for _, text in sorted(_duplicates(node, (), set(), resolver))]
    finally:
        resolver.dispose()
    if duplicates:
        count = len(duplicates)
        raise YamlFileError(f"{source}: {count} repeated key{'s' if count != 1 else ''}:", duplicates)
    loader = PulumiYamlLoader("")
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
        info = path.stat()  # follows links: a loop or a dangling one fails here
        if not stat.S_ISREG(info.st_mode):
            raise YamlFileError(f"{source}: is {what_it_is(info.st_mode)}; expected a YAML file")
        if info.st_size > MAX_FILE_BYTES:
            raise YamlFileError(f"{source}: is {info.st_size} bytes; at most {MAX_FILE_BYTES} are accepted")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise YamlFileError(f"{source}: cannot read it ({reason})") from None
    return parse_yaml(text, source)
