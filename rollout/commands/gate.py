"""`rollout gate --spec FILE [--report FILE]`: run a health gate from a YAML spec (the schema the
HealthGate resource takes) and show its progress on stderr: a live panel (gates/panel.py) when
stdout and stderr are terminals, else one plain line per evaluation (gates/progress.py), the format
scripts parse. With ``--report`` the report goes to FILE as JSON and next to it as Markdown;
without it no file is written. Exit 0 pass, 1 fail or inconclusive, 2 bad spec or report path."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credentials import credential_in_value, mask
from gates.progress import Progress, progress_line
from gates.report import to_json, to_markdown
from gates.results import Verdict, fmt
from gates.runner import Secrets, build_runtime, run_gate, secrets_from_env
from gates.spec import GateSpec, SpecError, parse_spec
from rollout.exit_codes import CommandError, ExitCode
from rollout.files import check_output_files
from rollout.yamlfile import YamlFileError, read_yaml

if TYPE_CHECKING:
    from gates.panel import LiveProgress
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
            if _CONVENTIONAL_ENV_NAME.fullmatch(name) and not credential_in_value(name)
            else "the environment variable it names (not shown: it does not look like a variable "
            "name; if it is the token itself, put the token in a variable and rotate it)"
        )
        raise CommandError(f"prometheus.bearer_token_env: {shown} is not set")


class PlainProgress:
    """Progress as lines on stderr, one per evaluation (``gates.progress.progress_line``): for
    pipes, CI logs and NO_COLOR, and the format scripts parse."""

    def __init__(self, console: Console, spec: GateSpec, secrets: Secrets) -> None:
        self._console, self._spec, self._secrets = console, spec, secrets.values()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def note(self, line: str) -> None:
        self._console.note(mask(line, self._secrets))

    def update(self, progress: Progress) -> None:
        self.note(progress_line(self._spec, progress))

    def finish(self, _verdict: Verdict) -> None:
        return None


def use_panel(console: Console, env: Mapping[str, str]) -> bool:
    """The live panel for a person at a terminal: stdout and stderr both terminals, NO_COLOR not
    set (no-color.org: present and not empty) and a terminal that can move the cursor."""
    terminals = console.out.isatty() and console.err.isatty()
    return terminals and not env.get("NO_COLOR") and env.get("TERM") != "dumb"


def describe_plan(spec: GateSpec) -> str:
    """The first line: how often, how long, and what can make it shorter or longer."""
    line = (
        f"gate {spec.name}: every {fmt(spec.interval)} s for {fmt(spec.duration)} s, "
        f"{len(spec.probes)} probes, {len(spec.checks)} checks, mode {spec.mode}"
    )
    if not spec.sequential_mode:
        return line
    held = f"held inconclusive (up to max_hold {fmt(spec.max_hold)} s more)"
    if not any(spec.sequential_kind(check) for check in spec.checks):
        return f"{line}; longer while {held}"
    return (
        f"{line}; shorter when a test rejects or all accept (not before min_duration "
        f"{fmt(spec.min_duration)} s), longer while a test is undecided (up to max_duration "
        f"{fmt(spec.max_duration)} s) or {held}"
    )


def handle(args: argparse.Namespace, console: Console, env: Mapping[str, str] | None = None) -> ExitCode:
    env = os.environ if env is None else env
    spec = load_spec_file(args.spec)
    secrets = secrets_from_env(spec, env)
    _require_secrets(spec, secrets)
    if args.report is not None:
        check_output_files("--report", args.report, lambda report: [markdown_path(report)])
    display: PlainProgress | LiveProgress
    if use_panel(console, env):
        # Imported here: only an interactive `rollout gate` needs rich.
        from gates.panel import LiveProgress

        display = LiveProgress(spec, secrets.values(), console.err)
    else:
        display = PlainProgress(console, spec, secrets)
    console.note(describe_plan(spec))
    if args.report is None:
        console.note("no report file: --report FILE writes one (JSON, and Markdown next to it)")
    runtime = build_runtime(spec, secrets, log=lambda line: display.note(f"gate: {line}"))
    runtime.on_progress = display.update
    with display:
        report = run_gate(spec, runtime)
        display.finish(report.verdict)
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
