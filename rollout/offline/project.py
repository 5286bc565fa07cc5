"""Read a Pulumi project and one stack's config from disk, as the Pulumi CLI would hand it to
the program: Pulumi.yaml defaults, Pulumi.STACK.yaml values, declared types checked,
``secure:`` values kept secret (their plaintext cannot be known offline)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.settings import StackSettings, validate_config
from components.validation import ConfigError, Problem, show
from gates.text import escape_hidden, hidden_problem
from rollout.files import absent
from rollout.yamlfile import YamlFileError, read_yaml

# Stands in for a `secure:` value offline. Masked wherever it is written, like any secret.
SECRET_PLACEHOLDER = "[secret]"


class ProjectError(Exception):
    """The project or stack files cannot be used; ``problems`` lists each reason."""

    def __init__(self, summary: str, problems: list[str] | None = None) -> None:
        self.summary = summary
        self.problems = problems or []
        super().__init__("\n".join([summary, *[f"  - {p}" for p in self.problems]]))


@dataclass(frozen=True)
class StackConfig:
    """Config as the engine passes it to a program: ``ns:key`` -> text, plus which are secret."""

    project: str
    stack: str
    directory: Path
    main: Path
    values: dict[str, str] = field(default_factory=dict)
    secret_keys: frozenset[str] = frozenset()


def _read_mapping(path: Path) -> dict[Any, Any]:
    """The file's top-level mapping ({} for an empty file); ProjectError for anything else."""
    try:
        document = read_yaml(path)
    except YamlFileError as error:
        raise ProjectError(error.summary, error.problems) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ProjectError(f"{path.name}: expected a mapping of settings (got {_kind(document)})")
    return document


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else f"the {type(value).__name__} {json.dumps(value, default=str)}"


def _as_text(value: Any) -> str:
    """How the CLI hands a config value to a program: scalars as text, structure as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _type_problem(key: str, declared: str, value: Any) -> Problem | None:
    ok = {
        "string": isinstance(value, str | int | float) and not isinstance(value, bool),
        "integer": (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, str) and value.lstrip("-").isdigit()),
        "boolean": isinstance(value, bool) or value in ("true", "false"),
        "array": isinstance(value, list),
    }.get(declared, True)
    return None if ok else Problem(key, f"must be of type '{declared}' (got {show(value)})")


def _hidden_key_problems(path: str, value: Any) -> list[Problem]:
    """A key below ``path`` (an app, an environment variable) whose name holds control or format
    characters, named by the escaped key at its parent: the parent's key covers what the
    program's checks would say about anything below it."""
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _hidden_key_problems(f"{path}[{index}]", item)]
    if not isinstance(value, dict):
        return []
    problems: list[Problem] = []
    for key, item in value.items():
        if problem := hidden_problem(str(key)):
            problems.append(Problem(path, f"key '{escape_hidden(str(key))}' {problem}"))
        else:
            problems += _hidden_key_problems(f"{path}.{key}", item)
    return problems


def load_stack_config(directory: Path, stack: str) -> StackConfig:
    """Read Pulumi.yaml and Pulumi.<stack>.yaml; raise ProjectError naming each bad key."""
    config, problems = read_stack_config(directory, stack)
    if problems:
        raise ProjectError(
            f"invalid config for stack '{stack}' (Pulumi.{stack}.yaml):", [str(p) for p in problems]
        )
    return config


def read_stack_config(directory: Path, stack: str) -> tuple[StackConfig, list[Problem]]:
    """Read Pulumi.yaml and Pulumi.<stack>.yaml as the CLI would hand them to the program, with the
    problems the CLI would refuse per key (declared types, missing or empty values), so that a
    caller can list them with every other problem; ProjectError when the files cannot be used."""
    project_file = directory / "Pulumi.yaml"
    if absent(project_file):
        raise ProjectError(f"no Pulumi.yaml in {directory} (use --cwd to point at the project)")
    project = _read_mapping(project_file)
    name = project.get("name")
    if not isinstance(name, str) or not name:
        raise ProjectError("Pulumi.yaml: 'name' is required")
    for setting in ("stackConfigDir", "main"):
        if not isinstance(project.get(setting, ""), str):
            raise ProjectError(f"Pulumi.yaml: '{setting}' must be a path (got {_kind(project[setting])})")
    stack_dir = directory / project.get("stackConfigDir", ".")
    stack_file = stack_dir / f"Pulumi.{stack}.yaml"
    if absent(stack_file):
        available = sorted(
            p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in stack_dir.glob("Pulumi.*.yaml")
        )
        raise ProjectError(
            f"stack '{stack}' has no {stack_file.name}; stacks here: {', '.join(available) or 'none'}"
        )

    def qualify(key: str) -> str:
        return key if ":" in key else f"{name}:{key}"

    declared: dict[str, dict[str, Any]] = {}
    values: dict[str, Any] = {}
    project_config = project.get("config") or {}
    if not isinstance(project_config, dict):
        raise ProjectError(f"Pulumi.yaml: 'config' must be a mapping (got {_kind(project_config)})")
    for key, spec in project_config.items():
        key = str(key)
        if isinstance(spec, dict) and ("type" in spec or "default" in spec or "description" in spec):
            declared[qualify(key)] = spec
            if "default" in spec:
                values[qualify(key)] = spec["default"]
        else:
            values[qualify(key)] = spec

    stack_config = _read_mapping(stack_file).get("config") or {}
    if not isinstance(stack_config, dict):
        raise ProjectError(f"{stack_file.name}: 'config' must be a mapping (got {_kind(stack_config)})")
    secret_keys: set[str] = set()
    problems: list[Problem] = []
    empty: set[str] = set()
    for key, value in stack_config.items():
        full = qualify(str(key))
        if hidden := hidden_problem(full):
            # Not handed on: the program's own checks would repeat the name as it is.
            problems.append(Problem(escape_hidden(full), hidden))
            continue
        problems += _hidden_key_problems(full, value)
        if value is None:
            # Not a default, not "": the line is half-written. Naming it beats guessing.
            problems.append(Problem(full, "has no value (null); give it one or remove the line"))
            empty.add(full)
        elif isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.add(full)
            values[full] = SECRET_PLACEHOLDER
        else:
            values[full] = value

    problems += [
        Problem(key, f"required (declared in Pulumi.yaml without a default) but not set in {stack_file.name}")
        for key in sorted(declared)
        if key not in values and key not in empty
    ]
    for key, spec in declared.items():
        if key in values and key not in secret_keys and "type" in spec:
            problem = _type_problem(key, spec["type"], values[key])
            if problem:
                problems.append(problem)

    main = directory / project.get("main", ".")
    config = StackConfig(
        project=name,
        stack=stack,
        directory=directory,
        main=main / "__main__.py" if main.is_dir() else main,
        values={k: _as_text(v) for k, v in values.items()},
        secret_keys=frozenset(secret_keys),
    )
    return config, problems


def stack_settings(config: StackConfig) -> StackSettings:
    """The stack's settings, checked exactly as the program checks them (ConfigError otherwise)."""
    prefix = f"{config.project}:"
    texts = {key.removeprefix(prefix): text for key, text in config.values.items() if key.startswith(prefix)}
    secret = {key.removeprefix(prefix) for key in config.secret_keys if key.startswith(prefix)}
    return validate_config(texts, secret, stack=config.stack)


def _below(key: str, root: str) -> bool:
    return key == root or key.startswith((f"{root}.", f"{root}["))


def check_stack(directory: Path, stack: str) -> StackConfig:
    """Read the stack and check its settings before the program runs: ConfigError listing every
    problem at once, the files' own (a declared type, a missing value) and the settings' (each key
    named once), ProjectError when the files cannot be used."""
    config, problems = read_stack_config(directory, stack)
    named = {problem.key for problem in problems}
    try:
        stack_settings(config)
    except ConfigError as error:
        # A key the files already name is not named again, nor anything below it (apps: null is
        # not also a missing image).
        problems += [p for p in error.problems if not any(_below(p.key, key) for key in named)]
    if problems:
        raise ConfigError(stack, problems)
    return config
