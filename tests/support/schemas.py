"""Validate rendered manifests against the real Kubernetes OpenAPI schemas (kubernetes-validate)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

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
