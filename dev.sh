#!/usr/bin/env bash
# Set-up and the two jobs, on a fresh machine or an existing checkout:
#   ./dev.sh demo     install, build (or reuse) the sandbox, then the main job end to end on it: a
#                     canary stack deployed, a release walked, a bad one rolled back (sandbox/demo.py)
#   ./dev.sh render   install, then render every stack offline (rollout render) into build/render
#   ./dev.sh test     install with test tools (+ Debian's prometheus), build the sandbox toolchain,
#                     then lint, type-check and test (the end-to-end tests start the sandbox)
#   ./dev.sh sandbox start|env|stop   the local cluster and Pulumi backend (docs/sandbox.md):
#                     eval "$(./dev.sh sandbox start)"
# Extra arguments go to rollout render / pytest.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
STACKS=(dev test staging production)

install() {  # $1: pip extras, e.g. "[test]"; nothing to do when .venv has them for these files
  local stamp extras=${1//[^a-z]/}
  stamp=".venv/.installed-${extras:-base}-$(cat pyproject.toml requirements.txt | sha256sum | cut -c1-16)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  if [ ! -e "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".$1"
    rm -f .venv/.installed-"${extras:-base}"-*
    touch "$stamp"
  fi
  # The policy pack's environment (PulumiPolicy.yaml: policies/venv): its requirements are the
  # project's own, so `pulumi preview --policy-pack policies` runs in the same one.
  [ -e policies/venv ] || ln -s ../.venv policies/venv
}

ensure_prometheus() {  # the gate and report tests run against a real Prometheus server
  command -v prometheus >/dev/null && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's prometheus package for the gate tests" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "prometheus is not installed (apt-get install prometheus): its tests will be skipped, or fail when CI=true" >&2
  fi
}

sandbox_toolchain() {  # the end-to-end tests need it: a failed build fails CI, else they skip
  if command -v go >/dev/null && sandbox/toolchain.sh >/dev/null; then
    return
  fi
  if [ "${CI:-}" = true ]; then
    echo "the sandbox toolchain could not be built (sandbox/toolchain.sh; Go installed?)" >&2
    exit 1
  fi
  echo "the sandbox toolchain is unavailable: the end-to-end tests will be skipped" >&2
}

typecheck_all() {  # every Python file: named files are checked whatever pyproject's exclude says,
  # which scopes `pulumi up`'s typechecker (Pulumi.yaml) to what the program imports
  local files
  mapfile -t files < <(find . \( -path './.*' -o -path ./build -o -path ./policies/venv -o -name __pycache__ \) -prune \
    -o -name '*.py' ! -path ./policies/__main__.py -print | sort)
  .venv/bin/mypy "${files[@]}"
}

case "${1:-}" in
  sandbox)
    # The program's environment, as `pulumi install` would make it from requirements.txt (mypy
    # included, Pulumi.yaml's typechecker); `pulumi install` itself also insists on downloading
    # the aws plugin, which the sandbox never uses. stdout is for the export lines only.
    [ "${2:-}" = start ] && install "[test]" >&2
    sandbox/sandbox.sh "${@:2}"
    # `rollout` of this checkout, first on PATH (the sandbox may have been started from another).
    case "${2:-}" in start | env) printf 'export PATH=%q:"$PATH"\n' "$PWD/.venv/bin" ;; esac
    ;;
  demo)
    install "[test]"
    ensure_prometheus
    exec .venv/bin/python -m sandbox.demo "${@:2}"
    ;;
  render)
    install ""
    args=()
    for stack in "${STACKS[@]}"; do args+=(--stack "$stack"); done
    exec .venv/bin/rollout render "${args[@]}" "${@:2}"
    ;;
  test)
    install "[test]"
    ensure_prometheus
    sandbox_toolchain
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    typecheck_all
    # Two processes, a test module each at a time (modules share stacks in file order): the
    # end-to-end tests mostly wait on the engine and the gates. They share one sandbox.
    exec .venv/bin/python -m pytest -n 2 --dist loadfile "${@:2}"
    ;;
  *)
    echo "usage: ./dev.sh demo|render|test [args...] | ./dev.sh sandbox start|env|stop" >&2
    exit 2
    ;;
esac
