"""`./dev.sh demo`: the main job end to end on the sandbox, as a person would walk it.

1. Start (or reuse) the sandbox: the real `pulumi` CLI and engine, a Kubernetes API server with
   simulated nodes, a local file backend (docs/sandbox.md).
2. `pulumi up` a staging-like canary stack (Istio and Prometheus `external`, bound to the sandbox's
   cluster) in a copy of the project, with a real Prometheus scraping two stand-in apps, one per
   track, behind a router that follows the stack's VirtualService as Istio would.
3. `rollout release` a healthy image: every step previewed, checked, gated, walked.
4. `rollout release` a bad image, the stand-in canary answering 5xx: its gate fails at the first
   weight and traffic goes back to the stable track.
5. `rollout history` and `rollout report`.

It prints a short account of what happened and leaves the sandbox running, with the commands to
explore the stack and to stop it; the processes the demo itself started (the stand-in apps, the
router, Prometheus) are stopped before it exits. Every command's full output is in the demo's
log directory.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.e2e.sandbox import CACHE, SANDBOX, Project, Sandbox, copy_project, parse_exports
from tests.e2e.stacks import APP, policy_pack, sandbox_config
from tests.e2e.standins import Router, tracks, virtual_service
from tests.support.app import Faults
from tests.support.prometheus import BINARY, Prometheus

REPO = "ghcr.io/example/flutter-app"
STACK = "demo"
NAMESPACE = "flutter-app-demo"
GATE = {"interval": 2, "duration": 10, "max_duration": 10, "max_hold": 20}


def say(text: str = "") -> None:
    print(text, flush=True)


class Demo:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.logs = directory / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def start_sandbox(self) -> Sandbox:
        say("demo: starting the sandbox (the first time, its toolchain is built from source: ~20 min)")
        started = subprocess.run(
            [str(SANDBOX), "start"], capture_output=True, text=True, check=False, timeout=5400
        )
        (self.logs / "sandbox.log").write_text(started.stderr)
        if started.returncode != 0:
            sys.exit(f"demo: the sandbox did not start; see {self.logs / 'sandbox.log'}")
        return Sandbox(parse_exports(started.stdout, dict(os.environ)), owned=False)

    def run(self, project: Project, name: str, *argv: str) -> tuple[int, str]:
        """A command as a user runs it; its output in logs/NAME.log; (exit code, output)."""
        command = [*argv]
        if command[0] == "rollout":
            command = [str(Path(".venv/bin/rollout").resolve()), "--cwd", str(project.path), *command[1:]]
        result = project.sandbox.run(command, cwd=project.path, check=False)
        output = result.stdout + result.stderr
        (self.logs / f"{name}.log").write_text(f"$ {shlex.join(argv)}\n{output}")
        return result.returncode, output


def steps_of(output: str) -> list[str]:
    """Each release step's outcome, from rollout's progress lines; a failure's reason wrapped
    under it."""
    found = []
    for line in output.splitlines():
        if match := re.match(r"^\[(\d+)/(\d+)\] (.+?): (done|FAILED: (.*))$", line):
            verdict = "passed its gate" if match[4] == "done" else "stopped by its gate"
            found.append(f"  step {match[1]}/{match[2]} {match[3]}: {verdict}")
            if match[5]:
                found.extend(
                    textwrap.wrap(match[5], width=96, initial_indent="    ", subsequent_indent="    ")
                )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev.sh demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir", type=Path, default=CACHE / "demo", help="where the project copy, logs and report go"
    )
    args = parser.parse_args(argv)
    if shutil.which(BINARY) is None:
        sys.exit("demo: needs Prometheus (Debian package `prometheus`; `./dev.sh demo` installs it as root)")
    demo = Demo(args.dir.resolve())
    sandbox = demo.start_sandbox()
    started = time.monotonic()
    shutil.rmtree(demo.directory / "project", ignore_errors=True)
    project = Project(sandbox, copy_project(demo.directory / "project"), [STACK])
    project.remove_stacks()  # a previous demo's stack and objects, from wherever it ran
    ns = NAMESPACE
    prometheus = Prometheus(demo.directory / "prometheus")
    try:
        with tracks(prometheus, ns, APP, ("stable", "canary")) as apps:
            router = Router(virtual_service(sandbox, ns, APP), apps)
            router.start_traffic(pause=0.02)
            try:
                config = sandbox_config(
                    "staging", ns, router.url, replicas=2, gate={"url": router.url, "spec": GATE}
                )
                config["apps"][APP]["canary"] = {"steps": [25, 100], "replicas": 1}
                config["prometheusUrl"] = prometheus.url
                stack = STACK
                project.pulumi("stack", "init", stack)
                project.write_config(stack, {**config, "cluster": {**config["cluster"], **sandbox.binding()}})
                say(f"demo: pulumi up of a staging-like canary stack '{stack}' (namespace {ns})")
                code, output = demo.run(
                    project,
                    "1-up",
                    "pulumi",
                    "up",
                    "--yes",
                    "--skip-preview",
                    *policy_pack("staging"),
                    "--stack",
                    stack,
                )
                if code != 0:
                    sys.exit(f"demo: pulumi up failed; see {demo.logs / '1-up.log'}")
                deployed = re.search(r"Resources:\s*\n\s*\+ (\d+) created", output)
                say(f"demo: releasing {REPO}:1.5.0 (healthy)")
                good_code, good = demo.run(
                    project,
                    "2-release-healthy",
                    "rollout",
                    "release",
                    "--stack",
                    stack,
                    "--image",
                    f"{REPO}:1.5.0",
                    "--yes",
                )
                say(f"demo: releasing {REPO}:1.6.0 (its canary answers 5xx)")
                apps["canary"].faults = Faults(status=503)
                bad_code, bad = demo.run(
                    project,
                    "3-release-bad",
                    "rollout",
                    "release",
                    "--stack",
                    stack,
                    "--image",
                    f"{REPO}:1.6.0",
                    "--yes",
                )
                apps["canary"].faults = Faults()
                _, history = demo.run(project, "4-history", "rollout", "history", "--stack", stack)
                report = demo.directory / "report.md"
                report_code, _ = demo.run(
                    project,
                    "5-report",
                    "rollout",
                    "report",
                    "--stack",
                    stack,
                    "--prometheus",
                    prometheus.url,
                    "--window",
                    "5m",
                    "--out",
                    str(report),
                )
            finally:
                router.stop()
    finally:
        prometheus.stop()
    elapsed = time.monotonic() - started
    say()
    say(f"What happened ({elapsed:.0f} s, every command's output in {demo.logs}):")
    say(
        f"- deployed stack '{stack}': {deployed[1] if deployed else 'its'} objects, a canary app on the sandbox's API server"
    )
    say(f"- release 1.5.0: exit {good_code}")
    for line in steps_of(good):
        say(line)
    say(f"- release 1.6.0: exit {bad_code}, stopped by its gate and traffic undone")
    for line in steps_of(bad):
        say(line)
    say(
        "  rolled back by traffic: the canary's weight is 0 again, the stable track (1.5.0) serves"
        if "traffic undone" in bad
        else "  (traffic was not undone: see the log)"
    )
    say(
        f"- history: {len([line for line in history.splitlines()[1:] if line.strip()])} versions (rollout history --stack {stack})"
    )
    say(f"- report: {report}" + ("" if report_code in (0, 1) else " (not written: see the log)"))
    say()
    say("The sandbox is still running. To explore it:")
    say('  eval "$(./dev.sh sandbox env)"')
    say(f"  cd {project.path}")
    say(f"  rollout history --stack {stack}; kubectl get deploy,virtualservices -n {ns}")
    say("To stop it (every process, the cluster and the backend): ./dev.sh sandbox stop")
    return 0 if good_code == 0 and bad_code == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
