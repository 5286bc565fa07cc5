"""Planning without the `pulumi` CLI: a stack's current config read from its stack file
(Pulumi.<stack>.yaml, as rollout/offline/project.py reads it for `rollout render`).

The stack file holds the config `pulumi config set` writes, so a release can be planned from it.
History (earlier versions and their configs) lives in the stack's backend, which only the CLI
reads: a rollback cannot be planned from the file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from components.settings import StackSettings
from components.validation import ConfigError
from rollout.exit_codes import CommandError
from rollout.history import ConfigEntry, ConfigMap
from rollout.offline.project import ProjectError, StackConfig, read_stack_config, stack_settings


def cli_on_path() -> bool:
    """Whether the Automation API would find a `pulumi` executable (it runs `pulumi` from PATH)."""
    return shutil.which("pulumi") is not None


def _read(directory: Path, stack: str) -> StackConfig:
    try:
        config, problems = read_stack_config(directory, stack)
    except ProjectError as error:
        raise CommandError(str(error)) from None
    if problems:
        raise CommandError(str(ConfigError(stack, problems)))
    return config


def file_settings(directory: Path, stack: str) -> StackSettings:
    """The stack's settings from its stack file, checked as the program checks them."""
    try:
        return stack_settings(_read(directory, stack))
    except ConfigError as error:
        raise CommandError(str(error)) from None


def file_config(directory: Path, stack: str) -> ConfigMap:
    """The stack file's config as `pulumi config --json` would list it (secrets without values)."""
    config = _read(directory, stack)
    entries: dict[str, ConfigEntry] = {}
    for key, text in config.values.items():
        if key in config.secret_keys:
            entries[key] = ConfigEntry(None, secret=True)
            continue
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict | list):
            entries[key] = ConfigEntry(text, object_value=parsed, is_object=True)
        else:
            entries[key] = ConfigEntry(text)
    return entries
