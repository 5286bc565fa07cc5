"""Validate rendered manifests against the real Kubernetes OpenAPI schemas (kubernetes-validate)
and the real schemas of the custom resources the stacks declare: Istio's networking CRDs
(tests/data/istio-networking-crds.yaml, from istio/api), the Gateway API's standard channel
(tests/data/gateway-api-standard-v1.4.1.yaml, from sigs.k8s.io/gateway-api) and the Prometheus
Operator's PodMonitor (tests/data/monitoring.coreos.com_podmonitors.yaml). The CRDs' CEL rules
(x-kubernetes-validations) are not evaluated here; the sandbox's API server evaluates them."""

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


DATA = Path(__file__).resolve().parent.parent / "data"
ISTIO_CRDS = DATA / "istio-networking-crds.yaml"
GATEWAY_API_CRDS = DATA / "gateway-api-standard-v1.4.1.yaml"
CRD_FILES = (ISTIO_CRDS, GATEWAY_API_CRDS, DATA / "monitoring.coreos.com_podmonitors.yaml")


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
def _crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    validators = {}
    for path in CRD_FILES:
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd:
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = _strict(version["schema"]["openAPIV3Schema"])
                validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def _crd_groups() -> set[str]:
    return {api_version.split("/")[0] for api_version, _kind in _crd_validators()}


def crd_errors(manifest: dict[str, Any]) -> str | None:
    """None when the custom resource is valid against its CRD's schema, else every error found."""
    validator = _crd_validators().get((manifest.get("apiVersion", ""), manifest.get("kind", "")))
    if validator is None:
        return f"no CRD schema for {manifest.get('apiVersion')} {manifest.get('kind')}"
    body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata")}
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
    return "; ".join(errors) or None


def manifest_errors(manifest: dict[str, Any]) -> str | None:
    """Validate against its CRD or the Kubernetes schema, whichever the object belongs to."""
    if manifest.get("apiVersion", "").split("/")[0] in _crd_groups():
        return crd_errors(manifest)
    return kubernetes_errors(manifest)
