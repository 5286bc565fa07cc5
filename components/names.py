"""Every Kubernetes name and label value the program derives from an app's name, built here and
nowhere else, so that the settings can check each of them against the API server's rules before
anything is declared (an app name can be valid while `<app>-preview` is 64 characters). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from components.validation import (
    ImageRef,
    dns1035_label_problem,
    dns1123_label_problem,
    label_value_problem,
)

Rule = Literal["service", "object", "label"]
"""``service``: DNS-1035 label (a Service); ``object``: DNS-1123 label (a Deployment, container,
PDB, HPA, Istio object: stricter than the subdomain the API allows, so it is also a valid pod
name prefix); ``label``: a label value."""

TRACKS_BY_STRATEGY: dict[str, tuple[str, ...]] = {
    "rolling": (),
    "blue-green": ("blue", "green"),
    "canary": ("stable", "canary"),
}


def track_name(app: str, track: str) -> str:
    """The Deployment of one release track (``<app>-blue``, ``<app>-canary``), and in Gateway API
    mode the Service of one canary track (``<app>-stable``, ``<app>-canary``)."""
    return f"{app}-{track}"


def preview_service_name(app: str) -> str:
    """Blue/green's Service selecting the idle colour."""
    return f"{app}-preview"


def instance_label(app: str, environment: str) -> str:
    """``app.kubernetes.io/instance``: the app in one environment."""
    return f"{app}-{environment}"


def version_label(ref: ImageRef) -> str:
    """``app.kubernetes.io/version`` from an image: its tag, else its digest's hex, cut to a
    valid label value (at most 63 characters, a letter or digit at both ends)."""
    text = (ref.tag or ref.digest or "").removeprefix("sha256:")[:63]
    return text.strip("-_.")


@dataclass(frozen=True)
class DerivedName:
    """One name the program would declare for an app."""

    what: str
    """How the message names it: "Service", "label app.kubernetes.io/instance"."""
    value: str
    rule: Rule
    kinds: tuple[str, ...] = ()
    """The kinds of namespaced object that carry it: no two apps may declare one of these kinds
    under the same name (the second would overwrite the first, or fight it on every `up`)."""


def derived_names(
    app: str,
    strategy: str,
    environment: str,
    routing: str | None = None,
    exposed: bool = False,
    previewed: bool = False,
) -> list[DerivedName]:
    """Every name and label value derived from ``app`` for ``strategy`` in ``environment``, and the
    route objects of ``routing`` (istio, gateway-api, ingress; None: none) when the app is
    ``exposed`` (``previewed``: blue/green's preview hosts too)."""
    tracks = TRACKS_BY_STRATEGY[strategy]
    # A rolling app's HorizontalPodAutoscaler is named after its Deployment: it clashes with it.
    own = ("Deployment", "PodDisruptionBudget") if strategy == "rolling" else ("PodDisruptionBudget",)
    names = [
        DerivedName("Service", app, "service", ("Service",)),
        DerivedName("Deployment, PodDisruptionBudget and container", app, "object", own),
        DerivedName("label app.kubernetes.io/instance", instance_label(app, environment), "label"),
    ]
    names += [DerivedName("Deployment", track_name(app, t), "object", ("Deployment",)) for t in tracks]
    if strategy == "blue-green":
        names.append(DerivedName("Service", preview_service_name(app), "service", ("Service",)))
    if strategy == "canary" and routing == "gateway-api":
        names += [DerivedName("Service", track_name(app, t), "service", ("Service",)) for t in tracks]
    names += _route_names(app, strategy, routing, exposed, previewed)
    return names


def _route_names(
    app: str, strategy: str, routing: str | None, exposed: bool, previewed: bool
) -> list[DerivedName]:
    # As components/canary.py and components/exposure.py declare them: a canary always has its
    # routing objects, the other strategies only when exposed; each route is named after its Service.
    if strategy == "canary":
        kinds = {"gateway-api": ("HTTPRoute",), "istio": ("VirtualService", "DestinationRule")}
        return (
            [DerivedName(" and ".join(kinds[routing]), app, "object", kinds[routing])]
            if routing in kinds
            else []
        )
    if not exposed or routing is None:
        return []
    if routing == "ingress":
        return [DerivedName("Ingress", app, "object", ("Ingress",))]
    kind = "HTTPRoute" if routing == "gateway-api" else "VirtualService"
    services = [app, preview_service_name(app)] if strategy == "blue-green" and previewed else [app]
    return [DerivedName(kind, service, "object", (kind,)) for service in services]


def collisions(apps: Mapping[str, list[DerivedName]]) -> list[tuple[str, str]]:
    """(app, problem) for each app that would declare an object under a name another app declares
    an object of the same kind with (``web-canary``: the canary track of ``web``, and an app)."""
    first: dict[tuple[str, str], str] = {}
    clashes: dict[tuple[str, str], list[str]] = {}
    for app, names in apps.items():
        for name in names:
            for kind in name.kinds:
                other = first.setdefault((kind, name.value), app)
                if other != app:
                    clashes.setdefault((app, other), []).append(f"{kind} '{name.value}'")
    return [
        (
            app,
            f"its {' and '.join(objects)} {'is' if len(objects) == 1 else 'are'} also app {other}'s: in one "
            "namespace one would replace the other; rename one of the two apps",
        )
        for (app, other), objects in clashes.items()
    ]


def name_problem(name: DerivedName) -> str | None:
    """Why the API server would refuse ``name``, or None."""
    check = {
        "service": dns1035_label_problem,
        "object": dns1123_label_problem,
        "label": label_value_problem,
    }[name.rule]
    problem = check(name.value)
    return f"its {name.what} '{name.value}' {problem}" if problem else None
