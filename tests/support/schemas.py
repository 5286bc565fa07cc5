"""Validate rendered manifests against the real Kubernetes OpenAPI schemas (kubernetes-validate)
and the real Istio CRD schemas (tests/data/istio-networking-crds.yaml, from istio/api)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

# Pinned: the Kubernetes minor the EKS clusters run; strict rejects fields the API does not know.
KUBERNETES_VERSION = "1.34.0"


def kubernetes_errors(manifest: dict[str, Any]) -> str | None:
    """None when ``manifest`` is valid, else the validator's message naming the object."""
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        meta = manifest.get("metadata", {})
        return f"{manifest.get('kind')} {meta.get('namespace')}/{meta.get('name')}: {error.message} at {list(error.path)}"
    return None


ISTIO_CRDS = Path(__file__).resolve().parent.parent / "data" / "istio-networking-crds.yaml"


def _strict(schema: Any) -> Any:
    """Reject unknown fields, as the API server does with strict field validation (instead of
    silently pruning them: a snake_case `traffic_policy` would otherwise just vanish)."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def _istio_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    validators = {}
    for crd in yaml.safe_load_all(ISTIO_CRDS.read_text()):
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _strict(version["schema"]["openAPIV3Schema"])
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def istio_errors(manifest: dict[str, Any]) -> str | None:
    """None when the Istio object is valid against its CRD's schema, else every error found."""
    validator = _istio_validators().get((manifest.get("apiVersion", ""), manifest.get("kind", "")))
    if validator is None:
        return f"no Istio CRD schema for {manifest.get('apiVersion')} {manifest.get('kind')}"
    body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
    return "; ".join(errors) or None


def manifest_errors(manifest: dict[str, Any]) -> str | None:
    """Validate against the Istio CRDs or the Kubernetes schema, whichever the object belongs to."""
    if manifest.get("apiVersion", "").startswith("networking.istio.io/"):
        return istio_errors(manifest)
    return kubernetes_errors(manifest)
