"""The cluster per mode under the SDK's mock monitor (AWS look-ups answered by the offline mocks):
EKS with production-safe settings, the provider chain, Helm add-ons with pinned versions, and
the outputs a user needs; dev against an existing cluster with no AWS resource at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc

from components.validation import ConfigError
from rollout.offline.engine import ProgramRun, Registration
from rollout.offline.render import clean
from tests.support.project import ROOT, edit_stack, run_stack


@pytest.fixture(scope="module")
def production() -> ProgramRun:
    return run_stack(ROOT, "production")


def of_type(run: ProgramRun, token: str) -> list[Registration]:
    return [r for r in run.resources if r.type == token]


def the(run: ProgramRun, token: str) -> dict[str, Any]:
    (found,) = of_type(run, token)
    return clean(found.inputs)


def test_production_eks_control_plane_is_private_logged_and_encrypted(production: ProgramRun) -> None:
    cluster = the(production, "aws:eks/cluster:Cluster")
    assert cluster["version"] == "1.34"
    assert cluster["enabledClusterLogTypes"] == [
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ]
    assert cluster["vpcConfig"]["endpointPublicAccess"] is False
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert len(cluster["vpcConfig"]["subnetIds"]) == 6
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]


def test_staging_endpoint_is_public_but_limited_to_configured_cidrs() -> None:
    cluster = the(run_stack(ROOT, "staging"), "aws:eks/cluster:Cluster")
    assert cluster["vpcConfig"]["endpointPublicAccess"] is True
    assert cluster["vpcConfig"]["publicAccessCidrs"] == ["0.0.0.0/0"]


def test_network_spans_three_zones_with_tagged_subnets(production: ProgramRun) -> None:
    subnets = [clean(r.inputs) for r in of_type(production, "aws:ec2/subnet:Subnet")]
    assert sorted(s["availabilityZone"] for s in subnets) == [
        "offline-a",
        "offline-a",
        "offline-b",
        "offline-b",
        "offline-c",
        "offline-c",
    ]
    public = [s for s in subnets if s["tags"].get("kubernetes.io/role/elb") == "1"]
    private = [s for s in subnets if s["tags"].get("kubernetes.io/role/internal-elb") == "1"]
    assert len(public) == len(private) == 3
    assert all(s["mapPublicIpOnLaunch"] is False for s in public)
    # Production: a NAT gateway per zone, so losing a zone does not cut the others off.
    assert len(of_type(production, "aws:ec2/natGateway:NatGateway")) == 3
    assert len(of_type(run_stack(ROOT, "staging"), "aws:ec2/natGateway:NatGateway")) == 1


def test_iam_roles_carry_only_the_managed_policies_they_need(production: ProgramRun) -> None:
    attached = sorted(
        clean(r.inputs)["policyArn"]
        for r in of_type(production, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    )
    assert attached == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]
    trusted = {
        json.loads(clean(r.inputs)["assumeRolePolicy"])["Statement"][0]["Principal"]["Service"][0]
        for r in of_type(production, "aws:iam/role:Role")
    }
    assert trusted == {"eks.amazonaws.com", "ec2.amazonaws.com"}


def test_node_groups_sized_from_config(production: ProgramRun) -> None:
    group = the(production, "aws:eks/nodeGroup:NodeGroup")
    assert group["scalingConfig"] == {"minSize": 3, "desiredSize": 6, "maxSize": 12}
    assert group["instanceTypes"] == ["m6i.xlarge"]
    assert len(group["subnetIds"]) == 3


def test_oidc_provider_and_ecr_repository(production: ProgramRun) -> None:
    oidc = the(production, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc["clientIdLists"] == ["sts.amazonaws.com"]
    assert oidc["url"].startswith("https://oidc.eks.")
    ecr = the(production, "aws:ecr/repository:Repository")
    assert ecr["imageTagMutability"] == "IMMUTABLE"
    assert ecr["imageScanningConfiguration"] == {"scanOnPush": True}
    rules = json.loads(the(production, "aws:ecr/lifecyclePolicy:LifecyclePolicy")["policy"])["rules"]
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]


def test_provider_chain(production: ProgramRun) -> None:
    (aws_provider,) = of_type(production, "pulumi:providers:aws")
    assert clean(aws_provider.inputs)["region"] == "eu-west-1"
    for resource in production.resources:
        if resource.custom and resource.type.startswith("aws:"):
            assert resource.provider.startswith(aws_provider.urn + "::"), resource.name
    (k8s_provider,) = of_type(production, "pulumi:providers:kubernetes")
    assert rpc.is_rpc_secret(k8s_provider.inputs["kubeconfig"])  # built from the EKS cluster
    kubeconfig = json.loads(rpc.unwrap_rpc_secret(k8s_provider.inputs["kubeconfig"]))
    assert kubeconfig["users"][0]["user"]["exec"]["args"][:2] == ["eks", "get-token"]
    for resource in production.resources:
        if resource.custom and resource.type.startswith("kubernetes:"):
            assert resource.provider.startswith(k8s_provider.urn + "::"), resource.name


def test_helm_add_ons_are_pinned(production: ProgramRun) -> None:
    releases = {r.name: clean(r.inputs) for r in of_type(production, "kubernetes:helm.sh/v3:Release")}
    assert {n: (r["chart"], r["version"], r["namespace"]) for n, r in releases.items()} == {
        "istio-base": ("base", "1.27.3", "istio-system"),
        "istiod": ("istiod", "1.27.3", "istio-system"),
        "istio-ingressgateway": ("gateway", "1.27.3", "istio-ingress"),
        "kube-prometheus-stack": ("kube-prometheus-stack", "81.6.2", "monitoring"),
    }
    assert all(r["atomic"] is True for r in releases.values())
    namespace = the(production, "kubernetes:core/v1:Namespace")
    assert namespace["metadata"]["labels"].get("istio-injection") is None  # production is blue/green
    staging_ns = the(run_stack(ROOT, "staging"), "kubernetes:core/v1:Namespace")
    assert staging_ns["metadata"]["labels"]["istio-injection"] == "enabled"


def test_istio_under_the_gateway_api_installs_no_ingress_gateway_of_its_own(project: Path) -> None:
    # Istio deploys a proxy per Gateway the platform declares: its classic ingress gateway (and
    # NLB) would serve nothing, and ingressHostname would name it.
    gateway = {"traffic": "gateway-api", "gateway": {"name": "public", "namespace": "gateway-system"}}
    edit_stack(project, "production", lambda c: c.setdefault("flutter-app:cluster", {}).update(gateway))
    run = run_stack(project, "production")
    releases = {r.name for r in of_type(run, "kubernetes:helm.sh/v3:Release")}
    assert releases == {"istio-base", "istiod", "kube-prometheus-stack"}
    assert run.outputs.get("ingressHostname") is None


def test_pod_monitor_keeps_the_track_labels_the_gates_select_on(production: ProgramRun) -> None:
    monitor = the(production, "kubernetes:monitoring.coreos.com/v1:PodMonitor")
    assert monitor["spec"]["podTargetLabels"] == ["app", "version"]
    assert monitor["spec"]["podMetricsEndpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]


def test_outputs_a_user_needs(production: ProgramRun) -> None:
    outputs = production.outputs
    assert outputs["clusterName"]
    assert rpc.is_rpc_secret(outputs["kubeconfig"])
    assert outputs["ecrRepositoryUrl"].endswith("/flutter-app")
    assert (
        outputs["prometheusUrl"]
        == "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
    )
    assert "ingressHostname" in outputs


def test_dev_renders_against_an_existing_cluster_with_no_aws_resources() -> None:
    run = run_stack(ROOT, "dev")
    assert not [r for r in run.resources if r.type.startswith(("aws:", "pulumi:providers:aws"))]
    assert not of_type(run, "kubernetes:helm.sh/v3:Release")


def test_existing_cluster_uses_the_configured_context(project: Path) -> None:
    edit_stack(project, "dev", lambda c: c.update({"flutter-app:cluster": {"kubeContext": "kind-flutter"}}))
    (provider,) = of_type(run_stack(project, "dev"), "pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "kind-flutter"


def test_existing_vpc_declares_no_network(project: Path) -> None:
    network = {
        "vpcId": "vpc-0123456789abcdef0",
        "publicSubnetIds": ["subnet-0000000000000000a"],
        "privateSubnetIds": ["subnet-0000000000000000b", "subnet-0000000000000000c"],
    }
    edit_stack(project, "staging", lambda c: c.update({"flutter-app:cluster": {"network": network}}))
    run = run_stack(project, "staging")
    assert not of_type(run, "aws:ec2/vpc:Vpc") and not of_type(run, "aws:ec2/subnet:Subnet")
    assert the(run, "aws:eks/nodeGroup:NodeGroup")["subnetIds"] == network["privateSubnetIds"]


@pytest.mark.parametrize(
    ("stack", "cluster", "key", "fragment"),
    [
        ("staging", {"mode": "fargate"}, "cluster.mode", '"fargate"'),
        ("staging", {"kubernetesVersion": "v1.34"}, "cluster.kubernetesVersion", '"v1.34"'),
        ("staging", {"region": "Europe"}, "cluster.region", '"Europe"'),
        (
            "production",
            {"nodeGroups": {"general": {"minSize": 5, "desiredSize": 3}}},
            "cluster.nodeGroups.general",
            "minSize <= desiredSize <= maxSize",
        ),
        ("production", {"publicAccessCidrs": ["10.0.0.0/33"]}, "cluster.publicAccessCidrs[0]", "CIDR"),
        ("production", {"network": {"cidr": "10.0.0.0/24"}}, "cluster.network", "too small"),
        (
            "staging",
            {"addons": {"istio": False}},
            "flutter-app:",
            "needs cluster.traffic istio (cluster.addons.istio: true or external) or gateway-api",
        ),
        (
            "staging",
            {"addons": {"istio": "yes"}},
            "cluster.addons.istio",
            '"external" (the cluster already has it)',
        ),
        ("staging", {"addons": {"istioVersion": "latest"}}, "cluster.addons.istioVersion", '"latest"'),
        ("staging", {"nodeGroup": {}}, "cluster.nodeGroup", "did you mean 'nodeGroups'"),
    ],
)
def test_bad_cluster_config_names_the_key(
    project: Path, stack: str, cluster: dict, key: str, fragment: str
) -> None:
    edit_stack(project, stack, lambda c: c.update({"flutter-app:cluster": cluster}))
    with pytest.raises(ConfigError) as caught:
        run_stack(project, stack)
    line = next(ln for ln in str(caught.value).splitlines() if key in ln)
    assert fragment in line


def test_istio_sidecars_get_bounded_resources(production: ProgramRun) -> None:
    istiod = next(
        clean(r.inputs) for r in of_type(production, "kubernetes:helm.sh/v3:Release") if r.name == "istiod"
    )
    assert istiod["values"]["global"]["proxy"]["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }


def test_public_gateway_terminates_https_and_redirects_http(production: ProgramRun) -> None:
    gateway = the(production, "kubernetes:networking.istio.io/v1:Gateway")
    https, http = gateway["spec"]["servers"]
    assert https["port"]["number"] == 443 and https["tls"] == {
        "mode": "SIMPLE",
        "credentialName": "flutter-app-tls",
    }
    assert http["port"]["number"] == 80 and http["tls"] == {"httpsRedirect": True}


def test_external_add_ons_install_nothing_but_declare_what_uses_them(project: Path) -> None:
    """A cluster that already runs Istio and the Prometheus Operator: no Helm release, but the
    Gateway, the canary's VirtualService and DestinationRule, and the PodMonitor are declared."""
    addons = {"addons": {"istio": "external", "monitoring": "external"}}
    edit_stack(project, "staging", lambda c: c.update({"flutter-app:cluster": addons}))
    run = run_stack(project, "staging")
    assert of_type(run, "kubernetes:helm.sh/v3:Release") == []
    for token in (
        "kubernetes:networking.istio.io/v1:Gateway",
        "kubernetes:networking.istio.io/v1:VirtualService",
        "kubernetes:networking.istio.io/v1:DestinationRule",
        "kubernetes:monitoring.coreos.com/v1:PodMonitor",
    ):
        assert len(of_type(run, token)) == 1, token
    # What this stack did not install, it does not export as its own.
    assert run.outputs.get("prometheusUrl") is None and run.outputs.get("ingressHostname") is None
