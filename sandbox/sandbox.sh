#!/usr/bin/env bash
# The local sandbox: a Kubernetes control plane with simulated nodes and a local Pulumi backend,
# everything on 127.0.0.1, for the end-to-end tests and for trying the stacks without a cloud.
#
#   sandbox/sandbox.sh start   build (or reuse) the toolchain, start (or reuse) the sandbox, and
#                              print on stdout the export lines a shell needs:
#                                eval "$(./dev.sh sandbox start)"
#   sandbox/sandbox.sh env     the export lines of the running sandbox (exit 1 when none runs)
#   sandbox/sandbox.sh stop    stop every process the sandbox started, remove its cluster and backend
#
# Progress and errors go to stderr. What runs: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok's controller (nodes Ready, pods Running without a kubelet), started and
# stopped by kwokctl, which records their PIDs; the Istio networking, Gateway API and PodMonitor
# CRDs the stacks use, and a Gateway (gateway-system/public); a file backend for Pulumi with
# passphrase-encrypted secrets; a stand-in app for the gates to probe ($SANDBOX_APP_URL).
# docs/sandbox.md has the details.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=sandbox/versions.env
. "$here/versions.env"

CACHE=${FLUTTER_SANDBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flutter-app-sandbox}
STATE=${FLUTTER_SANDBOX_HOME:-$CACHE/sandbox}
NAME=flutter-sandbox
NODES=2
export KWOK_WORKDIR="$STATE/kwok"
CLUSTER_DIR="$KWOK_WORKDIR/clusters/$NAME"

say() { echo "sandbox: $*" >&2; }
die() { say "$*"; exit 1; }

# bounded WAIT_S CMD...: retry CMD once a second for at most WAIT_S seconds.
bounded() {
  local limit=$1 i; shift
  for ((i = 0; i < limit; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}

# alive PID: the process runs (a zombie does not: nothing here may reap kwokctl's orphans).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${state:0:1}" != Z ]
}

# The PIDs of everything the sandbox started: kwokctl's components and the stand-in app.
started_pids() {
  local pidfile
  for pidfile in "$CLUSTER_DIR"/pids/*.pid "$STATE/app.pid"; do
    [ -f "$pidfile" ] && echo "$(cat "$pidfile")"  # kwokctl writes no newline
  done
  return 0
}

# stop_pids GRACE_S PID...: TERM all, then KILL what still runs after GRACE_S seconds.
stop_pids() {
  local grace=$1 pid i left; shift
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i <= grace; i++)); do
    left=()
    for pid in "$@"; do alive "$pid" && left+=("$pid"); done
    [ ${#left[@]} -eq 0 ] && return 0
    [ "$i" -lt "$grace" ] && sleep 1
  done
  kill -KILL "${left[@]}" 2>/dev/null || true
  # A killed process is gone only once its parent has reaped it: wait for that too (bounded), so
  # that "stopped" means no process of ours is left, even on a loaded machine.
  for ((i = 0; i < 20; i++)); do
    local alive_left=()
    for pid in "${left[@]}"; do alive "$pid" && alive_left+=("$pid"); done
    [ ${#alive_left[@]} -eq 0 ] && return 0
    sleep 0.25
  done
}

# The first component kwokctl started that is no longer running, if any.
dead_component() {
  local pidfile pid
  for pidfile in "$CLUSTER_DIR"/pids/*.pid; do
    pid=$(cat "$pidfile" 2>/dev/null) && [ -n "$pid" ] || continue  # not (yet) written
    alive "$pid" || { basename "$pidfile" .pid; return 0; }
  done
  return 1
}

kubectl_() { kubectl --kubeconfig "$STATE/kubeconfig" "$@"; }

running() {
  [ -f "$STATE/env" ] && [ -f "$STATE/kubeconfig" ] || return 1
  # shellcheck disable=SC1091
  (. "$STATE/env" && kubectl_ get --raw /readyz --request-timeout=5s) >/dev/null 2>&1
}

# Show each component that is not running, with its log, then give up (start's EXIT trap stops
# the rest).
report_failure() {
  local pidfile component
  say "$1"
  for pidfile in "$CLUSTER_DIR"/pids/*.pid; do
    [ -f "$pidfile" ] || continue
    component=$(basename "$pidfile" .pid)
    alive "$(cat "$pidfile")" && continue
    say "  $component is not running; its log: $CLUSTER_DIR/logs/$component.log"
    tail -n 5 "$CLUSTER_DIR/logs/$component.log" 2>/dev/null | sed 's/^/    /' >&2 || true
  done
  say "  kwokctl's own output: $STATE/kwokctl.log"
  exit 1
}

# start's EXIT trap: a start that fails stops every process it started. The logs stay (the next
# start or stop removes them).
abandon_start() {
  local code=$?
  [ "$code" -eq 0 ] && return
  # Nothing of a failed start is worth a graceful shutdown (the API server waits for its etcd).
  # shellcheck disable=SC2046 # one word per PID
  stop_pids 2 $(started_pids)
  say "stopped what this start had started; its logs stay in $STATE until \`./dev.sh sandbox stop\`"
  exit "$code"
}

start() {
  local bin
  if running; then
    say "reusing the running sandbox ($STATE)"
    cat "$STATE/env"
    return
  fi
  [ -e "$STATE" ] && { say "removing a stopped sandbox's leftovers"; stop; }
  bin=$("$here/toolchain.sh")
  export PATH="$bin:$PATH"
  mkdir -p "$STATE/backend" "$STATE/pulumi-home"
  local started; started=$(date +%s)

  # kwok takes its default lifecycles or a full set: the defaults, plus the stand-in ingress controller.
  for doc in "$here/kwokctl.yaml" "$bin/../stages/"*.yaml "$here/ingress-stage.yaml"; do
    cat "$doc"; echo "---"
  done >"$STATE/kwokctl.yaml"
  say "starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1"
  trap abandon_start EXIT
  KWOK_RUNTIME=binary KWOK_KUBE_VERSION="$KUBERNETES_VERSION" KWOK_ETCD_VERSION="${ETCD_VERSION#v}" \
    KWOK_ETCD_BINARY="$bin/etcd" KWOK_KUBE_APISERVER_BINARY="$bin/kube-apiserver" \
    KWOK_KUBE_CONTROLLER_MANAGER_BINARY="$bin/kube-controller-manager" \
    KWOK_KUBE_SCHEDULER_BINARY="$bin/kube-scheduler" KWOK_CONTROLLER_BINARY="$bin/kwok" \
    KWOK_KUBECTL_BINARY="$bin/kubectl" \
    kwokctl create cluster --name "$NAME" --config "$STATE/kwokctl.yaml" \
    --kubeconfig "$STATE/kubeconfig" --wait 120s >"$STATE/kwokctl.log" 2>&1 &
  # kwokctl waits its 120 s even when a component died at once, and then exits 0: watch them.
  local creator=$! i dead=""
  for ((i = 0; i < 150; i++)); do
    alive "$creator" || break
    dead=$(dead_component) && break
    sleep 1
  done
  if alive "$creator"; then
    # KILL: on TERM kwokctl goes on starting components. What it started has a PID file.
    kill -KILL "$creator" 2>/dev/null || true
    wait "$creator" 2>/dev/null || true
    [ -n "$dead" ] && report_failure "the cluster did not start: $dead exited"
    report_failure "the cluster did not start within 150 s"
  fi
  wait "$creator" || report_failure "the cluster did not start"
  bounded 60 kubectl_ get --raw /readyz || report_failure "the API server was not ready within 60 s"
  kwokctl scale node --name "$NAME" --replicas "$NODES" >>"$STATE/kwokctl.log" 2>&1 ||
    report_failure "creating the simulated nodes failed"
  kubectl_ wait --for=condition=Ready node --all --timeout=60s >/dev/null ||
    report_failure "the nodes did not become Ready"
  # Pods are admitted only once the controller manager has created the namespace's ServiceAccount.
  bounded 60 kubectl_ get serviceaccount default -n default ||
    report_failure "the default ServiceAccount did not appear within 60 s"

  # What a cluster with Istio, a Gateway API implementation and the Prometheus Operator has and
  # the stacks use (cluster.addons "external", cluster.traffic gateway-api): their CRDs,
  # namespaces and the platform's Gateway. No controller runs: nothing here routes or scrapes.
  say "installing the Istio networking, Gateway API and PodMonitor CRDs"
  kubectl_ apply --server-side -f "$root/tests/data/istio-networking-crds.yaml" \
    -f "$root/tests/data/gateway-api-standard-v1.4.1.yaml" \
    -f "$root/tests/data/monitoring.coreos.com_podmonitors.yaml" >/dev/null
  kubectl_ create namespace istio-system >/dev/null
  kubectl_ create namespace istio-ingress >/dev/null
  kubectl_ create namespace monitoring >/dev/null
  kubectl_ create namespace gateway-system >/dev/null
  kubectl_ wait --for=condition=Established crd --all --timeout=60s >/dev/null
  kubectl_ apply --server-side -f "$here/gateway.yaml" >/dev/null

  # The Kubernetes provider is installed as a plugin at its version, so the engine uses exactly
  # the version the Python SDK asks for (no "ambient plugin" on PATH).
  PULUMI_HOME="$STATE/pulumi-home" pulumi plugin install resource kubernetes "$PULUMI_KUBERNETES_VERSION" \
    --file "$bin/../plugins/pulumi-resource-kubernetes" >>"$STATE/kwokctl.log" 2>&1 ||
    die "installing the kubernetes provider plugin failed (log: $STATE/kwokctl.log)"

  # A stand-in for the app behind the stacks' gates: kwok's pods answer nothing, so a stack's gate
  # URL can point here (it answers GET /health and /ready with 200).
  mkdir -p "$STATE/app"
  echo ok >"$STATE/app/health"
  echo ok >"$STATE/app/ready"
  local port; port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$STATE/app" >"$STATE/app.log" 2>&1 &
  echo $! >"$STATE/app.pid"

  {
    printf 'export PATH=%q:"$PATH"\n' "$bin"
    printf 'export KUBECONFIG=%q\n' "$STATE/kubeconfig"
    printf 'export PULUMI_HOME=%q\n' "$STATE/pulumi-home"
    printf 'export PULUMI_BACKEND_URL=%q\n' "file://$STATE/backend"
    printf 'export PULUMI_SKIP_UPDATE_CHECK=true\n'
    printf 'export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true\n'
    printf 'export SANDBOX_APP_URL=%q\n' "http://127.0.0.1:$port"
    # Secrets in the sandbox's stacks are encrypted with a random passphrase kept in a file
    # beside the backend (and removed with it), unless the shell already has one.
    if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
      (umask 077 && head -c 32 /dev/urandom | base64 >"$STATE/passphrase")
      printf 'export PULUMI_CONFIG_PASSPHRASE_FILE=%q\n' "$STATE/passphrase"
    fi
  } >"$STATE/env"
  trap - EXIT
  say "ready in $(($(date +%s) - started)) s: $NODES nodes, kubeconfig $STATE/kubeconfig, backend file://$STATE/backend"
  cat "$STATE/env"
}

stop() {
  local bin
  # Whatever kwokctl leaves running is stopped by the PIDs it recorded, with the stand-in app;
  # kwokctl's delete removes those records, so they are read first.
  local pids; pids=$(started_pids)
  if [ -d "$CLUSTER_DIR" ] && bin=$("$here/toolchain.sh" --check 2>/dev/null); then
    say "stopping the cluster"
    PATH="$bin:$PATH" kwokctl delete cluster --name "$NAME" --kubeconfig "$STATE/kubeconfig" >>"$STATE/kwokctl.log" 2>&1 ||
      say "kwokctl delete failed (log: $STATE/kwokctl.log); stopping its processes by PID"
  fi
  # shellcheck disable=SC2086 # one word per PID
  stop_pids 10 $pids
  rm -rf "$STATE"
  say "stopped; removed $STATE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) running || die "no sandbox is running (start one: eval \"\$(./dev.sh sandbox start)\")"; cat "$STATE/env" ;;
  *) echo "usage: sandbox/sandbox.sh start|env|stop" >&2; exit 2 ;;
esac
