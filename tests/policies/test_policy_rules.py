"""Each rule of the policy pack, a violating and a compliant case, driven through pulumi_policy's
own analyzer servicer (rollout.offline.policy.analyze) with the environments' real policy
configs. Assertions are on the messages users see."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.builders import (
    NAMESPACE,
    check,
    container,
    deployment,
    k8s,
    messages,
    pdb,
    pod,
    registration,
    service,
    web_app,
)

DEP = f"Deployment {NAMESPACE}/web"


@pytest.mark.parametrize("environment", ["dev", "test", "staging", "production"])
def test_a_compliant_app_passes_every_policy(environment: str) -> None:
    assert check(web_app(), environment) == []


# --- container-resources / container-probes -------------------------------------------------------


def test_container_without_a_memory_limit_is_named_with_the_field() -> None:
    resources = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m"}}
    violations = check(web_app(pod_spec=pod([container(resources=resources)])))
    assert [(v.policy, v.message, v.level) for v in violations] == [
        ("container-resources", f"{DEP}: containers[0] (web) has no resources.limits.memory", "mandatory")
    ]
    assert violations[0].type == "kubernetes:apps/v1:Deployment"
    assert violations[0].name == "web-deployment"


def test_init_containers_and_other_workloads_need_resources_too() -> None:
    spec = pod(initContainers=[container("migrate", resources=None, livenessProbe=None, readinessProbe=None)])
    job = k8s("Job", "seed", spec={"template": {"spec": pod([container("seed", resources={})])}})
    violations = check([*web_app(pod_spec=spec), job])
    assert messages(violations, "container-resources") == [
        f"{DEP}: initContainers[0] (migrate) has no resources.requests.cpu, resources.requests.memory, "
        "resources.limits.cpu, resources.limits.memory",
        f"Job {NAMESPACE}/seed: containers[0] (seed) has no resources.requests.cpu, "
        "resources.requests.memory, resources.limits.cpu, resources.limits.memory",
    ]
    # Init containers and Jobs run to completion: no probes asked of them.
    assert messages(violations, "container-probes") == []


def test_missing_probes_are_reported_per_container() -> None:
    sidecar = container("proxy", livenessProbe=None, readinessProbe=None)
    spec = pod([container(readinessProbe=None), sidecar])
    assert messages(check(web_app(pod_spec=spec)), "container-probes") == [
        f"{DEP}: containers[0] (web) has no readinessProbe",
        f"{DEP}: containers[1] (proxy) has no livenessProbe and no readinessProbe",
    ]


def test_statefulsets_daemonsets_pods_and_cronjobs_are_checked() -> None:
    bare = container("x", resources=None)
    resources = [
        k8s("StatefulSet", "db", spec={"template": {"spec": pod([bare])}}),
        k8s("DaemonSet", "agent", spec={"template": {"spec": pod([bare])}}),
        k8s("Pod", "debug", spec=pod([bare])),
        k8s("CronJob", "nightly", spec={"jobTemplate": {"spec": {"template": {"spec": pod([bare])}}}}),
    ]
    assert sorted(m.split(":")[0] for m in messages(check(resources), "container-resources")) == [
        f"CronJob {NAMESPACE}/nightly",
        f"DaemonSet {NAMESPACE}/agent",
        f"Pod {NAMESPACE}/debug",
        f"StatefulSet {NAMESPACE}/db",
    ]


# --- image-pinned ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "environment", "expected"),
    [
        ("ghcr.io/acme/web:latest", "dev", "uses the tag 'latest'; pin a version tag or a digest"),
        (
            "ghcr.io/acme/web",
            "dev",
            "has no tag (it would run whatever is latest); pin a version tag or a digest",
        ),
        (
            "localhost:5000/web",
            "test",
            "has no tag (it would run whatever is latest); pin a version tag or a digest",
        ),
        (
            "ghcr.io/acme/web:main",
            "staging",
            "has tag 'main', which is not a version (such as 1.4.2 or v1.4.2); pin a version or a digest",
        ),
        (
            "ghcr.io/acme/web:1.4",
            "production",
            "has tag '1.4', which is not a version (such as 1.4.2 or v1.4.2); pin a version or a digest",
        ),
    ],
)
def test_unpinned_images_are_rejected(image: str, environment: str, expected: str) -> None:
    violations = check(web_app(pod_spec=pod([container(image=image)])), environment)
    assert [(v.policy, v.message) for v in violations] == [
        ("image-pinned", f"{DEP}: containers[0] (web) image {image} {expected}")
    ]
    assert violations[0].level == ("mandatory" if environment in ("staging", "production") else "advisory")


@pytest.mark.parametrize(
    ("image", "environment"),
    [
        ("ghcr.io/acme/web:main", "dev"),
        ("localhost:5000/web:pr-12", "test"),
        ("ghcr.io/acme/web:1.4.2", "production"),
        ("ghcr.io/acme/web:v1.4.2-rc.1", "production"),
        ("ghcr.io/acme/web@sha256:" + "a" * 64, "production"),
        ("ghcr.io/acme/web:latest@sha256:" + "b" * 64, "staging"),
    ],
)
def test_pinned_images_pass(image: str, environment: str) -> None:
    assert check(web_app(pod_spec=pod([container(image=image)])), environment) == []


# --- pod security ---------------------------------------------------------------------------------


def test_pods_that_may_run_as_root_are_rejected() -> None:
    no_context = pod([container(securityContext={"allowPrivilegeEscalation": False})], securityContext=None)
    assert messages(check(web_app(pod_spec=no_context)), "pod-run-as-non-root") == [
        f"{DEP}: containers[0] (web) may run as root: set securityContext.runAsNonRoot: true on the "
        "container or the pod"
    ]
    overridden = pod([container(securityContext={"runAsNonRoot": False, "runAsUser": 0})])
    assert messages(check(web_app(pod_spec=overridden)), "pod-run-as-non-root") == [
        f"{DEP}: containers[0] (web) sets securityContext.runAsNonRoot: false",
        f"{DEP}: containers[0] (web) runs as user 0 (root) from securityContext.runAsUser",
    ]


def test_run_as_non_root_on_the_pod_covers_its_containers() -> None:
    spec = pod([container(securityContext={"allowPrivilegeEscalation": False})])
    assert check(web_app(pod_spec=spec)) == []


def test_privileged_containers_and_privilege_escalation_are_rejected() -> None:
    spec = pod(
        [
            container(securityContext={"runAsNonRoot": True, "privileged": True}),
            container("debug", securityContext={"runAsNonRoot": True, "allowPrivilegeEscalation": True}),
        ]
    )
    assert messages(check(web_app(pod_spec=spec)), "no-privileged-containers") == [
        f"{DEP}: containers[0] (web) sets securityContext.privileged: true",
        f"{DEP}: containers[1] (debug) sets securityContext.allowPrivilegeEscalation: true",
    ]


def test_host_namespaces_are_rejected() -> None:
    spec = pod(hostNetwork=True, hostPID=True, hostIPC=False)
    assert messages(check(web_app(pod_spec=spec)), "no-host-namespaces") == [
        f"{DEP}: pod spec sets hostNetwork: true",
        f"{DEP}: pod spec sets hostPID: true",
    ]


def test_host_path_volumes_are_rejected() -> None:
    spec = pod(
        volumes=[{"name": "tmp", "emptyDir": {}}, {"name": "docker", "hostPath": {"path": "/var/run"}}]
    )
    assert messages(check(web_app(pod_spec=spec)), "no-host-path-volumes") == [
        f"{DEP}: volumes[1] (docker) is a hostPath volume on /var/run"
    ]


# --- load-balancer-services -----------------------------------------------------------------------


def test_load_balancer_services_are_rejected_in_production() -> None:
    public = service("web-public", selector={"app": "web"}, type_="LoadBalancer")
    violations = check([*web_app(), public], "production")
    assert [(v.policy, v.message, v.level) for v in violations] == [
        (
            "load-balancer-services",
            f"Service {NAMESPACE}/web-public: spec.type is LoadBalancer, which production does not allow "
            "(route traffic through the Istio ingress gateway, or set allowLoadBalancer in the policy config)",
            "mandatory",
        )
    ]


def test_load_balancer_services_are_allowed_in_dev_or_when_configured() -> None:
    public = service("web-public", selector={"app": "web"}, type_="LoadBalancer")
    assert check([*web_app(), public], "dev") == []
    assert (
        check([*web_app(), public], "production", {"load-balancer-services": {"allowLoadBalancer": True}})
        == []
    )
    # An explicit setting wins over the environment's default.
    assert messages(check([public], "dev", {"load-balancer-services": {"allowLoadBalancer": False}})) == [
        f"Service {NAMESPACE}/web-public: spec.type is LoadBalancer, which dev does not allow "
        "(route traffic through the Istio ingress gateway, or set allowLoadBalancer in the policy config)"
    ]


# --- no-plaintext-credentials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "DATABASE_PASSWORD",
        "dbPasswd",
        "apiKey",
        "FIREBASE_API_KEY",
        "client_secret",
        "GITHUB_TOKEN",
        "privateKey",
        "AWS_ACCESS_KEY_ID",
        "credentials.json",
    ],
)
def test_credential_like_configmap_keys_are_rejected(key: str) -> None:
    config_map = k8s("ConfigMap", "app-config", data={"LOG_LEVEL": "debug", key: "x"})
    assert messages(check([config_map]), "no-plaintext-credentials") == [
        f"ConfigMap {NAMESPACE}/app-config: data key {key} looks like a credential; keep it in a Secret"
    ]


@pytest.mark.parametrize(
    "key",
    ["API_BASE_URL", "API_TIMEOUT_SECONDS", "SECRET_NAME", "PASSWORD_FILE", "TOKEN_URL", "COMPASS_HEADING"],
)
def test_ordinary_configmap_keys_pass(key: str) -> None:
    assert check([k8s("ConfigMap", "app-config", data={key: "x"})]) == []


def test_credentials_in_plain_env_values_are_rejected_but_secret_refs_pass() -> None:
    env = [
        {"name": "APP_NAME", "value": "web"},
        {"name": "API_TOKEN", "value": "hunter2"},
        {"name": "DATABASE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-secrets", "key": "db"}}},
    ]
    assert messages(check(web_app(pod_spec=pod([container(env=env)]))), "no-plaintext-credentials") == [
        f"{DEP}: containers[0] (web) env[1] API_TOKEN has a plain value; take it from a Secret "
        "(valueFrom.secretKeyRef)"
    ]


# --- Istio ----------------------------------------------------------------------------------------


def virtual_service(http: list[dict[str, Any]], host: str = "web") -> Any:
    return k8s("VirtualService", "web", spec={"hosts": [host], "http": http})


def destination_rule(host: str, subsets: list[str], name: str = "web", namespace: str = NAMESPACE) -> Any:
    return k8s(
        "DestinationRule",
        name,
        namespace=namespace,
        spec={"host": host, "subsets": [{"name": s, "labels": {"version": s}} for s in subsets]},
    )


def split(stable: float | None, canary: float | None, host: str = "web") -> dict[str, Any]:
    route = []
    for subset, weight in (("stable", stable), ("canary", canary)):
        destination: dict[str, Any] = {"destination": {"host": host, "subset": subset}}
        if weight is not None:
            destination["weight"] = weight
        route.append(destination)
    return {"route": route}


def canary_routes(stable: float | None, canary: float | None) -> list[dict[str, Any]]:
    header = {
        "match": [{"headers": {"canary": {"exact": "true"}}}],
        "route": [{"destination": {"host": "web", "subset": "canary"}}],
    }
    return [header, split(stable, canary)]


def test_route_weights_must_add_up_to_100() -> None:
    violations = check([virtual_service(canary_routes(90, 5)), destination_rule("web", ["stable", "canary"])])
    assert [(v.policy, v.message, v.level) for v in violations] == [
        (
            "istio-route-weights",
            f"VirtualService {NAMESPACE}/web: spec.http[1].route weights add up to 95 (90 + 5); expected 100",
            "mandatory",
        )
    ]


def test_route_weights_must_be_within_0_and_100() -> None:
    violations = check(
        [virtual_service(canary_routes(-20, 120)), destination_rule("web", ["stable", "canary"])]
    )
    assert messages(violations, "istio-route-weights") == [
        f"VirtualService {NAMESPACE}/web: spec.http[1].route[0].weight is -20; expected a whole number from 0 to 100",
        f"VirtualService {NAMESPACE}/web: spec.http[1].route[1].weight is 120; expected a whole number from 0 to 100",
    ]


@pytest.mark.parametrize(("stable", "canary"), [(100, 0), (95, 5), (0, 100)])
def test_valid_weight_splits_and_single_destinations_pass(stable: int, canary: int) -> None:
    resources = [
        virtual_service(canary_routes(stable, canary)),
        destination_rule("web", ["stable", "canary"]),
    ]
    assert check(resources) == []


def test_several_destinations_without_weights_do_not_add_up() -> None:
    violations = check([virtual_service([split(None, None)]), destination_rule("web", ["stable", "canary"])])
    assert messages(violations) == [
        f"VirtualService {NAMESPACE}/web: spec.http[0].route weights add up to 0 (0 + 0); expected 100"
    ]


def test_subsets_must_be_defined_by_a_destination_rule_for_the_host() -> None:
    violations = check([virtual_service(canary_routes(100, 0)), destination_rule("web", ["stable"])])
    assert [(v.policy, v.message, v.type) for v in violations] == [
        (
            "istio-subsets-defined",
            f"VirtualService {NAMESPACE}/web: {where} subset 'canary' of host web "
            f"(web.{NAMESPACE}.svc.cluster.local) is not among the subsets of its DestinationRule "
            f"(DestinationRule {NAMESPACE}/web defines stable)",
            "kubernetes:networking.istio.io/v1:VirtualService",
        )
        for where in ("spec.http[0].route[0].destination", "spec.http[1].route[1].destination")
    ]


def test_a_destination_rule_in_another_namespace_does_not_define_a_short_host() -> None:
    violations = check(
        [virtual_service([split(100, 0)]), destination_rule("web", ["stable", "canary"], namespace="other")]
    )
    assert messages(violations, "istio-subsets-defined") == [
        f"VirtualService {NAMESPACE}/web: spec.http[0].route[{i}].destination subset '{subset}' of host web "
        f"(web.{NAMESPACE}.svc.cluster.local) is not defined: no DestinationRule in the stack has that host"
        for i, subset in enumerate(["stable", "canary"])
    ]


def test_short_and_fully_qualified_hosts_resolve_to_the_same_service() -> None:
    fqdn = f"web.{NAMESPACE}.svc.cluster.local"
    resources = [virtual_service(canary_routes(100, 0)), destination_rule(fqdn, ["stable", "canary"])]
    assert check(resources) == []


# --- EKS ------------------------------------------------------------------------------------------


def cluster(**inputs: Any) -> Any:
    return registration(
        "aws:eks/cluster:Cluster", "eks", {"name": "platform", "roleArn": "arn:role", **inputs}
    )


PRIVATE = {"subnetIds": ["subnet-1"], "endpointPublicAccess": False, "endpointPrivateAccess": True}


def test_eks_control_plane_logging_must_include_api_and_audit() -> None:
    assert messages(check([cluster(vpcConfig=PRIVATE)]), "eks-control-plane-logging") == [
        "EKS cluster platform: enabledClusterLogTypes is empty; enable at least api, audit"
    ]
    assert messages(check([cluster(vpcConfig=PRIVATE, enabledClusterLogTypes=["api"])])) == [
        "EKS cluster platform: enabledClusterLogTypes lacks audit; enable at least api, audit"
    ]
    logged = cluster(vpcConfig=PRIVATE, enabledClusterLogTypes=["api", "audit", "authenticator"])
    assert check([logged]) == []


def test_production_eks_endpoint_must_not_be_public() -> None:
    logs = {"enabledClusterLogTypes": ["api", "audit"]}
    assert messages(
        check([cluster(vpcConfig={"subnetIds": ["subnet-1"]}, **logs)]), "eks-private-endpoint"
    ) == [
        "EKS cluster platform: vpcConfig.endpointPublicAccess is not set (AWS defaults to true); production "
        "needs a private endpoint (endpointPublicAccess: false, endpointPrivateAccess: true)"
    ]
    public = cluster(vpcConfig={**PRIVATE, "endpointPublicAccess": True}, **logs)
    assert [v.level for v in check([public])] == ["mandatory"]
    assert check([public], "staging") == []
    assert check([cluster(vpcConfig=PRIVATE, **logs)]) == []


def node_group(minimum: int, desired: int, maximum: int) -> Any:
    return registration(
        "aws:eks/nodeGroup:NodeGroup",
        "workers",
        {
            "clusterName": "platform",
            "nodeGroupName": "workers",
            "scalingConfig": {"minSize": minimum, "desiredSize": desired, "maxSize": maximum},
        },
    )


def test_node_groups_must_be_sized_min_desired_max() -> None:
    assert messages(check([node_group(3, 2, 5)]), "eks-node-group-sizing") == [
        "EKS node group workers: scalingConfig.desiredSize 2 is below minSize 3"
    ]
    assert messages(check([node_group(6, 8, 4)])) == [
        "EKS node group workers: scalingConfig.minSize 6 is above maxSize 4",
        "EKS node group workers: scalingConfig.desiredSize 8 is above maxSize 4",
    ]
    assert check([node_group(2, 3, 6)]) == []


# --- production-min-replicas / production-pod-disruption-budget -----------------------------------


def test_production_deployments_need_two_replicas() -> None:
    violations = check(web_app(replicas=1))
    assert [(v.policy, v.message, v.level, v.name) for v in violations] == [
        (
            "production-min-replicas",
            f"{DEP}: spec.replicas is 1; production needs at least 2",
            "mandatory",
            "web-deployment",
        )
    ]
    assert messages(check(web_app(replicas=None))) == [
        f"{DEP}: spec.replicas is 1 (not set, no autoscaler); production needs at least 2"
    ]
    assert check(web_app(replicas=1), "staging") == []


def test_minimum_replicas_is_configurable() -> None:
    assert messages(
        check(web_app(replicas=3), overrides={"production-min-replicas": {"minProductionReplicas": 4}})
    )
    assert (
        check(web_app(replicas=4), overrides={"production-min-replicas": {"minProductionReplicas": 4}}) == []
    )


def hpa(minimum: int | None) -> Any:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "maxReplicas": 10,
    }
    if minimum is not None:
        spec["minReplicas"] = minimum
    return k8s("HorizontalPodAutoscaler", "web", spec=spec)


def test_an_autoscaler_owning_the_replicas_must_keep_two() -> None:
    assert messages(check([*web_app(replicas=None), hpa(None)])) == [
        f"{DEP}: its autoscaler HorizontalPodAutoscaler {NAMESPACE}/web has spec.minReplicas 1 (the default); "
        "production needs at least 2"
    ]
    assert check([*web_app(replicas=None), hpa(3)]) == []


def test_canaries_idle_colours_and_deployments_without_a_service_are_exempt() -> None:
    canary = deployment("web-canary", replicas=1, labels={"app": "web", "version": "canary"})
    assert check([*web_app(), canary]) == []
    # Blue/green: the live Service selects blue; the preview Service the idle, scaled-down green.
    blue = deployment("web-blue", replicas=3, labels={"app": "web", "version": "blue"})
    green = deployment("web-green", replicas=1, labels={"app": "web", "version": "green"})
    live = service("web", selector={"app": "web", "version": "blue"})
    preview = service("web-preview", selector={"app": "web", "version": "green"})
    assert check([blue, green, live, preview, pdb()]) == []
    # ...but once the live Service selects green, green must be sized for production.
    switched = service("web", selector={"app": "web", "version": "green"})
    assert messages(check([blue, green, switched, preview, pdb()])) == [
        f"Deployment {NAMESPACE}/web-green: spec.replicas is 1; production needs at least 2"
    ]
    worker = deployment("worker", replicas=1)
    assert check([*web_app(), worker]) == []


def test_production_deployments_need_a_disruption_budget_selecting_their_pods() -> None:
    violations = check([deployment(), service()])
    assert [(v.policy, v.message, v.level) for v in violations] == [
        (
            "production-pod-disruption-budget",
            f"{DEP}: no PodDisruptionBudget in namespace {NAMESPACE} selects its pods "
            "(spec.template.metadata.labels {app: web})",
            "mandatory",
        )
    ]
    other = pdb(selector={"matchLabels": {"app": "api"}})
    assert messages(check([deployment(), service(), other]), "production-pod-disruption-budget")
    by_expression = pdb(
        selector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}
    )
    assert check([deployment(), service(), by_expression]) == []
    assert check([deployment(), service()], "test") == []


def test_a_disruption_budget_in_another_namespace_does_not_count() -> None:
    elsewhere = k8s(
        "PodDisruptionBudget",
        "web",
        namespace="other",
        spec={"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    )
    assert messages(check([deployment(), service(), elsewhere]), "production-pod-disruption-budget")


# --- Gateway API routes ---------------------------------------------------------------------------

GATEWAY = {"gateway-route-parent": {"gateway": "gateway-system/public"}}


def http_route(rules: list[dict[str, Any]], parents: list[dict[str, Any]] | None = None) -> Any:
    spec = {
        "parentRefs": parents if parents is not None else [{"name": "public", "namespace": "gateway-system"}],
        "hostnames": ["app.example.com"],
        "rules": rules,
    }
    return k8s("HTTPRoute", "web", spec=spec)


def weighted(stable: int, canary: int, **extra: Any) -> dict[str, Any]:
    refs = [
        {"name": "web-stable", "port": 80, "weight": stable},
        {"name": "web-canary", "port": 80, "weight": canary},
    ]
    return {"name": "weighted", "backendRefs": refs, **extra}


SERVICES = [
    k8s("Service", "web-stable", spec={"ports": [{"port": 80}]}),
    k8s("Service", "web-canary", spec={"ports": [{"port": 80}]}),
]


def test_a_compliant_canary_route_passes() -> None:
    mirror = {
        "type": "RequestMirror",
        "requestMirror": {"backendRef": {"name": "web-canary", "port": 80}, "percent": 50},
    }
    assert check([http_route([weighted(100, 0, filters=[mirror])]), *SERVICES], overrides=GATEWAY) == []


def test_gateway_route_weights_must_add_up_to_100() -> None:
    violations = check([http_route([weighted(90, 5)]), *SERVICES], overrides=GATEWAY)
    assert messages(violations, "gateway-route-weights") == [
        f"HTTPRoute {NAMESPACE}/web: spec.rules[0].backendRefs weights add up to 95 (90 + 5); expected 100"
    ]


def test_gateway_route_backends_are_services_of_the_stack_in_its_namespace() -> None:
    rule = {
        "name": "r",
        "backendRefs": [
            {"name": "web-stable", "port": 80, "weight": 50},
            {"name": "elsewhere", "namespace": "other", "port": 80, "weight": 25},
            {"name": "bucket", "kind": "Bucket", "group": "storage.example.com", "weight": 25},
        ],
        "filters": [
            {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "ghost", "port": 80}}}
        ],
    }
    violations = check([http_route([rule]), *SERVICES], overrides=GATEWAY)
    assert messages(violations, "gateway-route-backends") == [
        f"HTTPRoute {NAMESPACE}/web: spec.rules[0].backendRefs[1] is in namespace other; a route sends only to "
        f"Services of its own namespace ({NAMESPACE})",
        f"HTTPRoute {NAMESPACE}/web: spec.rules[0].backendRefs[2] is a storage.example.com/Bucket; expected a Service",
        f"HTTPRoute {NAMESPACE}/web: spec.rules[0].filters[0].requestMirror.backendRef is Service ghost, which the "
        "stack does not declare",
    ]


def test_gateway_routes_attach_only_to_the_configured_gateway() -> None:
    other = [{"name": "internal", "namespace": "gateway-system"}]
    violations = check([http_route([weighted(100, 0)], parents=other), *SERVICES], overrides=GATEWAY)
    assert messages(violations, "gateway-route-parent") == [
        f"HTTPRoute {NAMESPACE}/web: spec.parentRefs[0] attaches to Gateway gateway-system/internal; the "
        "configured one is gateway-system/public"
    ]


def test_a_route_attaches_to_a_gateway_of_the_gateway_api_and_to_some_gateway() -> None:
    foreign = [
        {"group": "evil.example.com", "kind": "Gateway", "name": "public", "namespace": "gateway-system"}
    ]
    violations = check([http_route([weighted(100, 0)], parents=foreign), *SERVICES], overrides=GATEWAY)
    assert messages(violations, "gateway-route-parent") == [
        f"HTTPRoute {NAMESPACE}/web: spec.parentRefs[0] is a evil.example.com/Gateway; expected the platform's "
        "Gateway"
    ]
    violations = check([http_route([weighted(100, 0)], parents=[]), *SERVICES], overrides=GATEWAY)
    assert messages(violations, "gateway-route-parent") == [
        f"HTTPRoute {NAMESPACE}/web: spec.parentRefs is empty; expected the platform's Gateway"
    ]


def test_a_configured_listener_is_the_only_one() -> None:
    listener = {"gateway-route-parent": {"gateway": "gateway-system/public/https"}}
    other = [{"name": "public", "namespace": "gateway-system", "sectionName": "http"}]
    violations = check([http_route([weighted(100, 0)], parents=other), *SERVICES], overrides=listener)
    assert messages(violations, "gateway-route-parent") == [
        f"HTTPRoute {NAMESPACE}/web: spec.parentRefs[0] attaches to Gateway gateway-system/public/http; the "
        "configured one is gateway-system/public/https"
    ]
    right = [{"name": "public", "namespace": "gateway-system", "sectionName": "https"}]
    assert not messages(
        check([http_route([weighted(100, 0)], parents=right), *SERVICES], overrides=listener),
        "gateway-route-parent",
    )


def test_unconfigured_all_routes_attach_to_one_gateway() -> None:
    second = k8s(
        "HTTPRoute",
        "web-preview",
        spec={
            "parentRefs": [{"name": "internal", "namespace": "gateway-system"}],
            "hostnames": ["preview.example.com"],
            "rules": [{"name": "live", "backendRefs": [{"name": "web-stable", "port": 80}]}],
        },
    )
    violations = check([http_route([weighted(100, 0)]), second, *SERVICES])
    assert messages(violations, "gateway-route-parent") == [
        f"HTTPRoute {NAMESPACE}/web-preview: spec.parentRefs[0] attaches to Gateway gateway-system/internal; "
        "the one the stack's other routes attach to is gateway-system/public"
    ]
