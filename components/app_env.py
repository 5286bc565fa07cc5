"""The environment variables the program itself gives the app's container, and where each comes
from, in one place: the ConfigMap (the environment table), the Secret (credentials), the pod spec
(name, track) and the feature flags. An app's own ``env`` may not reuse any of them (a duplicate
name would silently hide one of the two values). Pure."""

from __future__ import annotations

from typing import Final

CONFIG_MAP_ENV: Final[dict[str, str]] = {
    "APP_ENVIRONMENT": "environment",
    "API_BASE_URL": "apiBaseUrl",
    "API_TIMEOUT_SECONDS": "apiTimeoutSeconds",
    "API_RETRIES": "apiRetries",
    "DATABASE_HOST": "databaseHost",
    "DATABASE_PORT": "databasePort",
    "DATABASE_NAME": "databaseName",
    "LOG_LEVEL": "logLevel",
    "LOG_SINKS": "logSinks",
    "FEATURE_NEW_UI": "featureNewUi",
    "FEATURE_BETA": "featureBeta",
    "FEATURE_ANALYTICS": "featureAnalytics",
    "DEBUG_MODE": "debugMode",
    "ANALYTICS_ENABLED": "analyticsEnabled",
}
"""ConfigMap key (an env var through ``envFrom``) -> the stack config key it carries."""

SECRET_ENV: Final[dict[str, str]] = {
    "firebaseApiKey": "FIREBASE_API_KEY",
    "databasePassword": "DATABASE_PASSWORD",
}
"""Secret stack config key -> the Secret key (an env var through ``secretKeyRef``)."""

POD_ENV: Final[dict[str, str]] = {
    "APP_NAME": "the app's name",
    "APP_TRACK": "the release track (stable, canary, blue, green)",
}
"""Set in every container by the pod spec."""

FEATURE_PREFIX: Final = "FEATURE_"


def feature_env(flag: str) -> str:
    """The variable a feature flag becomes: ``dark_mode`` -> ``FEATURE_DARK_MODE``."""
    return f"{FEATURE_PREFIX}{flag.upper()}"


def owner_of(name: str) -> str | None:
    """What already sets variable ``name`` in the container (a stack key, the pod spec), or None."""
    if name in CONFIG_MAP_ENV:
        return f"flutter-app:{CONFIG_MAP_ENV[name]} (ConfigMap key {name})"
    for key, env in SECRET_ENV.items():
        if env == name:
            return f"the secret flutter-app:{key}"
    if name in POD_ENV:
        return f"the program ({POD_ENV[name]})"
    return None
