"""History fixtures in the exact shape `pulumi stack history --json` prints.

The shape follows pkg/cmd/pulumi/stack/stack_history.go (updateInfoJSON / configValueJSON):
fields in struct order (version, kind, startTime, message, environment, config, result, endTime,
resourceChanges), map keys sorted, two-space indent; a secret's ``value`` (and ``objectValue``)
omitted without ``--show-secrets``; ``objectValue`` only for object config; ``endTime`` and
``resourceChanges`` omitted while an update is in progress; times ``2026-11-20T10:15:03.000Z``.
Secret values are test-only strings.
"""

from __future__ import annotations

import copy
import json
from typing import Any

PROJECT = "flutter-app"
IMAGE = "ghcr.io/example/flutter-app"
FIREBASE_V5 = "fb-test-key-five-TESTONLY"
FIREBASE_V7 = "fb-test-key-seven-TESTONLY"
DB_PASSWORD = "db-test-password-TESTONLY"
GIT = {5: "5" * 40, 7: "7" * 40, 8: "8" * 40, 9: "9" * 40, 6: "6" * 40, 4: "4" * 40}


def plain(value: str) -> dict[str, Any]:
    return {"value": value, "secret": False}


def secret(value: str) -> dict[str, Any]:
    return {"value": value, "secret": True}


def obj(value: Any, *, is_secret: bool = False) -> dict[str, Any]:
    return {
        "value": json.dumps(value, separators=(",", ":"), sort_keys=True),
        "objectValue": value,
        "secret": is_secret,
    }


def base_config(environment: str = "production") -> dict[str, dict[str, Any]]:
    """What `pulumi config --json` shows for a stack like Pulumi.<env>.yaml (strings for scalars)."""
    return {
        f"{PROJECT}:environment": plain(environment),
        f"{PROJECT}:apiBaseUrl": plain("https://api.example.com"),
        f"{PROJECT}:apiTimeoutSeconds": plain("10"),
        f"{PROJECT}:apiRetries": plain("2"),
        f"{PROJECT}:databaseHost": plain("prod-db.example.com"),
        f"{PROJECT}:databasePort": plain("5432"),
        f"{PROJECT}:databaseName": plain("flutter_app_prod"),
        f"{PROJECT}:logLevel": plain("error"),
        f"{PROJECT}:logSinks": obj(["file"]),
        f"{PROJECT}:featureNewUi": plain("false"),
        f"{PROJECT}:featureBeta": plain("false"),
        f"{PROJECT}:featureAnalytics": plain("true"),
        f"{PROJECT}:debugMode": plain("false"),
        f"{PROJECT}:analyticsEnabled": plain("true"),
    }


def production_config(version: int) -> dict[str, dict[str, Any]]:
    """The production stack's config as recorded by update ``version`` (blue/green releases)."""
    config = base_config("production")
    if version <= 5:
        config[f"{PROJECT}:apps"] = obj({"flutter-app": {"image": f"{IMAGE}:1.4.2"}})
        config[f"{PROJECT}:firebaseApiKey"] = secret(FIREBASE_V5)
        config[f"{PROJECT}:logLevel"] = plain("warning")
    elif version <= 7:
        config[f"{PROJECT}:apps"] = obj(
            {
                "flutter-app": {
                    "image": f"{IMAGE}:1.4.3",
                    "blueGreen": {
                        "active": "green",
                        "blueImage": f"{IMAGE}:1.4.2",
                        "greenImage": f"{IMAGE}:1.4.3",
                    },
                }
            }
        )
        config[f"{PROJECT}:firebaseApiKey"] = secret(FIREBASE_V7)
        config[f"{PROJECT}:databasePassword"] = secret(DB_PASSWORD)
    else:
        config[f"{PROJECT}:apps"] = obj(
            {
                "flutter-app": {
                    "image": f"{IMAGE}:1.5.0",
                    "blueGreen": {
                        "active": "blue",
                        "blueImage": f"{IMAGE}:1.5.0",
                        "greenImage": f"{IMAGE}:1.4.3",
                    },
                }
            }
        )
        config[f"{PROJECT}:firebaseApiKey"] = secret(FIREBASE_V7)
        config[f"{PROJECT}:databasePassword"] = secret(DB_PASSWORD)
        config[f"{PROJECT}:featureBeta"] = plain("true")
    return config


def entry(
    version: int,
    kind: str,
    result: str,
    message: str,
    config: dict[str, Any],
    *,
    start: str,
    end: str | None,
    changes: dict[str, int] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "version": version,
        "kind": kind,
        "startTime": start,
        "message": message,
        "environment": {
            "exec.kind": "cli",
            "git.author": "Release Bot",
            "git.dirty": "false",
            "git.head": GIT.get(version, "0" * 40),
            "git.headName": "refs/heads/main",
            "pulumi.version": "v3.272.0",
        },
        "config": config,
        "result": result,
    }
    if end is not None:
        item["endTime"] = end
        item["resourceChanges"] = changes if changes is not None else {"same": 12, "update": 1}
    return item


def production_history() -> list[dict[str, Any]]:
    """Newest first: a refresh, a failed release, succeeded updates, a preview and a failed one."""
    return [
        entry(9, "refresh", "succeeded", "", production_config(8),
              start="2026-11-20T11:00:00.000Z", end="2026-11-20T11:00:20.000Z", changes={"same": 13}),
        entry(8, "update", "failed", "release flutter-app 1.5.0: switch live traffic to blue",
              production_config(8), start="2026-11-20T10:15:03.000Z", end="2026-11-20T10:17:45.000Z"),
        entry(7, "update", "succeeded", "release flutter-app 1.4.3: switch live traffic to green",
              production_config(7), start="2026-11-19T16:02:11.000Z", end="2026-11-19T16:04:00.000Z"),
        entry(6, "preview", "succeeded", "", production_config(7),
              start="2026-11-19T15:58:00.000Z", end="2026-11-19T15:58:30.000Z", changes={"same": 13}),
        entry(5, "update", "succeeded", "deploy 1.4.2", production_config(5),
              start="2026-11-18T09:00:00.000Z", end="2026-11-18T09:03:30.000Z"),
        entry(4, "update", "failed", "deploy 1.4.2 (first try)", production_config(5),
              start="2026-11-18T08:50:00.000Z", end="2026-11-18T08:51:00.000Z"),
    ]  # fmt: skip


def in_progress_history() -> list[dict[str, Any]]:
    return [
        entry(10, "update", "in-progress", "release flutter-app 1.5.0: canary 5%", production_config(8),
              start="2026-11-21T08:00:00.000Z", end=None),
        *production_history()[2:3],
    ]  # fmt: skip


def cli_json(history: list[dict[str, Any]], *, show_secrets: bool) -> str:
    """The text the CLI prints for ``history`` (entries kept with real values)."""
    out = []
    for item in history:
        printed = copy.deepcopy(item)
        printed["environment"] = dict(sorted(item["environment"].items()))
        config = {}
        for key, value in sorted(item["config"].items()):
            if value["secret"] and not show_secrets:
                config[key] = {"secret": True}
            else:
                config[key] = value
        printed["config"] = config
        out.append(printed)
    return json.dumps(out, indent=2, ensure_ascii=False)


# A literal sample, exactly as `pulumi stack history --json` (without --show-secrets) prints it.
LITERAL_MASKED = """[
  {
    "version": 2,
    "kind": "update",
    "startTime": "2026-11-20T10:15:03.000Z",
    "message": "release flutter-app 1.5.0: canary 25%",
    "environment": {
      "exec.kind": "auto.local",
      "git.dirty": "false",
      "git.head": "1b5949891b3cefcb9974752b24a5ecef0acc86c8",
      "pulumi.env.PULUMI_CONFIG_PASSPHRASE": "set"
    },
    "config": {
      "flutter-app:apps": {
        "value": "{\\"flutter-app\\":{\\"canary\\":{\\"image\\":\\"ghcr.io/example/flutter-app:1.5.0\\",\\"weight\\":25},\\"image\\":\\"ghcr.io/example/flutter-app:1.4.2\\"}}",
        "objectValue": {
          "flutter-app": {
            "canary": {
              "image": "ghcr.io/example/flutter-app:1.5.0",
              "weight": 25
            },
            "image": "ghcr.io/example/flutter-app:1.4.2"
          }
        },
        "secret": false
      },
      "flutter-app:environment": {
        "value": "staging",
        "secret": false
      },
      "flutter-app:firebaseApiKey": {
        "secret": true
      }
    },
    "result": "succeeded",
    "endTime": "2026-11-20T10:16:45.000Z",
    "resourceChanges": {
      "same": 11,
      "update": 2
    }
  },
  {
    "version": 1,
    "kind": "update",
    "startTime": "2026-11-20T10:10:00.000Z",
    "message": "",
    "environment": {},
    "config": {},
    "result": "in-progress"
  }
]"""
