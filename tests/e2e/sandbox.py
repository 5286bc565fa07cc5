"""The sandbox as the end-to-end tests drive it: the real `pulumi` CLI and engine, the Python
language host, the Kubernetes provider and a kube-apiserver with kwok nodes, started by
``sandbox/sandbox.sh`` (see docs/sandbox.md).

Everything runs as a user would run it: subprocesses with the environment ``sandbox.sh start``
exports, in a copy of the project, each test on stacks of its own. What the tests assert on is what
the API server holds (``kubectl get -o json``) and what Pulumi recorded (``pulumi stack history``,
``pulumi stack export``).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import signal
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.kubeconfig import read_current_cluster
from tests.support.project import ROOT

SANDBOX = ROOT / "sandbox" / "sandbox.sh"
CACHE = Path(
    os.environ.get("FLUTTER_SANDBOX_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flutter-app-sandbox"
)
"""Where sandbox/toolchain.sh and sandbox/sandbox.sh keep everything (the same default)."""
TOOLCHAIN = ROOT / "sandbox" / "toolchain.sh"
# The program, the policy pack and the settings mypy reads (Pulumi.yaml runs it as typechecker).
PROJECT_TREE = (
    "Pulumi.yaml",
    "__main__.py",
    "pyproject.toml",
    "credentials",
    "components",
    "gates",
    "rollout",
    "policies",
)
COMMAND_TIMEOUT_S = 900
INVENTORY_KINDS = (
    "deployments",
    "services",
    "secrets",
    "configmaps",
    "poddisruptionbudgets",
    "resourcequotas",
    "limitranges",
    "networkpolicies",
    "ingresses",
    "virtualservices.networking.istio.io",
)


class SandboxError(Exception):
    """A sandbox command failed; the message carries its output."""


def parse_exports(text: str, base: Mapping[str, str]) -> dict[str, str]:
    """The environment ``sandbox.sh start`` describes with ``export NAME=VALUE`` lines (bash
    quoting; ``$PATH`` refers to the current PATH)."""
    env = dict(base)
    for line in text.splitlines():
        if not line.startswith("export "):
            continue
        name, _, value = shlex.split(line.removeprefix("export "))[0].partition("=")
        env[name] = value.replace("$PATH", base.get("PATH", ""))
    return env


def completed(argv: Sequence[str], result: subprocess.CompletedProcess[str]) -> str:
    return f"$ {shlex.join(argv)}\nexit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


@dataclass
class Sandbox:
    """A running sandbox: the environment to run commands in, and whether these tests started it."""

    env: dict[str, str]
    owned: bool

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        # A session of its own, so that on a timeout the CLI and every plugin it started (language
        # host, providers, policy pack) are stopped together, never left running.
        with subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**self.env, **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                stdout, stderr = process.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise
        result = subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr)
        if check and result.returncode != 0:
            raise SandboxError(completed(argv, result))
        return result

    def binding(self) -> dict[str, str]:
        """The sandbox's cluster as a stack binds it: its API server and CA fingerprint."""
        found = read_current_cluster(None, environ=self.env)
        return {"apiServer": found.server, **({"caSha256": found.ca_sha256} if found.ca_sha256 else {})}

    def env_elsewhere(self, directory: Path) -> dict[str, str]:
        """The sandbox's environment with KUBECONFIG at a closed port (its credentials kept): a
        kubeconfig that names another cluster."""
        document = yaml.safe_load(Path(self.env["KUBECONFIG"]).read_text())
        for cluster in document["clusters"]:
            cluster["cluster"]["server"] = "https://127.0.0.1:9"
        wrong = directory / "kubeconfig-elsewhere"
        wrong.write_text(yaml.safe_dump(document))
        return {**self.env, "KUBECONFIG": str(wrong)}

    def shell_before_start(self) -> dict[str, str]:
        """The environment of a shell that has not started the sandbox: none of the variables
        `./dev.sh sandbox start` exports (only the mypy cache the test run keeps warm)."""
        exported = (set(self.env) - set(os.environ)) | {"KUBECONFIG", "PULUMI_BACKEND_URL"}
        env = {key: value for key, value in os.environ.items() if key not in exported}
        env["MYPY_CACHE_DIR"] = self.env["MYPY_CACHE_DIR"]
        return env

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(["kubectl", *args], check=check, timeout=120)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object as the API server holds it, or None when it does not exist."""
        ns = ["-n", namespace] if namespace else []
        result = self.kubectl("get", kind, name, *ns, "-o", "json", "--ignore-not-found", check=True)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def inventory(self, namespace: str) -> dict[str, Any]:
        """What must survive any fault, as the API server holds it: the Namespace and every object
        the stacks declare in it, by UID; each Deployment's image; the live Service's selector;
        the app Secret's data."""
        found: dict[str, Any] = {
            "namespace": ((self.get("namespace", namespace) or {}).get("metadata") or {}).get("uid")
        }
        for kind in INVENTORY_KINDS:
            found[kind] = sorted(
                (o["metadata"]["name"], o["metadata"]["uid"]) for o in self.list(kind, namespace)
            )
        found["images"] = {
            d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
            for d in self.list("deployments", namespace)
        }
        live = self.get("service", "flutter-app", namespace)
        found["live"] = live["spec"]["selector"] if live else None
        secret = self.get("secret", "flutter-app-secrets", namespace)
        found["secret"] = secret["data"] if secret else None
        return found

    def list(self, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        args = ["get", kind, "-n", namespace, "-o", "json", *(["-l", selector] if selector else [])]
        items: list[dict[str, Any]] = json.loads(self.kubectl(*args).stdout)["items"]
        return items


@dataclass
class Project:
    """A copy of the project (the program, its policy pack, its virtualenv by link) and the stacks
    the tests create in it."""

    sandbox: Sandbox
    path: Path
    stacks: list[str] = field(default_factory=list)

    def pulumi(
        self,
        *args: str,
        stack: str | None = None,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        argv = ["pulumi", "--non-interactive", *args, *(["--stack", stack] if stack else [])]
        return self.sandbox.run(argv, cwd=self.path, input=input, env=env, check=check, timeout=timeout)

    def rollout(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(ROOT / ".venv" / "bin" / "rollout"), "--cwd", str(self.path), *args]
        return self.sandbox.run(argv, cwd=self.path, env=env, check=False, timeout=timeout)

    def new_stack(
        self, prefix: str, config: Mapping[str, Any], secrets: Mapping[str, str] = {}, *, bind: bool = True
    ) -> str:
        """``pulumi stack init`` a stack of its own, then its config: plain values written to its
        stack file as YAML (objects as objects), secrets with ``pulumi config set --secret``.
        ``bind``: an existing-cluster stack is bound to the sandbox's cluster (cluster.apiServer
        and caSha256, as a user sets them), unless its config binds it already."""
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.pulumi("stack", "init", name)
        self.stacks.append(name)
        cluster = config.get("cluster")
        if (
            bind
            and isinstance(cluster, Mapping)
            and cluster.get("mode") == "existing"
            and "apiServer" not in cluster
        ):
            config = {**config, "cluster": {**cluster, **self.sandbox.binding()}}
        self.write_config(name, config)
        for key, value in secrets.items():
            self.pulumi("config", "set", "--secret", key, stack=name, input=value)
        return name

    def stack_file(self, stack: str) -> Path:
        return self.path / f"Pulumi.{stack}.yaml"

    def write_config(self, stack: str, config: Mapping[str, Any]) -> None:
        """Replace the plain config of ``stack`` (its encryption salt and secrets are kept)."""
        path = self.stack_file(stack)
        document = yaml.safe_load(path.read_text()) if path.exists() else {}
        document = document or {}
        kept = {
            k: v for k, v in (document.get("config") or {}).items() if isinstance(v, dict) and "secure" in v
        }
        document["config"] = {**{f"flutter-app:{k}": v for k, v in config.items()}, **kept}
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def history(self, stack: str, *, show_secrets: bool = False) -> list[dict[str, Any]]:
        """Every entry, newest first (one page as large as the tests ever make)."""
        args = [
            "stack",
            "history",
            "--json",
            "--page-size",
            "1000",
            *(["--show-secrets"] if show_secrets else []),
        ]
        entries: list[dict[str, Any]] = json.loads(self.pulumi(*args, stack=stack).stdout or "[]")
        return entries

    def export(self, stack: str) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.pulumi("stack", "export", stack=stack).stdout)
        return state

    def remove_stacks(self) -> None:
        """Destroy and remove every stack the tests created (best effort: the sandbox is disposable)."""
        for stack in self.stacks:
            # A test that interrupted an update may have left the stack locked.
            self.pulumi("cancel", "--yes", stack=stack, check=False)
            # Staging and production protect their Namespace and Secret: a deliberate teardown
            # unprotects them first (docs/operations.md).
            self.pulumi("state", "unprotect", "--all", "--yes", stack=stack, check=False)
            self.pulumi("destroy", "--yes", "--skip-preview", stack=stack, check=False)
            self.pulumi("stack", "rm", "--yes", "--force", stack=stack, check=False)
        self.stacks.clear()


def copy_project(target: Path) -> Path:
    """The project's program and policy pack in ``target``, with the repository's virtualenv
    linked in as the program's (.venv) and the pack's (policies/venv) environment.

    The working tree is copied; with ``E2E_COMMIT=<rev>`` that commit's files instead (to test
    what is committed while the working tree is being edited)."""
    target.mkdir(parents=True, exist_ok=True)
    commit = os.environ.get("E2E_COMMIT")
    if commit:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, *PROJECT_TREE], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    for name in [] if commit else PROJECT_TREE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("venv", "__pycache__"))
        else:
            shutil.copy(source, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    (target / "policies" / "venv").symlink_to(ROOT / ".venv")
    return target


RUN_ID = "FLUTTER_E2E_RUN"
"""The test run's id (set by the controlling pytest process, inherited by xdist workers)."""
OWNER = CACHE / "e2e-sandbox.owner"
"""The id of the test run that started the running sandbox (it stops it when it ends)."""


def start_sandbox(ci: bool) -> Sandbox | str:
    """The running sandbox (reused) or a new one; a reason string when it cannot be had. Outside
    CI the toolchain is not built here (a cold build takes half an hour: `./dev.sh test` or
    `sandbox/toolchain.sh` builds it). Test processes running in parallel (xdist workers) share
    one sandbox: the first starts it, under a lock, and the run's controlling process stops it
    (``stop_sandbox_of_run``)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "e2e-sandbox.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _start_or_reuse(ci)


def _start_or_reuse(ci: bool) -> Sandbox | str:
    env = dict(os.environ)
    run = os.environ.get(RUN_ID, "")
    reuse = subprocess.run([str(SANDBOX), "env"], capture_output=True, text=True, check=False, timeout=60)
    if reuse.returncode == 0:
        owner = OWNER.read_text() if OWNER.exists() else ""
        return Sandbox(parse_exports(reuse.stdout, env), owned=bool(run) and owner == run)
    built = subprocess.run(
        [str(TOOLCHAIN), "--check"], capture_output=True, text=True, check=False, timeout=60
    )
    if built.returncode != 0 and not ci:
        return "the sandbox toolchain is not built (run sandbox/toolchain.sh, about 30 minutes cold)"
    started = subprocess.run(
        [str(SANDBOX), "start"], capture_output=True, text=True, check=False, timeout=90 * 60
    )
    if started.returncode != 0:
        return f"`sandbox/sandbox.sh start` failed:\n{started.stderr[-4000:]}"
    OWNER.write_text(run)
    return Sandbox(parse_exports(started.stdout, env), owned=True)


def stop_sandbox_of_run(run: str) -> None:
    """Stop the sandbox if the test run ``run`` started it."""
    if run and OWNER.exists() and OWNER.read_text() == run:
        subprocess.run([str(SANDBOX), "stop"], capture_output=True, text=True, check=False, timeout=300)
        OWNER.unlink(missing_ok=True)
