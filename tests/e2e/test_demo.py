"""`./dev.sh demo`, the README's first command, run as a newcomer runs it: the main job end to end
on the sandbox, with its account of what happened, and what it leaves on the API server."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import psutil

from tests.e2e.sandbox import ROOT, Project, Sandbox
from tests.e2e.stacks import APP

TIMEOUT_S = 1800


def started_here(directory: Path) -> list[str]:
    """Command lines of running processes that name ``directory`` (Prometheus's config, the apps)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if str(directory) in line:
            found.append(line)
    return found


def test_the_demo_deploys_releases_and_stops_a_bad_release(sandbox: Sandbox, tmp_path: Path) -> None:
    demo = subprocess.run(
        [str(ROOT / "dev.sh"), "demo", "--dir", str(tmp_path)],
        env=sandbox.shell_before_start(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    project = Project(sandbox, tmp_path / "project", ["demo"])
    try:
        account = demo.stdout
        said = " ".join(account.split())  # the reasons are wrapped
        assert demo.returncode == 0, account + demo.stderr[-4000:]
        # The account a person reads: each release's steps and verdicts, what was undone and why.
        assert "- release 1.5.0: exit 0" in account
        assert re.search(r"step 1/\d canary 25%: passed its gate", account), account
        assert "- release 1.6.0: exit 1, stopped by its gate and traffic undone" in account
        assert re.search(
            # Whichever sees the 503s first: the canary's probe, or its error rate in Prometheus.
            r"step 1/\d canary 25%: stopped by its gate gate failed: health gate 'flutter-app-canary' fail: "
            r"(probe \S+: HTTP 503|check error-rate-canary: error rate 100 %)",
            said,
        ), account
        assert "rolled back by traffic: the canary's weight is 0 again" in account
        assert "./dev.sh sandbox stop" in account
        report = tmp_path / "report.md"
        assert report.is_file() and "## " in report.read_text()
        # What the API server holds: 1.5.0 serves, the canary's weight is back at 0.
        ns = re.search(r"kubectl get \S+ -n (\S+)", account)
        assert ns, account
        stable = sandbox.get("deployments", f"{APP}-stable", ns[1])
        assert stable and stable["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.5.0")
        route = sandbox.get("virtualservices.networking.istio.io", APP, ns[1])
        assert route is not None
        # The last rule splits users' traffic (a header rule for testers may precede it).
        weights = {
            dest["destination"]["subset"]: dest.get("weight", 0)
            for dest in route["spec"]["http"][-1]["route"]
        }
        assert weights.get("canary", 0) == 0 and weights["stable"] == 100, weights
        # The sandbox stays up; what the demo itself started is gone.
        assert (
            subprocess.run([str(ROOT / "sandbox" / "sandbox.sh"), "env"], capture_output=True).returncode == 0
        )
        assert started_here(tmp_path) == []
    finally:
        project.remove_stacks()
