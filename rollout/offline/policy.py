"""Run the project's CrossGuard policy pack over an offline program run, through pulumi_policy's own
analyzer servicer, the way the Pulumi engine drives a pack during `pulumi preview --policy-pack`:

1. the pack's real ``__main__.py`` runs (as ``python -m pulumi.policy`` would run it) with the
   gRPC server plumbing of ``pulumi_policy.policy`` replaced, so the ``_PolicyAnalyzerServicer``
   that ``PolicyPack(...)`` builds is captured instead of served;
2. ``GetAnalyzerInfo``, then ``Configure`` with the environment's policy config reconciled as the
   CLI does it (pulumi/pulumi pkg/resource/analyzer/config.go ``ReconcilePolicyPackConfig``:
   schema defaults, then ``all``, then per-policy entries, validated against each schema);
3. ``Analyze`` for every custom resource (its inputs, encoded as the engine encodes them: secrets
   as signature-wrapped objects, unknowns as the unknown sentinel, ``__`` keys dropped);
4. one ``AnalyzeStack`` with every resource, its parent and dependencies.

Where this differs from a real preview (see ../shared/notes/pulumi-offline-testing.md 2.2): the
inputs are the program's, not the provider's checked inputs (no autonames or provider defaults),
and ``AnalyzeStack`` sees the same inputs rather than provider outputs.

The pack runs in a worker thread inside a copy of the caller's ``contextvars`` context, so
whatever it does to Pulumi's runtime settings and config (the servicer calls
``pulumi.runtime.configure`` when ``PULUMI_PROJECT``/``PULUMI_STACK``/``PULUMI_DRY_RUN`` are set)
stays there; a pack that does not answer within ``timeout`` seconds is reported, not waited for.
"""

from __future__ import annotations

import contextvars
import io
import json
import runpy
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal, TypeVar
from unittest import mock

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import config as runtime_config
from pulumi.runtime import proto, rpc, settings

from rollout.offline.engine import ProgramRun, Registration

Level = Literal["mandatory", "advisory"]
T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0
_LEVELS = {
    "advisory": proto.ADVISORY,
    "mandatory": proto.MANDATORY,
    "remediate": proto.REMEDIATE,
    "disabled": proto.DISABLED,
}
_LEVEL_NAMES = {number: name for name, number in _LEVELS.items()}


class PolicyPackError(Exception):
    """The pack could not be run: missing or invalid config, a pack that fails to load, a policy
    that raised, or one that did not finish in time. The message says which and where."""


@dataclass(frozen=True)
class Violation:
    """One policy diagnostic about one resource (``urn`` empty: about the whole stack)."""

    policy: str
    urn: str
    type: str
    name: str
    message: str
    """What is wrong, naming the resource and the field (the policy's description is not repeated)."""
    level: Level
    """``mandatory`` blocks a deployment; ``advisory`` is reported only (remediate counts as mandatory)."""


@dataclass(frozen=True)
class PolicyConfigEntry:
    """One entry of a ``--policy-pack-config`` file: an enforcement level and/or properties."""

    level: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)


def load_policy_config(path: Path) -> dict[str, PolicyConfigEntry]:
    """Parse a policy config file as the Pulumi CLI does (pkg/resource/analyzer/config.go): a JSON
    object of policy name (or ``all``) -> enforcement level, or -> object with an optional
    ``enforcementLevel`` and the policy's properties."""
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise PolicyPackError(f"cannot read policy config {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise PolicyPackError(f"policy config {path} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise PolicyPackError(f"policy config {path} must be a JSON object of policy name -> config")
    entries: dict[str, PolicyConfigEntry] = {}
    for name, value in document.items():
        if isinstance(value, str):
            value = {"enforcementLevel": value}
        if not isinstance(value, dict):
            raise PolicyPackError(f"policy config {path}: {name} must be an enforcement level or an object")
        properties = dict(value)
        level = properties.pop("enforcementLevel", None)
        if level is not None and level not in _LEVELS:
            raise PolicyPackError(
                f"policy config {path}: {name}: {level!r} is not a valid enforcement level "
                f"({', '.join(_LEVELS)})"
            )
        entries[name] = PolicyConfigEntry(level, properties)
    return entries


def check_policies(
    run: ProgramRun, environment: str, pack_dir: Path, *, timeout: float = DEFAULT_TIMEOUT
) -> list[Violation]:
    """Run the pack in ``pack_dir`` over ``run`` with ``pack_dir/config/<environment>.json``.

    Returns the violations, mandatory first, then in analysis order (resources as the program
    declared them, policies in pack order); raises PolicyPackError when the pack cannot be run.
    """
    config_dir = pack_dir / "config"
    config_file = config_dir / f"{environment}.json"
    if not config_file.is_file():
        available = sorted(p.stem for p in config_dir.glob("*.json"))
        raise PolicyPackError(
            f"no policy config for environment '{environment}' ({config_file} does not exist; "
            f"environments with one: {', '.join(available) or 'none'})"
        )
    return analyze(run.resources, pack_dir, load_policy_config(config_file), timeout=timeout)


def analyze(
    resources: Sequence[Registration],
    pack_dir: Path,
    config: Mapping[str, PolicyConfigEntry] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Violation]:
    """Run the pack over ``resources`` with ``config`` (None: the pack's own defaults)."""
    pack_dir = pack_dir.resolve()
    if not (pack_dir / "__main__.py").is_file():
        raise PolicyPackError(f"no policy pack in {pack_dir} (it has no __main__.py)")
    session = _Session(pack_dir, list(resources), dict(config or {}))
    _forget_pack_modules(pack_dir)
    try:
        violations = _run_isolated(session.run, timeout, session)
    finally:
        if not session.running:
            _forget_pack_modules(pack_dir)
    # Mandatory first; otherwise in analysis order (resources as declared, policies as in the pack).
    return sorted(violations, key=lambda v: v.level != "mandatory")


# --- running the pack ---------------------------------------------------------------------------


class _Session:
    """One load of the pack and one pass of requests over the resources."""

    def __init__(
        self, pack_dir: Path, resources: list[Registration], config: dict[str, PolicyConfigEntry]
    ) -> None:
        self.pack_dir = pack_dir
        self.resources = resources
        self.config = config
        self.by_urn = {r.urn: r for r in resources}
        self.doing = "loading the policy pack"
        self.running = True

    def run(self) -> list[Violation]:
        try:
            _private_runtime_state(self.resources)
            servicer = self._load()
            self.doing = "configuring the policy pack"
            info = servicer.GetAnalyzerInfo(None, None)
            reconciled = reconcile_config(info, self.config)
            servicer.Configure(proto.ConfigureAnalyzerRequest(policyConfig=reconciled), None)
            violations: list[Violation] = []
            for resource in self.resources:
                if resource.custom:
                    self.doing = f"analysing {resource.urn}"
                    response = self._call(servicer.Analyze, self._analyze_request(resource), resource)
                    violations += self._violations(response, resource.urn)
            self.doing = "analysing the stack"
            response = self._call(servicer.AnalyzeStack, self._stack_request(), None)
            violations += self._violations(response, "")
            return violations
        finally:
            self.running = False

    def _load(self) -> Any:
        import pulumi_policy.policy as policy_module

        captured: list[Any] = []

        class _Server:
            def add_insecure_port(self, address: str) -> int:
                return 0

            def start(self) -> None:
                pass

            def stop(self, grace: float | None) -> None:
                pass

        def stop_serving(seconds: float) -> None:
            # PolicyPack serves until interrupted; this returns it from its serve loop at once.
            raise KeyboardInterrupt

        plumbing: dict[str, Any] = {
            "grpc": SimpleNamespace(server=lambda *args, **kwargs: _Server()),
            "analyzer_pb2_grpc": SimpleNamespace(
                add_AnalyzerServicer_to_server=lambda servicer, server: captured.append(servicer)
            ),
            "time": SimpleNamespace(sleep=stop_serving),
            # PolicyPack writes its port to stdout for the engine; keep it off ours.
            "sys": SimpleNamespace(stdout=SimpleNamespace(buffer=io.BytesIO())),
        }
        try:
            with mock.patch.multiple(policy_module, **plumbing):
                # As `python -m pulumi.policy ENGINE PACK_DIR` runs it: the directory as a program.
                runpy.run_path(str(self.pack_dir), run_name="__main__")
        except Exception as error:
            raise PolicyPackError(
                f"the policy pack in {self.pack_dir} failed to load: {_describe(error, self.pack_dir)}"
            ) from error
        if not captured:
            raise PolicyPackError(f"the policy pack in {self.pack_dir} did not create a PolicyPack")
        return captured[-1]

    def _call(self, method: Callable[[Any, Any], T], request: Any, resource: Registration | None) -> T:
        try:
            return method(request, None)
        except Exception as error:
            what = f"{resource.type} {resource.name}" if resource else "the stack"
            raise PolicyPackError(
                f"a policy of the pack in {self.pack_dir} raised while analysing {what}: "
                f"{_describe(error, self.pack_dir)}"
            ) from error

    def _provider(self, resource: Registration) -> proto.AnalyzerProviderResource | None:
        provider = self.by_urn.get(resource.provider.rsplit("::", 1)[0]) if resource.provider else None
        if provider is None:
            return None
        return proto.AnalyzerProviderResource(
            type=provider.type, properties=to_struct(provider.inputs), urn=provider.urn, name=provider.name
        )

    def _analyze_request(self, resource: Registration) -> proto.AnalyzeRequest:
        request = proto.AnalyzeRequest(
            type=resource.type,
            properties=to_struct(resource.inputs),
            urn=resource.urn,
            name=resource.name,
            options=proto.AnalyzerResourceOptions(parent=resource.parent),
        )
        provider = self._provider(resource)
        if provider is not None:
            request.provider.CopyFrom(provider)
        return request

    def _stack_request(self) -> proto.AnalyzeStackRequest:
        resources = []
        for resource in self.resources:
            item = proto.AnalyzerResource(
                type=resource.type,
                properties=to_struct(resource.inputs),
                urn=resource.urn,
                name=resource.name,
                options=proto.AnalyzerResourceOptions(parent=resource.parent),
                parent=resource.parent,
                dependencies=list(dict.fromkeys(resource.dependencies)),
            )
            provider = self._provider(resource)
            if provider is not None:
                item.provider.CopyFrom(provider)
            # Registrations may carry per-property dependencies (as RegisterResourceRequest does).
            property_dependencies: Mapping[str, Iterable[str]] = getattr(
                resource, "property_dependencies", {}
            )
            for key, urns in (property_dependencies or {}).items():
                item.propertyDependencies[key].urns.extend(urns)
            resources.append(item)
        return proto.AnalyzeStackRequest(resources=resources)

    def _violations(self, response: Any, default_urn: str) -> list[Violation]:
        violations = []
        for diagnostic in response.diagnostics:
            urn = diagnostic.urn or default_urn
            resource = self.by_urn.get(urn)
            message = diagnostic.message
            # The servicer sends "description\nmessage"; the description is the policy's, not news.
            if message.startswith(diagnostic.description + "\n"):
                message = message[len(diagnostic.description) + 1 :]
            violations.append(
                Violation(
                    policy=diagnostic.policyName,
                    urn=urn,
                    type=resource.type if resource else "",
                    name=resource.name if resource else "",
                    message=message,
                    level="mandatory"
                    if diagnostic.enforcementLevel in (proto.MANDATORY, proto.REMEDIATE)
                    else "advisory",
                )
            )
        return violations


def _run_isolated(work: Callable[[], T], timeout: float, session: _Session) -> T:
    """Run ``work`` in a daemon thread, in a copy of this context; give up after ``timeout`` s."""
    context = contextvars.copy_context()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = context.run(work)
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    thread = threading.Thread(target=target, name="policy-pack", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise PolicyPackError(
            f"the policy pack in {session.pack_dir} did not finish within {timeout:g} s "
            f"(still {session.doing}); a policy may be stuck in a loop or waiting forever"
        )
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def _private_runtime_state(resources: Sequence[Registration]) -> None:
    """Give this (copied) context its own config map and settings, like the policy host process
    the engine starts: project and stack from the URNs, preview, and the program's config."""
    runtime_config.CONFIG.set(dict(runtime_config.CONFIG.get()))
    runtime_config._SECRET_KEYS.set(set(runtime_config._SECRET_KEYS.get()))
    project, stack = "project", "stack"
    if resources:
        # urn:pulumi:STACK::PROJECT::TYPE::NAME
        parts = resources[0].urn.split("::")
        stack, project = parts[0].removeprefix("urn:pulumi:"), parts[1]
    settings.configure(
        settings.Settings(project=project, stack=stack, dry_run=True, organization="organization")
    )


def _forget_pack_modules(pack_dir: Path) -> None:
    """Drop the pack's own modules from sys.modules, so each run loads the pack's code afresh
    (and a pack in another directory with the same module names is not confused with this one)."""
    local = {p.stem for p in pack_dir.glob("*.py")} | {
        p.name for p in pack_dir.iterdir() if (p / "__init__.py").is_file()
    }
    local.discard("__main__")
    for name in [m for m in sys.modules if m.split(".", 1)[0] in local]:
        del sys.modules[name]


def _describe(error: BaseException, pack_dir: Path) -> str:
    """``Type: message (at file:line in function)``, the innermost frame inside the pack."""
    where = ""
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(pack_dir):
            where = f" (at {path.relative_to(pack_dir.parent)}:{frame.lineno} in {frame.name})"
    return f"{type(error).__name__}: {error}{where}"


# --- policy config ------------------------------------------------------------------------------


def reconcile_config(info: Any, config: Mapping[str, PolicyConfigEntry]) -> dict[str, proto.PolicyConfig]:
    """Each policy's level and properties as the CLI computes them before ``Configure``: the
    policy's own level and schema defaults, the pack's initial config, ``all``, then the
    policy's entry; then validated against the policy's schema. Unknown policy names are an
    error here (the CLI ignores them), so a typo cannot silently disable a setting."""
    policies = {p.name: p for p in info.policies}
    unknown = sorted(set(config) - set(policies) - {"all"})
    if unknown:
        raise PolicyPackError(
            f"policy config names policies the pack '{info.name}' does not have: {', '.join(unknown)} "
            f"(it has: {', '.join(sorted(policies))})"
        )
    levels: dict[str, str] = {}
    properties: dict[str, dict[str, Any]] = {}
    for name, policy in policies.items():
        levels[name] = _LEVEL_NAMES[policy.enforcementLevel]
        schema = json_format.MessageToDict(policy.configSchema.properties)
        properties[name] = {k: v["default"] for k, v in schema.items() if "default" in v}
    initial = {
        name: PolicyConfigEntry(
            _LEVEL_NAMES[value.enforcementLevel] if value.enforcementLevel else None,
            json_format.MessageToDict(value.properties),
        )
        for name, value in info.initialConfig.items()
    }
    for layer in (initial, config):
        everything = layer.get("all")
        if everything is not None and everything.level:
            levels = dict.fromkeys(levels, everything.level)
        for name, entry in layer.items():
            if name in policies:
                levels[name] = entry.level or levels[name]
                properties[name].update(entry.properties)
    problems = [
        f"{name}: {problem}"
        for name, policy in policies.items()
        for problem in _schema_problems(
            json_format.MessageToDict(policy.configSchema.properties),
            list(policy.configSchema.required),
            properties[name],
        )
    ]
    if problems:
        raise PolicyPackError("invalid policy config:\n" + "\n".join(f"  - {p}" for p in problems))
    reconciled = {}
    for name in policies:
        entry = proto.PolicyConfig(enforcementLevel=_LEVELS[levels[name]])
        entry.properties.update(properties[name])
        reconciled[name] = entry
    return reconciled


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer(),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _schema_problems(schema: Mapping[str, Any], required: list[str], values: Mapping[str, Any]) -> list[str]:
    """The JSON-schema checks policy config schemas use: required, type, enum, minimum, maximum."""
    problems = [f"{key} is required" for key in required if key not in values]
    for key, value in values.items():
        spec = schema.get(key)
        if spec is None:
            continue
        expected = spec.get("type")
        if expected in _JSON_TYPES and not _JSON_TYPES[expected](value):
            problems.append(f"{key}: expected {expected}, got {json.dumps(value)}")
            continue
        if "enum" in spec and value not in spec["enum"]:
            problems.append(f"{key}: {json.dumps(value)} is not one of {', '.join(map(str, spec['enum']))}")
        if "minimum" in spec and isinstance(value, int | float) and value < spec["minimum"]:
            problems.append(f"{key}: {json.dumps(value)} is below the minimum {_number(spec['minimum'])}")
        if "maximum" in spec and isinstance(value, int | float) and value > spec["maximum"]:
            problems.append(f"{key}: {json.dumps(value)} is above the maximum {_number(spec['maximum'])}")
    return problems


def _number(value: float) -> str:
    """Schemas travel as protobuf Structs, where every number is a double: show 1.0 as 1."""
    return str(int(value)) if float(value).is_integer() else str(value)


# --- wire encoding ------------------------------------------------------------------------------


def to_wire(value: Any) -> Any:
    """A deserialized input value as the engine marshals it for a policy pack (KeepUnknowns,
    KeepSecrets, SkipInternalKeys): secrets stay signature-wrapped objects, unknowns become the
    unknown sentinel string, keys starting with ``__`` are dropped."""
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if type(value).__name__ == "Unknown":
        return rpc.UNKNOWN
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        from pulumi_policy.deserialize import serialize_properties

        return serialize_properties({"value": value})["value"]
    return str(value)


def to_struct(inputs: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(to_wire(dict(inputs)))
    return struct
