"""A throw-away Pulumi project for report tests: a minimal Pulumi.yaml (the report reads only the
project name from it) and one stack file with the apps and report keys a test needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

STACK = "reporttest"
LIMITS = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
BASE: dict[str, Any] = {
    "environment": "production",
    "apiBaseUrl": "https://api.example.com",
    "apiTimeoutSeconds": 10,
    "apiRetries": 2,
    "databaseHost": "prod-db.example.com",
    "databaseName": "flutter_app_prod",
    "logLevel": "error",
    "logSinks": ["file"],
    "featureNewUi": False,
    "featureBeta": False,
    "featureAnalytics": True,
    "debugMode": False,
    "analyticsEnabled": True,
}
APPS: dict[str, Any] = {
    "web": {"image": "ghcr.io/example/web:1.0.0", "strategy": "rolling", "replicas": 4, "resources": LIMITS},
    "api": {
        "image": "ghcr.io/example/api:1.0.0",
        "strategy": "blue-green",
        "replicas": 2,
        "resources": LIMITS,
        "blueGreen": {"active": "green", "greenImage": "ghcr.io/example/api:2.0.0"},
    },
    "shop": {
        "image": "ghcr.io/example/shop:1.0.0",
        "strategy": "canary",
        "replicas": 2,
        "resources": LIMITS,
        "canary": {"image": "ghcr.io/example/shop:1.1.0", "weight": 25, "replicas": 1},
    },
    "ghost": {
        "image": "ghcr.io/example/ghost:1.0.0",
        "strategy": "rolling",
        "replicas": 2,
        "resources": LIMITS,
    },
}


def write_project(directory: Path, stack: str = STACK, **config: Any) -> Path:
    """Pulumi.yaml + Pulumi.<stack>.yaml in ``directory``; ``config`` keys (camelCase, without the
    project prefix) are added to or replace BASE's, ``apps`` defaulting to APPS."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text("name: flutter-app\nruntime: python\n")
    values = {**BASE, "apps": APPS, **config}
    document = {"config": {f"flutter-app:{key}": value for key, value in values.items()}}
    (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return directory
