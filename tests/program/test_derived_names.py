"""components/names.py lists every namespaced object name the program derives from an app's name,
so that two apps declaring one object are refused before anything is declared: checked here
against what the program really declares, per strategy and traffic mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.names import derived_names
from tests.support.project import edit_stack, run_stack

HOSTS = {"hosts": ["web.example.com"]}
PREVIEW = {"hosts": ["web.example.com"], "previewHosts": ["preview.web.example.com"]}
CLUSTERS: dict[str, dict[str, Any]] = {
    "istio": {"addons": {"istio": "external"}},
    "gateway-api": {"traffic": "gateway-api", "gateway": {"name": "public", "namespace": "gateway-system"}},
    "ingress": {},
}
CASES = [
    (strategy, routing, expose)
    for routing in CLUSTERS
    for strategy in ("rolling", "blue-green", "canary")
    for expose in (None, HOSTS, PREVIEW)
    if not (strategy == "canary" and (routing == "ingress" or expose is None))
    if not (expose is PREVIEW and strategy != "blue-green")
]


@pytest.mark.parametrize(
    ("strategy", "routing", "expose"),
    CASES,
    ids=[f"{s}-{r}-{'preview' if e is PREVIEW else 'hosts' if e else 'unexposed'}" for s, r, e in CASES],
)
def test_derived_names_are_every_object_the_program_declares_for_an_app(
    project: Path, strategy: str, routing: str, expose: dict[str, Any] | None
) -> None:
    app: dict[str, Any] = {"image": "ghcr.io/example/web:1.0.0", "strategy": strategy}
    if expose is not None:
        app["expose"] = expose

    def change(config: dict[str, Any]) -> None:
        config["flutter-app:cluster"] = CLUSTERS[routing]
        config["flutter-app:apps"] = {"web": app}

    edit_stack(project, "dev", change)
    run = run_stack(project, "dev")
    declared = {
        (r.type.rsplit(":", 1)[-1], r.inputs["metadata"]["name"])
        for r in run.resources
        if r.type.startswith("kubernetes:")
        and isinstance(r.inputs.get("metadata"), dict)
        and str(r.inputs["metadata"].get("name", "")).startswith("web")
    }
    names = derived_names(
        "web", strategy, "dev", routing, exposed=expose is not None, previewed=expose is PREVIEW
    )
    assert declared == {(kind, name.value) for name in names for kind in name.kinds}
