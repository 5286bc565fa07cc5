"""Turn an offline program run into the render artefacts: Kubernetes manifests as the API server
expects them, and a resource list, both with every secret value masked, written atomically."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

from rollout.offline.engine import Registration

MASK = "[secret]"
UNKNOWN = "[unknown]"

# Apply order, as Helm installs kinds, so the file can be read top-down (and `kubectl apply`-ed).
_KIND_ORDER = [
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "Service",
    "Deployment",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Gateway",
    "DestinationRule",
    "VirtualService",
]


def _mask_all(value: Any) -> Any:
    """Keep the shape (keys are not secret), replace every leaf value."""
    if isinstance(value, dict):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(v) for v in value]
    return MASK


def clean(value: Any) -> Any:
    """Secrets masked, unknowns marked, whole floats back to ints (the wire sends doubles)."""
    if rpc.is_rpc_secret(value):
        return _mask_all(clean(rpc.unwrap_rpc_secret(value)))
    if isinstance(value, dict):
        # Sorted: the wire's maps have no order, and two renders must be byte-identical.
        return {k: clean(value[k]) for k in sorted(value) if not k.startswith("__")}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is rpc.UNKNOWN or value == rpc.UNKNOWN or type(value).__name__ == "Unknown":
        return UNKNOWN
    return value


def is_kubernetes_object(resource: Registration) -> bool:
    """A custom resource of the Kubernetes provider that is an API object (not a Helm release)."""
    return (
        resource.custom
        and resource.type.startswith("kubernetes:")
        and "apiVersion" in resource.inputs
        and "kind" in resource.inputs
    )


def _order(manifest: dict[str, Any]) -> tuple[int, str, str]:
    kind = manifest.get("kind", "")
    rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
    meta = manifest.get("metadata") or {}
    return rank, str(meta.get("namespace", "")), str(meta.get("name", ""))


def manifests(resources: Iterable[Registration]) -> list[dict[str, Any]]:
    """Every Kubernetes object, fields in API order (apiVersion, kind, metadata, then the rest)."""
    objects = []
    for resource in resources:
        if not is_kubernetes_object(resource):
            continue
        inputs = clean(resource.inputs)
        head = {key: inputs.pop(key) for key in ("apiVersion", "kind", "metadata") if key in inputs}
        objects.append({**head, **dict(sorted(inputs.items()))})
    return sorted(objects, key=_order)


def resource_list(resources: Iterable[Registration]) -> list[dict[str, Any]]:
    """The declared resources, sorted by URN so two renders of the same config are identical."""
    return [
        {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "parent": r.parent or None,
            "dependsOn": sorted(set(r.dependencies)),
            "provider": r.provider or None,
            "inputs": clean(r.inputs),
        }
        for r in sorted(resources, key=lambda r: r.urn)
    ]


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the order given, long strings unwrapped."""


# YAML 1.1 as kubectl and the API machinery read it (go-yaml v2) also takes these for booleans;
# PyYAML does not, and would write them bare: an app named `n` would be labelled `app: false`.
_GO_YAML_BOOLEANS = frozenset({"y", "Y", "n", "N"})


def _string(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "'" if data in _GO_YAML_BOOLEANS else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(
    dict, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data.items())
)
_Dumper.add_representer(str, _string)


def to_yaml(objects: list[dict[str, Any]]) -> str:
    return yaml.dump_all(objects, Dumper=_Dumper, default_flow_style=False, sort_keys=False, width=10_000)


def write_atomically(target: Path, files: dict[str, str]) -> None:
    """Write ``files`` into ``target`` so that it holds either the old set or the new, never half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text)
        if target.exists():
            retired = target.with_name(f".{target.name}-old")
            shutil.rmtree(retired, ignore_errors=True)
            target.rename(retired)
            staging.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def resources_json(resources: Iterable[Registration]) -> str:
    return json.dumps(resource_list(resources), indent=2) + "\n"
