"""`rollout render --stack STACK [--out DIR]`: evaluate the real program for a stack offline, write
every Kubernetes manifest and declared resource (secrets masked), and run the policy pack over
them: exit 3 on a mandatory violation."""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.validation import ConfigError
from rollout.arguments import stack_name
from rollout.exit_codes import CommandError, ExitCode
from rollout.files import check_output_directory
from rollout.offline.engine import ProgramRun, Registration, run_program
from rollout.offline.policy import PolicyPackError, Violation, check_policies
from rollout.offline.project import ProjectError, check_stack
from rollout.offline.render import manifests, resources_json, to_yaml, write_atomically

if TYPE_CHECKING:
    from rollout.cli import Console

DEFAULT_OUT = Path("build/render")
DEFAULT_PACK = Path("policies")


@dataclass(frozen=True)
class Rendered:
    """One rendered stack: the program run and the Kubernetes objects it declared."""

    stack: str
    run: ProgramRun
    objects: list[dict[str, Any]]
    violations: list[Violation]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render a stack's resources and manifests offline",
        description="Evaluate the program for a stack offline (no cloud credentials) and write "
        "DIR/STACK/manifests.yaml and DIR/STACK/resources.json.",
    )
    parser.add_argument(
        "--stack",
        required=True,
        type=stack_name,
        action="append",
        metavar="STACK",
        help="stack to render (repeatable)",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help=f"output directory (default: {DEFAULT_OUT})")
    parser.add_argument(
        "--policy-pack",
        type=Path,
        metavar="DIR",
        help=f"CrossGuard policy pack run over the rendered resources (default: {DEFAULT_PACK} in the project)",
    )
    parser.set_defaults(handler=handle)


def render_stack(project_dir: Path, stack: str, pack_dir: Path) -> Rendered:
    """Run the program for ``stack`` and the policy pack over what it declared; raise
    CommandError (exit 2) for a bad project, config or pack."""
    try:
        config = check_stack(project_dir, stack)
        if not (pack_dir / "PulumiPolicy.yaml").is_file():
            raise CommandError(
                f"no policy pack at {pack_dir} (PulumiPolicy.yaml); point --policy-pack at one"
            )
        run = run_program(config)
        # The policy config follows the environment the program resolved, not the stack's name.
        violations = check_policies(run, str(run.outputs.get("environment", stack)), pack_dir)
    except (ProjectError, ConfigError) as error:
        raise CommandError(str(error), ExitCode.BAD_INPUT) from None
    except PolicyPackError as error:
        raise CommandError(f"policy pack {pack_dir}: {error}", ExitCode.BAD_INPUT) from None
    return Rendered(stack, run, manifests(run.resources), violations)


def resource_tree(resources: list[Registration]) -> list[str]:
    """Lines of an indented tree of the resources, children under their parents."""
    children: dict[str, list[Registration]] = defaultdict(list)
    urns = {r.urn for r in resources}
    for resource in resources:
        children[resource.parent if resource.parent in urns else ""].append(resource)
    lines: list[str] = []

    def walk(parent: str, prefix: str) -> None:
        kids = sorted(children.get(parent, []), key=lambda r: (r.type, r.name))
        for index, resource in enumerate(kids):
            last = index == len(kids) - 1
            lines.append(f"{prefix}{'└─ ' if last else '├─ '}{resource.type}  {resource.name}")
            walk(resource.urn, prefix + ("   " if last else "│  "))

    walk("", "")
    return lines


def handle(args: argparse.Namespace, console: Console) -> ExitCode:
    project_dir: Path = args.cwd
    out_dir: Path = args.out or project_dir / DEFAULT_OUT
    pack_dir: Path = args.policy_pack or project_dir / DEFAULT_PACK
    check_output_directory("--out", out_dir, args.stack)
    # Render every stack before writing any: a bad stack leaves all outputs as they were.
    rendered = [render_stack(project_dir, stack, pack_dir) for stack in args.stack]
    code = ExitCode.OK
    for result in rendered:
        target = out_dir / result.stack
        files = {
            "manifests.yaml": to_yaml(result.objects),
            "resources.json": resources_json(result.run.resources),
        }
        try:
            write_atomically(target, files)
        except OSError as error:
            raise CommandError(
                f"--out {out_dir}: cannot write {target} ({error.strerror or error})", ExitCode.FAILED
            ) from None
        console.print(
            f"{result.stack}: {len(result.run.resources)} resources, {len(result.objects)} Kubernetes objects"
        )
        for line in resource_tree(result.run.resources):
            console.print(f"  {line}")
        for warning in result.run.warnings:
            console.note(f"warning: {result.stack}: {warning}")
        console.print(f"  wrote {target / 'manifests.yaml'} and {target / 'resources.json'}")
        mandatory = [v for v in result.violations if v.level == "mandatory"]
        console.print(
            f"  policy: {len(mandatory)} mandatory, {len(result.violations) - len(mandatory)} advisory violation(s)"
        )
        for violation in result.violations:
            console.print(f"    {violation.level.upper()} [{violation.policy}] {violation.message}")
        if mandatory:
            console.note(f"error: {result.stack}: {len(mandatory)} mandatory policy violation(s)")
            code = ExitCode.POLICY_VIOLATION
    return code
