"""A stand-in `pulumi` CLI for contract tests of the Automation API code (not Pulumi itself).

It speaks the JSON the real CLI documents (pkg/cmd/pulumi/stack/stack_history.go and
config/config.go: ``stack history --json [--show-secrets]``, ``config [--show-secrets] --json``,
``config set-all [--path] (--plaintext|--secret) k=v | --json J``, ``config rm|rm-all [--path]``,
``stack select``, ``stack output --json``, ``stack export``, ``whoami --json``, ``preview
--save-plan PATH`` (the engine's plan format, pkg/cmd/pulumi/plan), ``up --message [--plan PATH]``,
``version``) over a JSON state file
(``FAKE_PULUMI_STATE``), and appends every call — argv and the ``PULUMI_*`` environment, the
passphrase shown only as ``<set>`` — to ``FAKE_PULUMI_CALLS`` (JSON lines).

State: ``{"version", "passphrase"?, "now", "git_head", "stacks": {name: {"config", "history",
"outputs", "up": [{"match", "fail": "gate"|"locked"|"error", "text"}]}}}``. Config values are
kept with their real values and a ``secret`` flag (the fake's stand-in for encryption); reading
them with ``--show-secrets`` needs ``PULUMI_CONFIG_PASSPHRASE`` equal to ``passphrase`` when set.
A history entry may list ``undecryptable`` keys, printed as ``ERROR_UNABLE_TO_DECRYPT``.

Standard library only; every loop is bounded by its input.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

UNDECRYPTABLE = "ERROR_UNABLE_TO_DECRYPT"
NO_PASSPHRASE = "passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables"


class Failure(Exception):
    def __init__(self, message: str, code: int = 255, stdout: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.stdout = stdout


def load_state() -> tuple[Path, dict[str, Any]]:
    path = Path(os.environ["FAKE_PULUMI_STATE"])
    return path, json.loads(path.read_text())


def save_state(path: Path, state: dict[str, Any]) -> None:
    path.write_text(json.dumps(state, indent=2))


def record(argv: list[str]) -> None:
    calls = os.environ.get("FAKE_PULUMI_CALLS")
    if not calls:
        return
    env = {k: ("<set>" if "PASSPHRASE" in k else v) for k, v in os.environ.items() if k.startswith("PULUMI_")}
    with open(calls, "a", encoding="utf-8") as file:
        file.write(json.dumps({"argv": argv, "env": env, "cwd": os.getcwd()}) + "\n")


def fmt_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def take(args: list[str], flag: str) -> str | None:
    """Remove ``flag VALUE`` from args and return VALUE."""
    if flag in args:
        index = args.index(flag)
        value = args[index + 1]
        del args[index : index + 2]
        return value
    return None


def take_all(args: list[str], flag: str) -> list[str]:
    values = []
    for _ in range(len(args)):
        value = take(args, flag)
        if value is None:
            break
        values.append(value)
    return values


def has(args: list[str], flag: str) -> bool:
    if flag in args:
        args.remove(flag)
        return True
    return False


# -- config paths, as resource.ParsePropertyPath and config.adjustObjectValue treat them ------------


def parse_path(name: str) -> list[str | int]:
    parts: list[str | int] = []
    i, current = 0, ""
    for _ in range(len(name) + 1):
        if i >= len(name):
            break
        char = name[i]
        if char == ".":
            if current:
                parts.append(current)
            current = ""
            i += 1
        elif char == "[":
            if current:
                parts.append(current)
            current = ""
            end = name.index("]", i)
            inner = name[i + 1 : end]
            parts.append(json.loads(inner) if inner.startswith('"') else int(inner))
            i = end + 1
        else:
            current += char
            i += 1
    if current:
        parts.append(current)
    return parts


def adjust(value: str) -> Any:
    if value in ("true", "false"):
        return value == "true"
    if len(value) > 1 and value[0] == "0":
        return value
    try:
        return int(value)
    except ValueError:
        return value


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def set_key(config: dict[str, Any], key: str, value: str, *, secret: bool, path: bool) -> None:
    namespace, _, name = key.partition(":")
    if not path:
        config[key] = {"value": value, "secret": secret}
        return
    parts = parse_path(name)
    top = f"{namespace}:{parts[0]}"
    if len(parts) == 1:
        config[top] = {"value": value, "secret": secret}
        return
    if secret:
        raise Failure("fake pulumi: --secret values inside objects are not supported", 1)
    entry = config.get(top)
    root: Any = entry.get("objectValue") if entry and "objectValue" in entry else {}
    node = root
    for part, following in itertools.pairwise(parts[1:]):
        if isinstance(node, dict):
            child = node.get(part)
        else:
            assert isinstance(part, int)
            child = node[part] if part < len(node) else None
        if child is None:
            child = [] if isinstance(following, int) else {}
            if isinstance(node, dict):
                node[part] = child
            else:
                node.append(child)
        node = child
    last = parts[-1]
    if isinstance(node, list):
        assert isinstance(last, int)
        if last == len(node):
            node.append(adjust(value))
        else:
            node[last] = adjust(value)
    else:
        node[last] = adjust(value)
    config[top] = {"value": dumps(root), "objectValue": root, "secret": bool(entry and entry.get("secret"))}


def remove_key(config: dict[str, Any], key: str, *, path: bool) -> None:
    namespace, _, name = key.partition(":")
    if not path:
        config.pop(key, None)
        return
    parts = parse_path(name)
    top = f"{namespace}:{parts[0]}"
    if len(parts) == 1:
        config.pop(top, None)
        return
    entry = config.get(top)
    if not entry or "objectValue" not in entry:
        return
    root = entry["objectValue"]
    node = root
    for part in parts[1:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)
    entry["value"] = dumps(root)


# -- output shapes ------------------------------------------------------------------------------


def shown(entry: dict[str, Any], show_secrets: bool, undecryptable: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if entry.get("secret") and not show_secrets:
        return {"secret": True}
    if undecryptable:
        return {"value": UNDECRYPTABLE, "secret": bool(entry.get("secret"))}
    out["value"] = entry["value"]
    if "objectValue" in entry:
        out["objectValue"] = entry["objectValue"]
    out["secret"] = bool(entry.get("secret"))
    return out


def check_passphrase(state: dict[str, Any], what: str) -> None:
    expected = state.get("passphrase")
    if expected and os.environ.get("PULUMI_CONFIG_PASSPHRASE") != expected:
        if "PULUMI_CONFIG_PASSPHRASE" not in os.environ:
            raise Failure(f"{what}: {NO_PASSPHRASE}")
        raise Failure(
            f"{what}: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase"
        )


def history_json(stack: dict[str, Any], show_secrets: bool) -> list[dict[str, Any]]:
    out = []
    for item in stack["history"]:
        bad = set(item.get("undecryptable", []))
        entry: dict[str, Any] = {
            "version": item["version"],
            "kind": item["kind"],
            "startTime": item["startTime"],
            "message": item.get("message", ""),
            "environment": dict(sorted(item.get("environment", {}).items())),
            "config": {
                k: shown(v, show_secrets, k in bad) for k, v in sorted(item.get("config", {}).items())
            },
            "result": item.get("result", ""),
        }
        if "endTime" in item:
            entry["endTime"] = item["endTime"]
        if "resourceChanges" in item:
            entry["resourceChanges"] = item["resourceChanges"]
        out.append(entry)
    return out


# -- commands -----------------------------------------------------------------------------------


def stack_of(state: dict[str, Any], name: str | None) -> dict[str, Any]:
    if not name or name not in state["stacks"]:
        raise Failure(f"no stack named '{name}' found")
    stack: dict[str, Any] = state["stacks"][name]
    return stack


def run(argv: list[str], state: dict[str, Any]) -> tuple[str, bool]:
    """Returns (stdout, state changed)."""
    args = list(argv)
    if "--" in args:
        separator = args.index("--")
        head, tail = args[:separator], args[separator + 1 :]
    else:
        head, tail = args, []
    has(head, "--non-interactive")
    name = take(head, "--stack")
    if head == ["version"]:
        return f"v{state.get('version', '3.272.0')}\n", False
    if head[:2] == ["stack", "select"]:
        stack_of(state, name)
        return "", False
    stack = stack_of(state, name)
    config: dict[str, Any] = stack["config"]
    if head[:2] == ["stack", "history"]:
        show = has(head, "--show-secrets")
        size, page = take(head, "--page-size"), take(head, "--page")
        if show:
            check_passphrase(state, "decrypting secrets")
        entries = history_json(stack, show)
        if size is not None:
            start = (int(page or 1) - 1) * int(size)
            entries = entries[start : start + int(size)]
        return json.dumps(entries, indent=2) + "\n", False
    if head[:2] == ["stack", "export"]:
        return json.dumps(
            {"version": 3, "deployment": {"resources": [], "pending_operations": []}}
        ) + "\n", False
    if head[:1] == ["whoami"]:
        return json.dumps({"user": "fake", "url": "fake://backend", "organizations": []}) + "\n", False
    if head[:1] == ["preview"]:
        plan, log = take(head, "--save-plan"), take(head, "--event-log")
        if log:  # the file event log of CLIs up to 3.205 (the SDK reads its summary event)
            summary = {"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": {}}}
            Path(log).write_text(json.dumps({"sequence": 0, "timestamp": 0, **summary}) + "\n")
        if plan:
            urn = f"urn:pulumi:{name}::flutter-app::pulumi-python:dynamic/gates:HealthGate::flutter-app-live-gate"
            Path(plan).write_text(json.dumps({"resourcePlans": {urn: {"steps": ["update"]}}}))
        return "Previewing update\n", False
    if head[:2] == ["stack", "output"]:
        return json.dumps(stack.get("outputs", {}), indent=2) + "\n", False
    if head[:1] == ["config"] and (len(head) == 1 or head[1].startswith("--")):
        show = has(head, "--show-secrets")
        if show and any(v.get("secret") for v in config.values()):
            check_passphrase(state, "could not decrypt configuration values")
        return json.dumps({k: shown(v, show) for k, v in sorted(config.items())}, indent=2) + "\n", False
    if head[:2] == ["config", "set-all"]:
        path = has(head, "--path")
        document = take(head, "--json")
        for flag, secret in (("--plaintext", False), ("--secret", True)):
            for pair in take_all(head, flag):
                key, _, value = pair.partition("=")
                set_key(config, key, value, secret=secret, path=path)
        if document is not None:
            for key, entry in json.loads(document).items():
                if entry.get("value") is None:
                    raise Failure(f'value for --json object key "{key}" is nil', 1)
                if "objectValue" in entry:
                    obj = json.loads(entry["value"])
                    config[key] = {
                        "value": dumps(obj),
                        "objectValue": obj,
                        "secret": bool(entry.get("secret")),
                    }
                else:
                    config[key] = {"value": entry["value"], "secret": bool(entry.get("secret"))}
        return "", True
    if head[:2] == ["config", "set"]:
        path = has(head, "--path")
        secret = has(head, "--secret")
        has(head, "--plaintext")
        if tail:
            value = tail[0]
        elif len(head) > 3:
            value = head[3]
        else:  # as the CLI does with a non-terminal stdin: read it all, drop one trailing newline
            value = sys.stdin.read()
            value = value[:-2] if value.endswith("\r\n") else value[:-1] if value.endswith("\n") else value
        set_key(config, head[2], value, secret=secret, path=path)
        return "", True
    if head[:2] == ["config", "rm"]:
        remove_key(config, head[2], path=has(head, "--path"))
        return "", True
    if head[:2] == ["config", "rm-all"]:
        path = has(head, "--path")
        for key in head[2:]:
            remove_key(config, key, path=path)
        return "", True
    if head[:2] == ["config", "get"]:
        path = has(head, "--path")
        has(head, "--json")
        entry = config.get(head[2])
        if entry is None:
            raise Failure(f"configuration key '{head[2]}' not found for stack '{name}'")
        return json.dumps({"value": entry["value"], "secret": entry.get("secret", False)}) + "\n", False
    if head[:1] == ["up"]:
        take(head, "--plan")
        return up(state, stack, name or "", take(head, "--message") or ""), True
    raise Failure(f"fake pulumi: unsupported command {argv!r}", 2)


def up(state: dict[str, Any], stack: dict[str, Any], name: str, message: str) -> str:
    scripted = next((s for s in stack.get("up", []) if s["match"] in message), None)
    if scripted and scripted["fail"] == "locked":
        raise Failure("[409] Conflict: Another update is currently in progress.")
    start = int(state.get("now", 1_795_000_000))
    state["now"] = start + 60
    version = max((h["version"] for h in stack["history"]), default=0) + 1
    failed = scripted is not None
    entry = {
        "version": version,
        "kind": "update",
        "startTime": fmt_time(start),
        "message": message,
        "environment": {"exec.kind": "auto.local", "git.head": state.get("git_head", "0" * 40)},
        "config": json.loads(json.dumps(stack["config"])),
        "result": "failed" if failed else "succeeded",
        "endTime": fmt_time(start + 42),
        "resourceChanges": {"same": 9, "update": 1},
    }
    stack["history"].insert(0, entry)
    out = [f"Updating ({name}):", f"    pulumi:pulumi:Stack flutter-app-{name} running"]
    if scripted and scripted["fail"] == "gate":
        out += [
            "    pulumi-python:dynamic:Resource gate updating (31s) error: Exception: Traceback (most recent call last):",
            '      File "/app/components/health_gate.py", line 154, in _run',
            f"    components.health_gate.GateFailedError: {scripted['text']}",
            "      evaluation 1 (+0.0 s): fail: error rate 0.12 above max 0.05",
            "      evaluation 2 (+10.0 s): fail: error rate 0.14 above max 0.05",
            "",
            "Resources:",
            "    9 unchanged",
        ]
        raise Failure("update failed", 255, "\n".join(out) + "\n")
    if scripted:
        raise Failure(scripted.get("text", "update failed"), 255, "\n".join(out) + "\n")
    out += ["", "Resources:", "    ~ 1 updated", "    9 unchanged", "", "Duration: 42s"]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    record(argv)
    path, state = load_state()
    try:
        stdout, changed = run(argv, state)
    except Failure as failure:
        if failure.code == 255 and failure.stdout:
            save_state(path, state)  # a failed update is still recorded in history
        sys.stdout.write(failure.stdout)
        sys.stderr.write(f"error: {failure}\n")
        return failure.code
    if changed:
        save_state(path, state)
    sys.stdout.write(stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
