"""Run a Pulumi program offline under the SDK's own mock monitor, the way the Python language
host runs it (config set, settings configured, ``run_in_stack(runpy.run_path(...))``), and
record every registration the engine would receive: type, name, parent, dependencies, provider,
inputs (secrets still marked) and the stack outputs."""

from __future__ import annotations

import asyncio
import json
import logging
import runpy
import sys
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import empty_pb2
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.proto import resource_pb2

from rollout.offline.project import StackConfig

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Registration:
    """One resource as the engine would see it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: tuple[str, ...]
    provider: str
    inputs: dict[str, Any]


@dataclass
class ProgramRun:
    """Everything one offline run of a program declared."""

    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _aws_outputs(token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs the AWS provider would compute, as placeholders that say they are offline."""
    outputs: dict[str, Any] = {"arn": f"arn:aws:offline::000000000000:{token.split(':')[-1].lower()}/{name}"}
    if token == "aws:eks/cluster:Cluster":
        outputs |= {
            "name": inputs.get("name", name),
            "endpoint": f"https://{name}.eks.offline.invalid",
            "certificateAuthority": {"data": "b2ZmbGluZQ=="},
            "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.offline.invalid/id/{name}"}]}],
        }
    elif token == "aws:ecr/repository:Repository":
        outputs["repositoryUrl"] = f"000000000000.dkr.ecr.offline.invalid/{inputs.get('name', name)}"
    elif token == "aws:iam/role:Role":
        outputs["name"] = name
    return outputs


def _policy_document(args: dict[str, Any]) -> str:
    statements = [
        {
            "Effect": s.get("effect", "Allow"),
            "Action": s.get("actions", []),
            "Principal": {p["type"]: p["identifiers"] for p in s.get("principals", [])},
        }
        for s in args.get("statements", [])
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class _OfflineMocks(pulumi.runtime.Mocks):
    """Echo inputs as outputs, the way a preview sees them before a provider has answered; AWS
    resources and look-ups answer with placeholders (``offline.invalid``) instead of calling AWS."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ.startswith("aws:"):
            state = _aws_outputs(args.typ, args.name, state) | state
        return args.resource_id or f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {
                "names": [f"offline-{z}" for z in "abc"],
                "zoneIds": [f"offline-az{i}" for i in (1, 2, 3)],
            }, []
        if args.token == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"json": _policy_document(args.args), "id": "policy"}, []
        return {}, []


class _CapturingMonitor(mocks.MockMonitor):
    def __init__(self, run: ProgramRun) -> None:
        super().__init__(_OfflineMocks())
        self.run = run

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the engine builds URNs (deployment.go generateURN): the parent's full qualified type,
        # and no Stack type prefix for top-level resources.
        if parent and not parent.endswith(f"::{STACK_TYPE}::{pulumi.get_project()}-{pulumi.get_stack()}"):
            type_ = parent.split("::")[2] + "$" + type_
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:
        if request.type == STACK_TYPE:
            urn = f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{STACK_TYPE}::{request.name}"
            return resource_pb2.RegisterResourceResponse(urn=urn)
        response = super().RegisterResource(request)
        self.run.resources.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent,
                dependencies=tuple(request.dependencies),
                provider=request.provider,
                inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn.split("::")[2] == STACK_TYPE:
            self.run.outputs = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
        return empty_pb2.Empty()


class _WarningCollector(logging.Handler):
    def __init__(self, run: ProgramRun) -> None:
        super().__init__(level=logging.WARNING)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        self.run.warnings.append(record.getMessage())


def run_program(config: StackConfig, *, preview: bool = True) -> ProgramRun:
    """Run ``config.main`` for ``config.stack``; exceptions from the program propagate."""
    run = ProgramRun()
    logger = logging.Logger("pulumi-offline")
    logger.addHandler(_WarningCollector(run))
    monitor = _CapturingMonitor(run)
    pulumi.runtime.set_all_config(config.values, sorted(config.secret_keys))
    settings.configure(
        mocks.MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(empty_pb2.Empty()).supportedFeatures),
            engine=mocks.MockEngine(logger),
            project=config.project,
            stack=config.stack,
            dry_run=preview,
            organization="organization",
            callbacks=None,
            # A fresh set: outputs pending from an earlier run belong to another event loop.
            outputs=set(),
        )
    )
    settings.set_root_resource(None)  # type: ignore[arg-type]  # a fresh run has no root Stack yet
    program_dir = str(config.directory.resolve())
    sys.path.insert(0, program_dir)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def program() -> None:
        runpy.run_path(str(config.main), run_name="__main__")

    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(program))
    finally:
        # A program that raised leaves registrations in flight: end them quietly, not as
        # "Task was destroyed but it is pending" noise on stderr.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        # Leave a usable loop behind: later SDK calls (and tests) expect one.
        asyncio.set_event_loop(asyncio.new_event_loop())
        sys.path.remove(program_dir)
    return run
