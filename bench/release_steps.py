"""Wall time of each release step under the real engine, split into gate time and the rest
(`pulumi up` and rollout's own CLI calls), for a rolling, a blue/green and a canary release.

Runs in the sandbox (`./dev.sh sandbox start`; started here when none runs) with the end-to-end
tests' stand-ins: each track a test app on 127.0.0.1 scraped by a real Prometheus, the Service /
VirtualService in front of them a router that asks the API server where requests go.

    python -m bench.release_steps [--out bench/results] [--log DIR]   # ~5 min on 2 cores

Each step is timed from rollout's own progress lines: from ``[i/n] NAME: up`` to ``[i/n] NAME:
done``; the gate time is from its first evaluation line to its last in that step (evaluations
are at the start and the end of a gate); overhead is the rest. A no-change `pulumi up` of each
stack is timed too: the floor every step pays (type check, program, engine, provider).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.e2e.sandbox import Project, Sandbox, copy_project, start_sandbox
from tests.e2e.stacks import APP, GATE_SPEC, namespace, sandbox_config
from tests.e2e.standins import Router, service_selector, tracks, virtual_service
from tests.support.prometheus import Prometheus

ROOT = Path(__file__).resolve().parents[1]
REPO = "ghcr.io/example/flutter-app"
_STEP = re.compile(r"^\[(\d+)/(\d+)\] (.+?): (up --message|done)")
_GATE = re.compile(r"\[gate [^\]]+\] \d+:")


@dataclass(frozen=True)
class StepTime:
    strategy: str
    step: str
    wall_s: float
    gate_s: float

    @property
    def overhead_s(self) -> float:
        return round(self.wall_s - self.gate_s, 1)


def timed_lines(argv: list[str], env: dict[str, str]) -> tuple[int, list[tuple[float, str]]]:
    """Run a command; every stderr line with the moment it arrived."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    lines: list[tuple[float, str]] = []
    for line in process.stderr:
        lines.append((time.monotonic(), line.rstrip("\n")))
    return process.wait(timeout=1800), lines


def steps(strategy: str, lines: list[tuple[float, str]]) -> list[StepTime]:
    out: list[StepTime] = []
    started: tuple[float, str] | None = None
    gates: list[float] = []
    for moment, line in lines:
        match = _STEP.match(line)
        if match and match[4].startswith("up"):
            started, gates = (moment, match[3]), []
        elif match and started is not None:
            gate = gates[-1] - gates[0] if len(gates) > 1 else 0.0
            out.append(StepTime(strategy, started[1], round(moment - started[0], 1), round(gate, 1)))
            started = None
        elif started is not None and _GATE.search(line):
            gates.append(moment)
    return out


@dataclass
class Case:
    strategy: str
    environment: str
    tracks: tuple[str, ...]
    app: dict[str, Any]


CASES = (
    Case("rolling", "test", ("live",), {}),
    Case("blue-green", "production", ("blue", "green"), {"replicas": 2}),
    Case(
        "canary",
        "staging",
        ("stable", "canary"),
        {"replicas": 2, "canary": {"steps": [5, 25, 100], "replicas": 1}},
    ),
)


@contextmanager
def routed(case: Case, sandbox: Sandbox, prometheus: Prometheus, ns: str) -> Iterator[tuple[str, str]]:
    """The stand-in apps and routers of a case; yields (live URL, preview URL)."""
    with ExitStack() as stack:
        apps = stack.enter_context(tracks(prometheus, ns, APP, case.tracks))
        if case.strategy == "canary":
            live = Router(virtual_service(sandbox, ns, APP), apps)
        elif case.strategy == "blue-green":
            live = Router(service_selector(sandbox, ns, APP), apps)
        else:
            live = Router(lambda _headers: "live", apps)
        stack.callback(live.stop)
        preview = Router(service_selector(sandbox, ns, f"{APP}-preview"), apps)
        stack.callback(preview.stop)
        live.start_traffic(pause=0.02)
        yield live.url, preview.url


def run_case(
    case: Case, project: Project, prometheus: Prometheus, log: Path | None
) -> tuple[list[StepTime], float]:
    ns = namespace(f"bench-{case.strategy}")
    with routed(case, project.sandbox, prometheus, ns) as (live, preview):
        gate = {
            "url": live,
            "spec": GATE_SPEC,
            **({"previewUrl": preview} if case.strategy == "blue-green" else {}),
        }
        config = sandbox_config(case.environment, ns, live, gate=gate, **case.app)
        config["prometheusUrl"] = prometheus.url
        stack = project.new_stack(f"bench-{case.strategy}", config)
        project.pulumi("up", "--yes", "--skip-preview", stack=stack)
        started = time.monotonic()
        project.pulumi("up", "--yes", "--skip-preview", stack=stack)
        floor = round(time.monotonic() - started, 1)
        argv = [
            str(ROOT / ".venv" / "bin" / "rollout"),
            "--cwd",
            str(project.path),
            "release",
            "--stack",
            stack,
            "--image",
            f"{REPO}:9.9.9",
            "--yes",
        ]
        code, lines = timed_lines(argv, project.sandbox.env)
        if log is not None:
            zero = lines[0][0] if lines else 0.0
            text = "\n".join(f"{moment - zero:7.2f} {line}" for moment, line in lines)
            (log / f"{case.strategy}.log").write_text(text + "\n")
        if code != 0:
            raise RuntimeError(
                f"{case.strategy} release failed:\n" + "\n".join(line for _, line in lines[-40:])
            )
        return steps(case.strategy, lines), floor


def markdown(times: list[StepTime], floors: dict[str, float]) -> str:
    rows = ["| strategy | step | wall (s) | gate (s) | overhead (s) |", "|---|---|---|---|---|"]
    rows += [f"| {t.strategy} | {t.step} | {t.wall_s} | {t.gate_s} | {t.overhead_s} |" for t in times]
    rows += ["", "No-change `pulumi up` of each stack (the floor of every step):", ""]
    rows += [f"- {strategy}: {seconds} s" for strategy, seconds in floors.items()]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--log", type=Path, help="also write each release's output, timestamped, here")
    args = parser.parse_args(argv)
    if args.log is not None:
        args.log.mkdir(parents=True, exist_ok=True)
    sandbox = start_sandbox(ci=False)
    if isinstance(sandbox, str):
        print(f"no sandbox: {sandbox}", file=sys.stderr)
        return 1
    times: list[StepTime] = []
    floors: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        prometheus = Prometheus(Path(tmp) / "prometheus")
        project = Project(sandbox, copy_project(Path(tmp) / "project"))
        try:
            for case in CASES:
                print(f"release_steps: {case.strategy}", file=sys.stderr)
                case_times, floors[case.strategy] = run_case(case, project, prometheus, args.log)
                times += case_times
        finally:
            project.remove_stacks()
            prometheus.stop()
            if sandbox.owned:
                subprocess.run([str(ROOT / "sandbox" / "sandbox.sh"), "stop"], check=False, timeout=300)
    args.out.mkdir(parents=True, exist_ok=True)
    records = [{**asdict(t), "overhead_s": t.overhead_s} for t in times]
    (args.out / "release_steps.json").write_text(
        json.dumps({"steps": records, "no_change_up_s": floors}, indent=2) + "\n"
    )
    table = markdown(times, floors)
    (args.out / "release_steps.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
