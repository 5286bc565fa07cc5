"""Which cluster the ambient kubeconfig points at, read as the Kubernetes provider reads it, so the
program can refuse to deploy a stack to a cluster other than the one it is bound to
(``cluster.apiServer`` / ``cluster.caSha256``).

The provider (client-go's loading rules) reads the files of ``KUBECONFIG`` (a list joined by the
OS path separator; for each map entry and for ``current-context`` the first file that sets it
wins) or else ``~/.kube/config``, and uses ``cluster.kubeContext`` or the current context. A
cluster's identity here is its API server URL and the SHA-256 of its CA certificate (DER), the
two things a kubeconfig says about *which* cluster it is; user names, tokens, context names and
file paths say nothing about that and are ignored.

``read_current_cluster`` is the only function with I/O (the kubeconfig files); it is called at
run time by the composition root, never at import.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_KUBECONFIG_BYTES = 4 * 1024 * 1024
"""A kubeconfig larger than this is not read (a generous bound: real ones are kilobytes)."""


@dataclass(frozen=True)
class ClusterEndpoint:
    """The cluster a kubeconfig context points at."""

    server: str
    ca_sha256: str | None
    """SHA-256 (hex) of the CA certificate in DER form; None when the kubeconfig names no CA."""
    context: str
    source: str
    """Where it was read: the kubeconfig file(s)."""

    def describe(self) -> str:
        ca = f"CA sha256:{self.ca_sha256[:16]}..." if self.ca_sha256 else "no CA"
        return f"{self.server} ({ca}; context {self.context!r} of {self.source})"


class KubeconfigError(ValueError):
    """The kubeconfig cannot say which cluster it points at."""


def normal_server(url: str) -> str:
    """An API server URL as compared: scheme and host lower-case, no trailing slash."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return url.strip().rstrip("/")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}".rstrip("/")


def ca_fingerprint(pem: bytes) -> str:
    """SHA-256 (hex) of the first certificate of a PEM bundle, in DER form (as `openssl x509
    -noout -fingerprint -sha256` prints it, without the colons)."""
    text = pem.decode("ascii", errors="replace")
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = text.find(begin)
    stop = text.find(end, start)
    if start < 0 or stop < 0:
        raise KubeconfigError("its CA is not a PEM certificate")
    try:
        der = ssl.PEM_cert_to_DER_cert(text[start : stop + len(end)])
    except ValueError:
        raise KubeconfigError("its CA is not a PEM certificate") from None
    return hashlib.sha256(der).hexdigest()


def _named(entries: Any, kind: str) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            body = entry.get(kind)
            found.setdefault(entry["name"], body if isinstance(body, Mapping) else {})
    return found


def active_cluster(
    documents: Sequence[tuple[Path, Mapping[str, Any]]], context: str | None
) -> ClusterEndpoint:
    """The cluster ``context`` (or the current context) points at in merged kubeconfig documents
    (first file wins, as client-go merges them). Pure but for reading a CA file a kubeconfig names."""
    contexts: dict[str, Mapping[str, Any]] = {}
    clusters: dict[str, tuple[Path, Mapping[str, Any]]] = {}
    current = None
    for path, document in documents:
        for name, body in _named(document.get("contexts"), "context").items():
            contexts.setdefault(name, body)
        for name, body in _named(document.get("clusters"), "cluster").items():
            clusters.setdefault(name, (path, body))
        if (
            current is None
            and isinstance(document.get("current-context"), str)
            and document["current-context"]
        ):
            current = document["current-context"]
    source = ", ".join(str(path) for path, _ in documents) or "no kubeconfig"
    wanted = context or current
    if not wanted:
        raise KubeconfigError(f"{source} sets no current context and cluster.kubeContext is empty")
    if wanted not in contexts:
        raise KubeconfigError(f"{source} has no context {wanted!r}")
    cluster_name = contexts[wanted].get("cluster")
    if not isinstance(cluster_name, str) or cluster_name not in clusters:
        raise KubeconfigError(f"context {wanted!r} of {source} names no cluster it defines")
    path, cluster = clusters[cluster_name]
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubeconfigError(f"cluster {cluster_name!r} of {source} has no server")
    return ClusterEndpoint(normal_server(server), _ca_of(cluster, path), wanted, source)


def _ca_of(cluster: Mapping[str, Any], path: Path) -> str | None:
    data = cluster.get("certificate-authority-data")
    if isinstance(data, str) and data:
        try:
            return ca_fingerprint(base64.b64decode(data, validate=False))
        except binascii.Error:
            raise KubeconfigError("its certificate-authority-data is not base64") from None
    file = cluster.get("certificate-authority")
    if isinstance(file, str) and file:
        ca_path = Path(file) if os.path.isabs(file) else path.parent / file
        try:
            return ca_fingerprint(ca_path.read_bytes())
        except OSError as error:
            raise KubeconfigError(
                f"its certificate-authority {ca_path} cannot be read ({error.strerror})"
            ) from None
    return None


def kubeconfig_paths(environ: Mapping[str, str], home: Path) -> list[Path]:
    """The files the provider reads: KUBECONFIG's list, else ~/.kube/config."""
    listed = [Path(p) for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return listed or [home / ".kube" / "config"]


def read_current_cluster(
    context: str | None, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> ClusterEndpoint:
    """The cluster the ambient kubeconfig points at; KubeconfigError when it cannot tell."""
    environ = os.environ if environ is None else environ
    documents: list[tuple[Path, Mapping[str, Any]]] = []
    for path in kubeconfig_paths(environ, home or Path.home()):
        try:
            if path.stat().st_size > MAX_KUBECONFIG_BYTES:
                raise KubeconfigError(f"{path} is larger than {MAX_KUBECONFIG_BYTES} bytes")
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue  # client-go skips a listed file that does not exist
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise KubeconfigError(f"{path} cannot be read as a kubeconfig ({error})") from None
        if isinstance(document, Mapping):
            documents.append((path, document))
    return active_cluster(documents, context)
