"""The GitHub Actions workflows: valid against the GitHub workflow JSON schema (SchemaStore's, as
vendored offline by the `check-jsonschema` package), and encoding the CD guide's pipeline —
branch -> environment, approvals through GitHub environments, verify first, a gate after deploys
and a rollback when it fails, pinned actions, secrets only from the secret store."""

from __future__ import annotations

import importlib.resources
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from rollout.commands.gate import load_spec_file
from tests.support.project import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
_SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
_SECRETISH = re.compile(r"(TOKEN|PASSWORD|PASSPHRASE|SECRET|WEBHOOK|KEY)", re.IGNORECASE)


def load(path: Path) -> Any:
    # YAML 1.2 (as GitHub reads workflows): `on` is a key, not the boolean PyYAML would make it.
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def schema(name: str, package: str = "vendor") -> Any:
    files = importlib.resources.files(f"check_jsonschema.builtin_schemas.{package}")
    return json.loads((files / name).read_text(encoding="utf-8"))


def steps(workflow: Any) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_workflow_files_exist() -> None:
    assert {p.name for p in FILES} == {"pull-request.yml", "deploy.yml", "deploy-stack.yml", "verify.yml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_valid_against_the_github_workflow_schema(path: Path) -> None:
    workflow = load(path)
    github = schema("github-workflows.json")
    validator = jsonschema.validators.validator_for(github)(github)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(workflow)]
    assert errors == []
    # Every job that runs steps has a timeout (check-jsonschema's own stricter schema).
    timeouts = schema("github-workflows-require-timeout.json", "custom")
    assert list(jsonschema.Draft7Validator(timeouts).iter_errors(workflow)) == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned_and_secrets_come_from_the_store(path: Path) -> None:
    workflow = load(path)
    for step in steps(workflow):
        if "uses" in step:
            assert _SHA_PIN.match(step["uses"]), f"{path.name}: {step['uses']} is not pinned to a commit"
    text = path.read_text(encoding="utf-8")
    for match in re.finditer(r"^[ \t]*([A-Z_]+):[ \t]*(\S.*)$", text, re.MULTILINE):
        name, value = match.groups()
        if _SECRETISH.search(name) and name != "ROLLOUT_WEBHOOK_KIND":
            assert value.strip().startswith("${{ secrets."), f"{path.name}: {name} must come from secrets"
    assert "aws-access-key-id" not in text and "aws-secret-access-key" not in text  # OIDC only


def test_reusable_workflows_and_gate_specs_referenced_exist() -> None:
    deploy = load(WORKFLOWS / "deploy.yml")
    for job in deploy["jobs"].values():
        if "uses" in job:
            assert (ROOT / job["uses"]).is_file()
            spec = job.get("with", {}).get("gate-spec")
            if spec:
                load_spec_file(ROOT / spec)  # parses and validates: raises otherwise


def test_branches_map_to_environments_with_verify_first() -> None:
    jobs = load(WORKFLOWS / "deploy.yml")["jobs"]
    expected = {
        "dev": "github.ref != 'refs/heads/main' && !startsWith(github.ref, 'refs/heads/release/')",
        "test": "github.ref == 'refs/heads/develop'",
        "staging": "startsWith(github.ref, 'refs/heads/release/')",
        "production": "github.ref == 'refs/heads/main'",
    }
    for stack, condition in expected.items():
        job = jobs[stack]
        assert job["if"] == condition
        assert job["with"]["stack"] == stack
        assert "verify" in job["needs"]
    assert jobs["dev"]["with"]["gate-spec"] == "gates/specs/smoke-dev.yaml"
    assert jobs["staging"]["with"]["gate-spec"] == "gates/specs/staging.yaml"
    assert (
        load_spec_file(ROOT / "gates/specs/staging.yaml").duration
        > load_spec_file(ROOT / "gates/specs/smoke-dev.yaml").duration
    )


def test_deploy_runs_release_then_gate_then_rollback_on_failure_in_the_stack_environment() -> None:
    workflow = load(WORKFLOWS / "deploy-stack.yml")
    (job,) = workflow["jobs"].values()
    assert job["environment"]["name"] == "${{ inputs.stack }}"  # staging/production: required reviewers
    assert job["concurrency"]["cancel-in-progress"] is False
    runs = {step.get("name"): step for step in job["steps"]}
    assert "rollout release" in runs["Release"]["run"] and "--yes" in runs["Release"]["run"]
    assert runs["Gate"]["run"].startswith("rollout gate --spec")
    rollback = runs["Roll back to the previous version"]
    assert rollback["if"].startswith("failure()")
    assert 'rollout rollback --stack "$STACK" --previous --yes' in rollback["run"]
    aws = next(
        s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    )
    assert aws["with"]["role-to-assume"] == "${{ secrets.AWS_ROLE_ARN }}"
    assert workflow["permissions"]["id-token"] == "write"


def test_verify_builds_tests_and_scans_dependencies() -> None:
    jobs = load(WORKFLOWS / "verify.yml")["jobs"]
    commands = [s.get("run", "") for job in jobs.values() for s in job["steps"]]
    assert "./dev.sh test" in commands
    assert any("pip-audit --strict" in c for c in commands)


def test_pull_requests_preview_affected_stacks_and_render_offline() -> None:
    jobs = load(WORKFLOWS / "pull-request.yml")["jobs"]
    assert jobs["verify"]["uses"] == "./.github/workflows/verify.yml"
    assert [s["run"] for s in jobs["render"]["steps"] if "run" in s] == ["./dev.sh render"]
    preview = next(s for s in jobs["preview"]["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert preview["with"]["command"] == "preview"
    assert preview["with"]["comment-on-pr"] is True
    assert preview["with"]["stack-name"] == "${{ matrix.stack }}"
    assert preview["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    assert jobs["preview"]["permissions"]["pull-requests"] == "write"
    script = jobs["stacks"]["steps"][0]["run"]
    for branch, stacks in (
        ("main)", '["production"]'),
        ("release/*)", '["staging"]'),
        ("develop)", '["dev","test"]'),
    ):
        assert f"{branch} stacks='{stacks}'" in script


def test_the_schema_check_catches_a_broken_workflow() -> None:
    workflow = load(WORKFLOWS / "verify.yml")
    workflow["jobs"]["test"]["stepz"] = workflow["jobs"]["test"].pop("steps")
    github = schema("github-workflows.json")
    assert list(jsonschema.validators.validator_for(github)(github).iter_errors(workflow))
