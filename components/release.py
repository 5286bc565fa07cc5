"""Which component releases an app: the strategy in its settings decides."""

from __future__ import annotations

import pulumi

from components.blue_green import BlueGreenRelease
from components.canary import CanaryRelease
from components.workload import Workload, WorkloadArgs

AppRelease = Workload | BlueGreenRelease | CanaryRelease


def declare_release(name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> AppRelease:
    """Declare the app with the component of its strategy (rolling, blue-green or canary)."""
    strategy = args.app.strategy
    if strategy == "blue-green":
        return BlueGreenRelease(name, args, opts)
    if strategy == "canary":
        return CanaryRelease(name, args, opts)
    return Workload(name, args, opts)
