"""Which cluster a kubeconfig points at (components/kubeconfig.py), read as client-go reads it,
and the binding check the program runs before declaring anything (components/cluster.py). The
e2e tests show the same refusal under the real engine."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cluster import binding_problem
from components.cluster_settings import ClusterSettings
from components.kubeconfig import KubeconfigError, active_cluster, read_current_cluster
from tests.gates.servers import self_signed_certificate

SERVER = "https://10.0.0.1:6443"


def kubeconfig(
    server: str = SERVER, ca: dict[str, str] | None = None, current: str = "work"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "prod", "cluster": {"server": server, **(ca or {})}}],
        "contexts": [{"name": "work", "context": {"cluster": "prod", "user": "me"}}],
        "users": [{"name": "me", "user": {"token": "not-a-real-token"}}],
        "current-context": current,
    }


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real CA certificate and its SHA-256 fingerprint as openssl prints it."""
    cert, _key = self_signed_certificate(tmp_path_factory.mktemp("ca"))
    printed = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return cert, printed.split("=", 1)[1].strip().replace(":", "").lower()


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document))
    return path


def test_server_and_ca_fingerprint_as_openssl_prints_it(
    tmp_path: Path, certificate: tuple[Path, str]
) -> None:
    cert, fingerprint = certificate
    inline = {"certificate-authority-data": base64.b64encode(cert.read_bytes()).decode()}
    found = read_current_cluster(None, {"KUBECONFIG": str(write(tmp_path / "a", kubeconfig(ca=inline)))})
    assert (found.server, found.ca_sha256, found.context) == (SERVER, fingerprint, "work")
    # A CA file path, relative to the kubeconfig that names it.
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_bytes(cert.read_bytes())
    by_path = write(tmp_path / "b", kubeconfig(ca={"certificate-authority": "pki/ca.crt"}))
    assert read_current_cluster(None, {"KUBECONFIG": str(by_path)}).ca_sha256 == fingerprint


def test_files_merge_as_client_go_merges_them_and_home_is_the_fallback(tmp_path: Path) -> None:
    first = write(tmp_path / "first", {**kubeconfig("https://first:6443"), "current-context": ""})
    second = write(tmp_path / "second", kubeconfig("https://second:6443"))
    # The first file that names a cluster wins; the current context comes from the second.
    environ = {"KUBECONFIG": f"{first}:{tmp_path / 'missing'}:{second}"}
    assert read_current_cluster(None, environ).server == "https://first:6443"
    (tmp_path / ".kube").mkdir()
    write(tmp_path / ".kube" / "config", kubeconfig("HTTPS://Home.Example:6443/"))
    assert read_current_cluster(None, {}, home=tmp_path).server == "https://home.example:6443"


@pytest.mark.parametrize(
    ("document", "context", "message"),
    [
        (kubeconfig(current=""), None, "sets no current context"),
        (kubeconfig(), "staging", "has no context 'staging'"),
        ({**kubeconfig(), "clusters": []}, None, "names no cluster it defines"),
        (kubeconfig(server=""), None, "has no server"),
        (kubeconfig(ca={"certificate-authority-data": "bm90IGEgY2VydA=="}), None, "not a PEM certificate"),
    ],
)
def test_a_kubeconfig_that_cannot_say_which_cluster(
    tmp_path: Path, document: dict[str, Any], context: str | None, message: str
) -> None:
    with pytest.raises(KubeconfigError, match=message):
        active_cluster([(tmp_path / "config", document)], context)


def cluster(**binding: str) -> ClusterSettings:
    return ClusterSettings.model_validate(
        {"mode": "existing", "addons": {"istio": False, "monitoring": False}, **binding}
    )


def test_the_binding_refuses_another_server_or_ca_and_names_both(
    tmp_path: Path, certificate: tuple[Path, str]
) -> None:
    cert, fingerprint = certificate
    inline = {"certificate-authority-data": base64.b64encode(cert.read_bytes()).decode()}
    found = active_cluster([(tmp_path / "config", kubeconfig(ca=inline))], None)
    assert binding_problem(cluster(apiServer=SERVER, caSha256=fingerprint), found) is None
    assert binding_problem(cluster(apiServer=SERVER + "/"), found) is None
    assert binding_problem(cluster(), found) is None  # unbound: not checked here
    other = binding_problem(cluster(apiServer="https://10.9.9.9:6443"), found)
    assert other is not None and other.key == "flutter-app:cluster.apiServer"
    assert "deploys to https://10.9.9.9:6443" in other.message and f"points at {SERVER}" in other.message
    assert "refusing to run against another cluster" in other.message
    recycled = binding_problem(cluster(apiServer=SERVER, caSha256="0" * 64), found)
    assert recycled is not None and "CA sha256:0000000000000000" in recycled.message
    unreadable = binding_problem(
        cluster(apiServer=SERVER), KubeconfigError("no kubeconfig sets no current context")
    )
    assert unreadable is not None and "cannot say which cluster" in unreadable.message
    assert "not-a-real-token" not in other.message + recycled.message


@pytest.mark.parametrize(
    ("binding", "message"),
    [
        ({"apiServer": "http://10.0.0.1"}, "https://HOST"),
        ({"apiServer": "https://user:pw@10.0.0.1"}, "https://HOST"),
        ({"caSha256": "a" * 64}, "caSha256 is given without apiServer"),
        ({"apiServer": SERVER, "caSha256": "XYZ"}, "should match pattern"),
    ],
)
def test_a_bad_binding_is_refused(binding: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cluster(**binding)
