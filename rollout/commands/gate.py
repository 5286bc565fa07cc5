"""`rollout gate --spec FILE [--report FILE]`: run a health gate from a YAML spec (the schema the
HealthGate resource takes), print progress per evaluation on stderr, write the report as JSON
(and Markdown next to it), exit 0 pass, 1 fail or inconclusive, 2 bad spec."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gates.decision import Streaks
from gates.report import mask, to_json, to_markdown
from gates.results import Evaluation, Status
from gates.runner import Secrets, build_runtime, run_gate, secrets_from_env
from gates.spec import GateSpec, SpecError, parse_spec
from rollout.exit_codes import CommandError, ExitCode
from rollout.yamlfile import YamlFileError, read_yaml

if TYPE_CHECKING:
    from rollout.cli import Console


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gate",
        help="run a health gate from a YAML spec",
        description="Probe the targets and query Prometheus every interval for the spec's duration; "
        "exit 0 when the gate passes, 1 when it fails or is inconclusive, 2 for a bad spec. Credentials "
        "come from the environment variables the spec names (prometheus.bearer_token_env, notify.url_env).",
    )
    parser.add_argument("--spec", required=True, type=Path, metavar="FILE", help="gate spec (YAML)")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="write the report as JSON to FILE and as Markdown to FILE with the suffix .md",
    )
    parser.set_defaults(handler=handle)


def load_spec_file(path: Path) -> GateSpec:
    """Read and validate a spec file; CommandError (exit 2) naming the file and field otherwise."""
    try:
        data = read_yaml(path, str(path))
    except YamlFileError as error:
        raise CommandError(str(error)) from None
    try:
        return parse_spec(data)
    except SpecError as error:
        raise CommandError(f"{path}: {error}") from None


def markdown_path(report: Path) -> Path:
    """``report.json`` -> ``report.md``; a path already ending in .md gets another .md."""
    candidate = report.with_suffix(".md")
    return candidate if candidate != report else report.with_name(report.name + ".md")


# Variable names as people write them. Anything else (e.g. a token pasted where its variable's
# name goes) is not repeated on stderr, where CI logs would keep it.
_CONVENTIONAL_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


def _require_secrets(spec: GateSpec, secrets: Secrets) -> None:
    prometheus = spec.prometheus
    if prometheus is not None and prometheus.bearer_token_env and not secrets.prometheus_token:
        name = prometheus.bearer_token_env
        shown = (
            f"environment variable {name}"
            if _CONVENTIONAL_ENV_NAME.match(name)
            else "the environment variable it names (not shown: it does not look like a variable "
            "name; if it is the token itself, put the token in a variable and rotate it)"
        )
        raise CommandError(f"prometheus.bearer_token_env: {shown} is not set")


def _progress(console: Console, spec: GateSpec, secrets: Secrets) -> Any:
    total = spec.max_evaluations

    def show(evaluation: Evaluation, streaks: Streaks) -> None:
        line = (
            f"[{evaluation.index}/{total} +{evaluation.offset:.1f}s] {evaluation.status.value:<12} "
            f"{evaluation.reason}"
        )
        if evaluation.status is not Status.PASS:
            line += (
                f"  (failed {streaks.failures}/{spec.failure_limit}, "
                f"inconclusive {streaks.inconclusive}/{spec.inconclusive_limit})"
            )
        console.note(mask(line, secrets.values()))

    return show


def handle(args: argparse.Namespace, console: Console) -> ExitCode:
    spec = load_spec_file(args.spec)
    secrets = secrets_from_env(spec, os.environ)
    _require_secrets(spec, secrets)

    def log(line: str) -> None:
        console.note(mask(f"gate: {line}", secrets.values()))

    runtime = build_runtime(spec, secrets, log=log)
    runtime.on_evaluation = _progress(console, spec, secrets)
    console.note(
        f"gate {spec.name}: every {spec.interval:g} s for {spec.duration:g} s, "
        f"{len(spec.probes)} probes, {len(spec.checks)} checks"
    )
    report = run_gate(spec, runtime)
    if args.report is not None:
        md = markdown_path(args.report)
        try:
            args.report.parent.mkdir(parents=True, exist_ok=True)
            args.report.write_text(to_json(report, secrets.values()), encoding="utf-8")
            md.write_text(to_markdown(report, secrets.values()), encoding="utf-8")
        except OSError as error:
            raise CommandError(
                f"{args.report}: cannot write the report ({error.strerror or error})"
            ) from None
        console.note(f"wrote {args.report} and {md}")
    console.print(mask(f"{report.verdict.status.value}: {report.verdict.reason}", secrets.values()))
    return ExitCode.OK if report.passed else ExitCode.FAILED
