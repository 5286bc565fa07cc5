"""Drive a dynamic provider the way the engine does: serialize it exactly as
``pulumi.dynamic.Resource`` does, start the SDK's own servicer as the engine's shim does
(``python -u -m pulumi.dynamic`` with cwd = project dir and ``PULUMI_PROJECT`` set), read its port
and call it over gRPC with the protobuf requests the engine sends."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import grpc
from pulumi.dynamic.dynamic import ResourceProvider, serialize_provider
from pulumi.runtime import proto, rpc
from pulumi.runtime._serialization import _serialize
from pulumi.runtime.proto import provider_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "flutter-app"
TYPE = "pulumi-python:dynamic/gates:HealthGate"
URN = f"urn:pulumi:test::{PROJECT}::{TYPE}::gate"


def serialize(provider: ResourceProvider) -> str:
    """``__provider`` as Resource.__init__ computes it (unwrapped, as the engine sends it)."""
    serialized, _contains_secrets = _serialize(True, serialize_provider, provider)
    return str(serialized)


def to_struct(values: dict[str, Any]) -> Any:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(values, {}))
    finally:
        loop.close()


def from_struct(struct: Any) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(struct))


def secret(value: str) -> dict[str, str]:
    """A config value as the engine marks secrets on the wire."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


class ProviderProcess:
    """The SDK's dynamic-provider servicer in a subprocess; stderr goes to ``log_path``."""

    def __init__(self, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            cwd=ROOT,
            env={**os.environ, "PULUMI_PROJECT": PROJECT, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError(f"provider did not print its port: {line!r} {log_path.read_text()[-2000:]}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(self.channel).result(timeout=20)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def configure(self, config: dict[str, Any]) -> Any:
        return self.stub.Configure(proto.ConfigureRequest(args=to_struct(config)), timeout=20)

    def check(self, news: dict[str, Any], olds: dict[str, Any] | None = None) -> Any:
        request = proto.CheckRequest(urn=URN, olds=to_struct(olds or {}), news=to_struct(news))
        return self.stub.Check(request, timeout=20)

    def create(self, inputs: dict[str, Any], timeout: float = 60) -> Any:
        return self.stub.Create(proto.CreateRequest(urn=URN, properties=to_struct(inputs)), timeout=timeout)

    def diff(self, id_: str, old_outputs: Any, old_inputs: dict[str, Any], news: dict[str, Any]) -> Any:
        request = proto.DiffRequest(
            id=id_, urn=URN, olds=old_outputs, old_inputs=to_struct(old_inputs), news=to_struct(news)
        )
        return self.stub.Diff(request, timeout=20)

    def update(self, id_: str, old_outputs: Any, news: dict[str, Any], timeout: float = 60) -> Any:
        request = proto.UpdateRequest(id=id_, urn=URN, olds=old_outputs, news=to_struct(news))
        return self.stub.Update(request, timeout=timeout)

    def stop(self) -> None:
        if hasattr(self, "channel"):
            self.channel.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()
