"""EksCluster: network, IAM, the EKS control plane, managed node groups, the OIDC provider for
IAM roles for service accounts, the app's ECR repository, and a kubeconfig for the Kubernetes
provider. Every AWS resource uses the explicit AWS provider the caller passes down; tags come
from that provider's ``default_tags``."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

import pulumi

# Submodules, never the package root: mypy skips pulumi_aws itself (pyproject.toml, why there).
from pulumi_aws import ec2, ecr, eks, iam, kms
from pulumi_aws.get_availability_zones import GetAvailabilityZonesResult, get_availability_zones_output

from components.cluster_settings import ClusterSettings

ZONES = 3
# Control-plane log types: all of them, so an incident can be reconstructed from CloudWatch.
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
# AWS-managed policies, and nothing more: the control plane's and the nodes' minimum.
CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
ECR_LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "expire untagged images after 7 days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 7,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "keep the 50 most recent images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 50},
            "action": {"type": "expire"},
        },
    ]
}


@dataclass(frozen=True)
class EksClusterArgs:
    """Inputs of an EksCluster."""

    settings: ClusterSettings


def subnet_cidrs(cidr: str) -> tuple[list[str], list[str]]:
    """Three public and three private subnets: the VPC split in eight, six used (pure)."""
    subnets = [str(net) for net in ipaddress.ip_network(cidr).subnets(prefixlen_diff=3)]
    return subnets[:ZONES], subnets[ZONES : 2 * ZONES]


def _assume_role_policy(service: str) -> pulumi.Output[str]:
    return iam.get_policy_document_output(
        statements=[
            {
                "actions": ["sts:AssumeRole"],
                "principals": [{"type": "Service", "identifiers": [service]}],
            }
        ]
    ).json


def _role(
    prefix: str, service: str, policies: tuple[str, ...], opts: pulumi.ResourceOptions
) -> tuple[iam.Role, list[iam.RolePolicyAttachment]]:
    """A role ``service`` may assume, with the given AWS-managed policies attached."""
    role = iam.Role(f"{prefix}-role", assume_role_policy=_assume_role_policy(service), opts=opts)
    attachments = [
        iam.RolePolicyAttachment(
            f"{prefix}-{policy}", role=role.name, policy_arn=f"arn:aws:iam::aws:policy/{policy}", opts=opts
        )
        for policy in policies
    ]
    return role, attachments


def kubeconfig(
    name: pulumi.Input[str], endpoint: pulumi.Input[str], ca: pulumi.Input[str], region: str
) -> pulumi.Output[str]:
    """A kubeconfig that authenticates with `aws eks get-token` (no long-lived credential in it)."""

    def build(args: list[str]) -> str:
        cluster_name, server, authority = args
        user = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": "aws",
                "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region],
            }
        }
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": cluster_name,
                        "cluster": {"server": server, "certificate-authority-data": authority},
                    }
                ],
                "users": [{"name": cluster_name, "user": user}],
                "contexts": [
                    {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
                ],
                "current-context": cluster_name,
            }
        )

    return pulumi.Output.secret(pulumi.Output.all(name, endpoint, ca).apply(build))


def _zone(zones: pulumi.Output[GetAvailabilityZonesResult], index: int) -> pulumi.Output[str]:
    return zones.names.apply(lambda names: names[index])


class EksCluster(pulumi.ComponentResource):
    """A production-shaped EKS cluster for one environment."""

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    """Secret: the cluster endpoint and CA, authenticating with `aws eks get-token`."""
    oidc_provider_arn: pulumi.Output[str]
    ecr_repository_url: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flutter-app:platform:EksCluster", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.settings
        public_subnets, private_subnets = self._network(name, settings, child)

        cluster_role, attachments = _role(f"{name}-cluster", "eks.amazonaws.com", CLUSTER_POLICIES, child)
        secrets_key = kms.Key(
            f"{name}-secrets-key",
            description=f"{name}: envelope encryption of Kubernetes Secrets",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=child,
        )
        cluster = eks.Cluster(
            f"{name}-eks",
            version=settings.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": pulumi.Output.all(*private_subnets, *public_subnets),
                "endpoint_private_access": True,
                "endpoint_public_access": settings.endpoint_public_access,
                "public_access_cidrs": settings.public_access_cidrs
                if settings.endpoint_public_access
                else None,
            },
            enabled_cluster_log_types=LOG_TYPES,
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": secrets_key.arn}},
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )

        node_role, node_attachments = _role(f"{name}-node", "ec2.amazonaws.com", NODE_POLICIES, child)
        for group_name, group in settings.node_groups.items():
            eks.NodeGroup(
                f"{name}-nodes-{group_name}",
                cluster_name=cluster.name,
                node_role_arn=node_role.arn,
                subnet_ids=private_subnets,
                instance_types=group.instance_types,
                capacity_type=group.capacity_type,
                disk_size=group.disk_size_gib,
                scaling_config={
                    "min_size": group.min_size,
                    "desired_size": group.desired_size,
                    "max_size": group.max_size,
                },
                update_config={"max_unavailable": 1},
                labels={"node-group": group_name},
                opts=pulumi.ResourceOptions(parent=self, depends_on=node_attachments),
            )

        issuer = cluster.identities.apply(lambda ids: ids[0]["oidcs"][0]["issuer"])
        oidc = iam.OpenIdConnectProvider(
            f"{name}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"], opts=child
        )
        repository = ecr.Repository(
            f"{name}-ecr",
            name=settings.ecr_repository,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS"}],
            opts=child,
        )
        ecr.LifecyclePolicy(
            f"{name}-ecr-lifecycle", repository=repository.name, policy=json.dumps(ECR_LIFECYCLE), opts=child
        )

        self.cluster_name = cluster.name
        self.kubeconfig = kubeconfig(
            cluster.name,
            cluster.endpoint,
            cluster.certificate_authority.apply(lambda ca: ca["data"]),
            settings.region,
        )
        self.oidc_provider_arn = oidc.arn
        self.ecr_repository_url = repository.repository_url
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "oidc_provider_arn": self.oidc_provider_arn,
                "ecr_repository_url": self.ecr_repository_url,
            }
        )

    def _network(
        self, name: str, settings: ClusterSettings, child: pulumi.ResourceOptions
    ) -> tuple[list[pulumi.Output[str]], list[pulumi.Output[str]]]:
        """Subnet ids (public, private): the configured ones, or a new VPC's across three zones."""
        network = settings.network
        if network.vpc_id:
            return (
                [pulumi.Output.from_input(s) for s in network.public_subnet_ids],
                [pulumi.Output.from_input(s) for s in network.private_subnet_ids],
            )
        zones = get_availability_zones_output(state="available")
        vpc = ec2.Vpc(
            f"{name}-vpc",
            cidr_block=network.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        gateway = ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)
        public_table = ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            tags={"Name": f"{name}-public"},
            opts=child,
        )
        public_cidrs, private_cidrs = subnet_cidrs(network.cidr)
        public, private = [], []
        nat_ids: list[pulumi.Output[str]] = []
        for index in range(ZONES):
            zone = _zone(zones, index)
            subnet = ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=vpc.id,
                cidr_block=public_cidrs[index],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{index}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            ec2.RouteTableAssociation(
                f"{name}-public-{index}", subnet_id=subnet.id, route_table_id=public_table.id, opts=child
            )
            public.append(subnet.id)
            if index == 0 or network.nat_gateway_per_zone:
                address = ec2.Eip(f"{name}-nat-{index}", domain="vpc", opts=child)
                nat = ec2.NatGateway(
                    f"{name}-nat-{index}", subnet_id=subnet.id, allocation_id=address.id, opts=child
                )
                nat_ids.append(nat.id)
        for index in range(ZONES):
            zone = _zone(zones, index)
            subnet = ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                cidr_block=private_cidrs[index],
                availability_zone=zone,
                tags={"Name": f"{name}-private-{index}", "kubernetes.io/role/internal-elb": "1"},
                opts=child,
            )
            table = ec2.RouteTable(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_ids[min(index, len(nat_ids) - 1)]}],
                tags={"Name": f"{name}-private-{index}"},
                opts=child,
            )
            ec2.RouteTableAssociation(
                f"{name}-private-{index}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
            private.append(subnet.id)
        return public, private
