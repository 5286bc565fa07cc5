"""Per-environment defaults, as the team's CD guide sets them (see DESIGN.md, "Environments").

Plain data: the settings layer merges an app's config over ``WORKLOAD_DEFAULTS[env]`` before it
validates, so every default is visible in one place and an explicit value always wins.
"""

from __future__ import annotations

from typing import Any, Final, Literal

Environment = Literal["dev", "test", "staging", "production"]
ENVIRONMENTS: Final[tuple[Environment, ...]] = ("dev", "test", "staging", "production")

# Strategies as the CD guide chooses them: production blue/green (critical, zero downtime), staging
# canary, dev and test rolling. Production's pod and rollout are the guide's exactly; staging runs
# fewer replicas of the same pod; dev and test run small pods.
_GUIDE_POD: Final[dict[str, Any]] = {
    "containerPort": 8080,
    "servicePort": 80,
    "resources": {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    },
    "liveness": {"path": "/health", "initialDelaySeconds": 30, "periodSeconds": 10},
    "readiness": {"path": "/ready", "initialDelaySeconds": 5, "periodSeconds": 5},
}
_SMALL_POD: Final[dict[str, Any]] = {
    **_GUIDE_POD,
    "resources": {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "250m", "memory": "256Mi"},
    },
}
# Never take a serving replica down during a rollout where there are few of them.
_CAUTIOUS_ROLLOUT: Final[dict[str, Any]] = {"maxSurge": 1, "maxUnavailable": 0}

WORKLOAD_DEFAULTS: Final[dict[Environment, dict[str, Any]]] = {
    "production": {"strategy": "blue-green", "replicas": 6, "maxSurge": 2, "maxUnavailable": 1, **_GUIDE_POD},
    "staging": {"strategy": "canary", "replicas": 3, **_CAUTIOUS_ROLLOUT, **_GUIDE_POD},
    "test": {"strategy": "rolling", "replicas": 2, **_CAUTIOUS_ROLLOUT, **_SMALL_POD},
    "dev": {"strategy": "rolling", "replicas": 1, **_CAUTIOUS_ROLLOUT, **_SMALL_POD},
}

# Namespace ResourceQuota per environment: the defaults of `flutter-app:namespaceQuota` (same
# shape; a stack's value is merged over them). Sized for two full copies of every app (blue/green
# and canary keep the previous version running) plus rollout surge, with headroom.
QUOTA_DEFAULTS: Final[dict[Environment, dict[str, Any]]] = {
    "production": {
        "requests": {"cpu": "8", "memory": "16Gi"},
        "limits": {"cpu": "16", "memory": "32Gi"},
        "pods": 60,
        "loadBalancers": 0,
    },
    "staging": {
        "requests": {"cpu": "4", "memory": "8Gi"},
        "limits": {"cpu": "8", "memory": "16Gi"},
        "pods": 30,
        "loadBalancers": 0,
    },
    "test": {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
        "pods": 20,
        "loadBalancers": 0,
    },
    "dev": {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
        "pods": 20,
        "loadBalancers": 0,
    },
}

# Istio's sidecar, as the mesh injects it into every pod of a canary namespace (istiod values
# global.proxy.resources). Istio's own default limit is 2 CPU / 1Gi a pod, which would make a
# namespace quota count every pod at 2.5 CPU.
SIDECAR_RESOURCES: Final[dict[str, dict[str, str]]] = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}

# LimitRange: defaults for containers that set nothing (sidecars, debug pods) and a per-container cap.
CONTAINER_LIMITS: Final[dict[str, dict[str, str]]] = {
    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
    "default": {"cpu": "500m", "memory": "512Mi"},
    "max": {"cpu": "2", "memory": "2Gi"},
}

# Where each environment runs. dev and test deploy to an existing cluster (a local kind or k3d
# cluster, or a shared one) by kubeconfig context; staging and production get their own EKS
# cluster. Production's API endpoint is private (reach it from inside the VPC: a self-hosted CI
# runner or a VPN) and its NAT gateways are per zone.
CLUSTER_DEFAULTS: Final[dict[Environment, dict[str, Any]]] = {
    "dev": {"mode": "existing", "addons": {"istio": False, "monitoring": False}},
    "test": {"mode": "existing", "addons": {"istio": False, "monitoring": True}},
    "staging": {
        "mode": "eks",
        "endpointPublicAccess": True,
        "nodeGroups": {
            "general": {"instanceTypes": ["m6i.large"], "minSize": 2, "desiredSize": 3, "maxSize": 6}
        },
        "addons": {"istio": True, "monitoring": True},
    },
    "production": {
        "mode": "eks",
        "endpointPublicAccess": False,
        "network": {"natGatewayPerZone": True},
        "nodeGroups": {
            "general": {"instanceTypes": ["m6i.xlarge"], "minSize": 3, "desiredSize": 6, "maxSize": 12},
        },
        "addons": {"istio": True, "monitoring": True},
    },
}
