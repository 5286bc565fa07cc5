"""Every release step's ownership (rollout/plan.py) against the real program under the SDK's mock
monitor: walk each strategy's release step by step, apply the step's config change as `pulumi
config set --path` would, and compare what the program declares before and after. What a step
keeps never changes; what it creates or deletes it owns; and every role a step names is a
resource the program declares, so a renamed resource cannot silently weaken the check that runs
before each step under the real engine (tests/e2e)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.app_settings import AppSettings
from components.settings import parse_settings
from rollout.offline.engine import ProgramRun
from rollout.offline.render import clean
from rollout.plan import Change, Step, plan_release
from tests.support.project import edit_stack, run_stack, set_app

NEW = "ghcr.io/example/flutter-app:1.5.0"
PREFIX = "flutter-app:"


def _typed(text: str) -> Any:
    # As `pulumi config set --path` stores a value inside an object: true/false and integers typed.
    if text in ("true", "false"):
        return text == "true"
    return int(text) if text.isdigit() and not (len(text) > 1 and text.startswith("0")) else text


def apply(config: dict[str, Any], change: Change) -> None:
    for key, value in change.set.items():
        top, *path = key.removeprefix(PREFIX).split(".")
        node = config[f"{PREFIX}{top}"]
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _typed(value)
    for key in change.remove:
        top, *path = key.removeprefix(PREFIX).split(".")
        node = config[f"{PREFIX}{top}"]
        for part in path[:-1]:
            node = node[part]
        node.pop(path[-1], None)


def declared(run: ProgramRun) -> dict[str, Any]:
    return {r.urn.rsplit("::", 1)[-1]: clean(r.inputs) for r in run.resources}


def walk(
    project: Path, stack: str, steps: tuple[Step, ...]
) -> list[tuple[Step, dict[str, Any], dict[str, Any]]]:
    """Each step with what the program declared before and after it."""
    walked = []
    before = declared(run_stack(project, stack))
    for step in steps:
        edit_stack(project, stack, functools.partial(apply, change=step.change))
        after = declared(run_stack(project, stack))
        walked.append((step, before, after))
        before = after
    return walked


def app_settings(project: Path, stack: str) -> AppSettings:
    document = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())
    plain = {
        k.removeprefix(PREFIX): v
        for k, v in document["config"].items()
        if not (isinstance(v, dict) and "secure" in v)
    }
    return parse_settings(plain, stack=stack).apps["flutter-app"]


GATEWAY_API = {
    "flutter-app:cluster": {
        "traffic": "gateway-api",
        "gateway": {"name": "public", "namespace": "gateway-system"},
    }
}
# Each traffic mode declares its own routing objects; a canary step owns both kinds by name.
OTHER_MODE = {
    "istio": {"flutter-app-http-route"},
    "gateway-api": {"flutter-app-virtual-service", "flutter-app-destination-rule"},
}


@pytest.mark.parametrize(
    ("stack", "strategy", "scale_down", "mode", "mirror"),
    [
        ("dev", "rolling", False, "ingress", None),
        ("production", "blue-green", True, "istio", None),
        ("production", "blue-green", False, "gateway-api", None),
        ("staging", "canary", False, "istio", None),
        ("staging", "canary", False, "istio", 100),
        ("staging", "canary", False, "gateway-api", 50),
    ],
)
def test_each_step_changes_only_what_it_owns(
    project: Path, stack: str, strategy: str, scale_down: bool, mode: str, mirror: int | None
) -> None:
    if strategy == "rolling":
        set_app(project, stack, gate={"url": "https://dev.example.com"})
    if mode == "gateway-api":
        edit_stack(project, stack, lambda config: config.update(GATEWAY_API))
    if mirror:
        edit_stack(
            project,
            stack,
            lambda config: (
                config["flutter-app:apps"]["flutter-app"].setdefault("canary", {}).update(mirror=mirror)
            ),
        )
    plan = plan_release("flutter-app", app_settings(project, stack), NEW, scale_down_idle=scale_down)
    assert plan.strategy == strategy
    seen: set[str] = set()
    for step, before, after in walk(project, stack, plan.steps):
        seen |= before.keys() | after.keys()
        changed = {name for name in before.keys() & after.keys() if before[name] != after[name]}
        created, deleted = after.keys() - before.keys(), before.keys() - after.keys()
        assert not (changed | created | deleted) & step.ownership.keeps, step.name
        assert (created | deleted) <= step.ownership.owns, step.name
        assert changed, f"{step.name}: changes nothing"
    named = {name for step in plan.steps for name in step.ownership.owns | step.ownership.keeps}
    missing = named - seen - OTHER_MODE.get(mode, set())
    assert not missing, f"roles the program never declares: {sorted(missing)}"
    if mirror:
        assert plan.steps[0].name == f"mirror {mirror}%" and plan.steps[1].name == "canary 5%"
