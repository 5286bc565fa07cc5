"""Every Kubernetes name and label value the program derives from an app's name, built here and
nowhere else, so that the settings can check each of them against the API server's rules before
anything is declared (an app name can be valid while `<app>-preview` is 64 characters). Pure."""

from __future__ import annotations

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
    """The Deployment of one release track: ``<app>-blue``, ``<app>-canary``."""
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


def derived_names(app: str, strategy: str, environment: str) -> list[DerivedName]:
    """Every name and label value derived from ``app`` for ``strategy`` in ``environment``."""
    names = [
        DerivedName("Service", app, "service"),
        DerivedName("Deployment, PodDisruptionBudget and container", app, "object"),
        DerivedName("label app.kubernetes.io/instance", instance_label(app, environment), "label"),
    ]
    names += [DerivedName("Deployment", track_name(app, t), "object") for t in TRACKS_BY_STRATEGY[strategy]]
    if strategy == "blue-green":
        names.append(DerivedName("Service", preview_service_name(app), "service"))
    return names


def name_problem(name: DerivedName) -> str | None:
    """Why the API server would refuse ``name``, or None."""
    check = {
        "service": dns1035_label_problem,
        "object": dns1123_label_problem,
        "label": label_value_problem,
    }[name.rule]
    problem = check(name.value)
    return f"its {name.what} '{name.value}' {problem}" if problem else None
