"""`sandbox.sh start` when a control-plane component dies: it says which one and where its log is,
prints no export line, stops every process it had started, and `stop` removes what is left.

Run on a sandbox of its own (another cache directory) whose toolchain is the built one, links,
except for an etcd that exits at once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.e2e.sandbox import CACHE, SANDBOX, TOOLCHAIN, Sandbox

BROKEN_ETCD = """#!/bin/sh
case "$1" in *version) exec {etcd} "$@" ;; esac
echo "etcd: broken on purpose" >&2
exit 3
"""


def broken_toolchain(cache: Path) -> None:
    """The built toolchain, linked into ``cache``, with an etcd that answers ``--version`` (kwokctl
    asks first) and then exits 3."""
    built = subprocess.run(
        [str(TOOLCHAIN), "--check"], capture_output=True, text=True, check=True, timeout=60
    )
    toolchain = Path(built.stdout.strip()).parent
    (cache / "components").symlink_to(CACHE / "components")
    for part in toolchain.iterdir():
        (cache / toolchain.name / part.name).mkdir(parents=True)
        for file in part.iterdir():
            (cache / toolchain.name / part.name / file.name).symlink_to(file)
    etcd = cache / toolchain.name / "bin" / "etcd"
    etcd.unlink()
    etcd.write_text(BROKEN_ETCD.format(etcd=toolchain / "bin" / "etcd"))
    etcd.chmod(0o755)


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_a_component_that_dies_is_named_with_its_log_and_nothing_is_left_running(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    del sandbox  # only its toolchain: built, or a failure in CI
    cache = tmp_path / "cache"
    cache.mkdir()
    broken_toolchain(cache)
    env = {k: v for k, v in os.environ.items() if k != "FLUTTER_SANDBOX_HOME"}
    env["FLUTTER_SANDBOX_CACHE"] = str(cache)
    cluster = cache / "sandbox" / "kwok" / "clusters" / "flutter-sandbox"
    try:
        started = subprocess.run(
            [str(SANDBOX), "start"], env=env, capture_output=True, text=True, check=False, timeout=300
        )
        assert started.returncode == 1, started.stderr
        assert started.stdout == ""
        assert "sandbox: the cluster did not start: etcd exited" in started.stderr
        assert f"etcd is not running; its log: {cluster}/logs/etcd.log" in started.stderr
        assert "    etcd: broken on purpose" in started.stderr
        pids = {p.stem: int(p.read_text()) for p in (cluster / "pids").glob("*.pid")}
        assert "etcd" in pids
        assert {name: pid for name, pid in pids.items() if running(pid)} == {}
        assert "its logs stay in" in started.stderr
        assert "broken on purpose" in (cluster / "logs" / "etcd.log").read_text()
    finally:
        stopped = subprocess.run(
            [str(SANDBOX), "stop"], env=env, capture_output=True, text=True, check=False, timeout=300
        )
    assert stopped.returncode == 0, stopped.stderr
    assert not (cache / "sandbox").exists()
