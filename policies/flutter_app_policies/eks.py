"""EKS rules, for stacks that declare their cluster with pulumi-aws: control-plane logging on, a
private API endpoint in production, node groups sized min <= desired <= max."""

from __future__ import annotations

from typing import Final

from pulumi_policy import ReportViolation, ResourceValidationArgs

from flutter_app_policies.common import UNKNOWN, elements, environment, get, known_str, number, show

CLUSTER: Final = "aws:eks/cluster:Cluster"
NODE_GROUP: Final = "aws:eks/nodeGroup:NodeGroup"
REQUIRED_LOG_TYPES: Final = ("api", "audit")


def _label(args: ResourceValidationArgs, what: str, name_field: str) -> str:
    return f"{what} {known_str(get(args.props, name_field)) or args.name}"


def eks_control_plane_logging(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """The cluster sends at least its api and audit control-plane logs to CloudWatch."""
    if args.resource_type != CLUSTER:
        return
    enabled = [value for _, value in elements(args.props, "enabledClusterLogTypes")]
    if get(args.props, "enabledClusterLogTypes") is UNKNOWN or UNKNOWN in enabled:
        return
    missing = [t for t in REQUIRED_LOG_TYPES if t not in enabled]
    if missing:
        report_violation(
            f"{_label(args, 'EKS cluster', 'name')}: enabledClusterLogTypes "
            f"{'is empty' if not enabled else 'lacks ' + ', '.join(missing)}; enable at least "
            f"{', '.join(REQUIRED_LOG_TYPES)}",
            None,
        )


def eks_private_endpoint(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """In production the cluster's API endpoint is not public (vpcConfig.endpointPublicAccess false)."""
    if args.resource_type != CLUSTER or environment(args.get_config()) != "production":
        return
    public = get(args.props, "vpcConfig", "endpointPublicAccess")
    if public is True or public is None:
        report_violation(
            f"{_label(args, 'EKS cluster', 'name')}: vpcConfig.endpointPublicAccess is "
            f"{'true' if public else 'not set (AWS defaults to true)'}; production needs a private "
            "endpoint (endpointPublicAccess: false, endpointPrivateAccess: true)",
            None,
        )


def eks_node_group_sizing(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Node groups are sized minSize <= desiredSize <= maxSize."""
    if args.resource_type != NODE_GROUP:
        return
    label = _label(args, "EKS node group", "nodeGroupName")
    scaling = get(args.props, "scalingConfig")
    if scaling is None:
        report_violation(f"{label}: has no scalingConfig (minSize, desiredSize, maxSize)", None)
        return
    sizes = {field: number(get(scaling, field)) for field in ("minSize", "desiredSize", "maxSize")}
    low, desired, high = sizes["minSize"], sizes["desiredSize"], sizes["maxSize"]
    if low is not None and high is not None and low > high:
        report_violation(f"{label}: scalingConfig.minSize {show(low)} is above maxSize {show(high)}", None)
    if low is not None and desired is not None and desired < low:
        report_violation(
            f"{label}: scalingConfig.desiredSize {show(desired)} is below minSize {show(low)}", None
        )
    if high is not None and desired is not None and desired > high:
        report_violation(
            f"{label}: scalingConfig.desiredSize {show(desired)} is above maxSize {show(high)}", None
        )
