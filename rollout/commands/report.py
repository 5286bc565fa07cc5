"""`rollout report --stack STACK [--prometheus URL] [--window 1h] [--format md|html] [--out FILE]`:
the deployment monitoring report of a stack — health, latency, errors, throughput, resources and
replicas per app, alerts by severity, charts over the window.

Prometheus: ``--prometheus`` or the stack's ``flutter-app:prometheusUrl``; a bearer token from
``ROLLOUT_PROMETHEUS_TOKEN``. Alerts go to the webhook in ``ROLLOUT_REPORT_WEBHOOK_URL`` (kind
``ROLLOUT_REPORT_WEBHOOK_KIND``: json or slack) when it is set. Exit 0 with the report written
(1 with ``--fail-on`` when an alert of that severity fired), 1 when Prometheus cannot answer, 2 for
bad arguments or stack config.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gates.spec import MAX_TIMEOUT
from gates.templates import MAX_WINDOW_SECONDS, window_problem
from rollout.arguments import stack_name
from rollout.exit_codes import CommandError, ExitCode
from rollout.files import check_output_files
from rollout.schedule import TOKEN_ENV

if TYPE_CHECKING:
    from rollout.cli import Console

_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


def _window(text: str) -> str:
    from rollout.monitoring.queries import WINDOW

    # The window goes into the templates' queries: their bound is the report's.
    if not WINDOW.match(text):
        raise argparse.ArgumentTypeError(f"expected a duration such as 30s, 15m or 1h, got {text!r}")
    if problem := window_problem(text):
        raise argparse.ArgumentTypeError(problem)
    return text


def _url(text: str) -> str:
    if not _URL.match(text):
        raise argparse.ArgumentTypeError(
            f"expected an http(s) URL such as http://127.0.0.1:9090, got {text!r}"
        )
    return text


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds above 0 and at most {MAX_TIMEOUT:g}, got {text!r}"
        )
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="deployment monitoring report of a stack (health, latency, errors, resources, replicas, alerts)",
        description="Query Prometheus for every app of the stack and write a report with alerts and "
        "charts. Prometheus URL: --prometheus or the stack config flutter-app:prometheusUrl; bearer "
        f"token: environment variable {TOKEN_ENV}. Alert thresholds: flutter-app:reportThresholds. "
        "Alerts are sent to ROLLOUT_REPORT_WEBHOOK_URL when set.",
    )
    parser.add_argument(
        "--stack", required=True, type=stack_name, metavar="STACK", help="the stack (Pulumi.STACK.yaml)"
    )
    parser.add_argument("--prometheus", type=_url, metavar="URL", help="Prometheus base URL")
    parser.add_argument(
        "--window",
        type=_window,
        default="1h",
        metavar="DURATION",
        help=f"period covered, e.g. 15m (default 1h, at most {MAX_WINDOW_SECONDS // 3600}h)",
    )
    parser.add_argument(
        "--format",
        choices=("md", "html"),
        help="md (Markdown, charts as PNG files next to FILE) or html (one page, charts embedded); "
        "default: html when FILE ends in .html, else md",
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="write the report here (default: stdout)")
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=10.0,
        metavar="SECONDS",
        help=f"per query (default 10, at most {MAX_TIMEOUT:g})",
    )
    parser.add_argument(
        "--fail-on",
        choices=("never", "warning", "critical"),
        default="never",
        help="exit 1 when an alert of this severity (or worse) fired (default: never)",
    )
    parser.set_defaults(handler=handle)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    return "html" if args.out is not None and args.out.suffix.lower() in (".html", ".htm") else "md"


def chart_paths(out: Path) -> dict[str, Path]:
    """Where the Markdown report's charts go: next to it, ``<stem>-<chart>.png``."""
    from rollout.monitoring.model import CHARTS

    return {name: out.with_name(f"{out.stem}-{name}.png") for name in CHARTS}


def _write(path: Path, data: str | bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    except OSError as error:
        raise CommandError(
            f"{path}: cannot write the report ({error.strerror or error})", ExitCode.FAILED
        ) from None


def handle(args: argparse.Namespace, console: Console) -> ExitCode:
    # Imported here: `rollout render` and `rollout gate` need none of this.
    from components.validation import ConfigError
    from credentials import mask
    from gates.prometheus import PrometheusClient
    from rollout.monitoring.collect import PrometheusUnavailable, collect
    from rollout.monitoring.config import PROMETHEUS_URL_KEY, load_report_config
    from rollout.monitoring.notify import KINDS, WEBHOOK_KIND_ENV, WEBHOOK_URL_ENV, notify
    from rollout.monitoring.render import to_html, to_markdown
    from rollout.offline.project import ProjectError

    env = os.environ
    try:
        config = load_report_config(args.cwd, args.stack)
    except (ProjectError, ConfigError) as error:
        raise CommandError(str(error)) from None
    url = args.prometheus or config.prometheus_url
    if not url:
        raise CommandError(
            f"no Prometheus URL for stack '{args.stack}': pass --prometheus URL, or set it in the stack "
            f"config with `pulumi config set {PROMETHEUS_URL_KEY.split(':', 1)[1]} URL --stack {args.stack}`"
        )
    kind = env.get(WEBHOOK_KIND_ENV, "json") or "json"
    if kind not in KINDS:
        raise CommandError(f"{WEBHOOK_KIND_ENV}: expected {' or '.join(KINDS)}, got {kind!r}")
    token = env.get(TOKEN_ENV) or None
    webhook = env.get(WEBHOOK_URL_ENV) or None
    secrets = (token, webhook)

    fmt = _format(args)
    if args.out is not None:
        check_output_files("--out", args.out, lambda out: chart_paths(out).values() if fmt == "md" else ())
    client = PrometheusClient(url, timeout=args.timeout, token=token)
    console.note(f"report {args.stack}: querying {client.display_url} over the last {args.window}")
    try:
        report = collect(client, config, window=args.window)
    except PrometheusUnavailable as error:
        raise CommandError(
            mask(f"cannot build the report: {error} (check --prometheus / {PROMETHEUS_URL_KEY})", secrets),
            ExitCode.FAILED,
        ) from None

    charts: dict[str, bytes] = {}
    if fmt == "html" or args.out is not None:
        from rollout.monitoring.charts import draw

        charts = draw(report)
    if fmt == "html":
        text = to_html(report, config.thresholds, charts)
        written: list[Path] = []
    else:
        files: dict[str, Path] = {}
        if args.out is not None:
            files = {name: path for name, path in chart_paths(args.out).items() if name in charts}
        text = to_markdown(report, config.thresholds, {name: path.name for name, path in files.items()})
        for name, path in files.items():
            _write(path, charts[name])
        written = list(files.values())
    text = mask(text, secrets)
    if args.out is None:
        console.print(text.rstrip("\n"))
    else:
        _write(args.out, text)
        console.note("wrote " + ", ".join(str(p) for p in [args.out, *written]))

    if webhook and report.alerts:
        stats = notify(
            report.alerts,
            stack=args.stack,
            url=webhook,
            kind=kind,
            log=lambda line: console.note(mask(f"notify: {line}", secrets)),
        )
        console.note(f"notify: {stats.sent} sent, {stats.collapsed} collapsed, {stats.failed} failed")
    counts = {s: sum(1 for a in report.alerts if a.severity == s) for s in ("critical", "warning")}
    console.note(f"report {args.stack}: {counts['critical']} critical, {counts['warning']} warning alert(s)")
    for alert in report.alerts:
        console.note(mask(f"  {alert.severity.value}: {alert.message}", secrets))
    failing = {"never": (), "critical": ("critical",), "warning": ("critical", "warning")}[args.fail_on]
    return ExitCode.FAILED if any(a.severity in failing for a in report.alerts) else ExitCode.OK
