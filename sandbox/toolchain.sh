#!/usr/bin/env bash
# Builds the sandbox toolchain (sandbox/versions.env) from the Go module proxy, into a cache outside
# the repository, and prints the directory to put first on PATH. A warm cache builds nothing.
#
#   sandbox/toolchain.sh            build what is missing, print the bin directory on stdout
#   sandbox/toolchain.sh --check    the same when everything is built; else exit 1, building nothing
#
# Progress goes to stderr; each build's output goes to a log under the cache, named on failure.
# Only upstream tools are built here: the project itself is Python (docs/sandbox.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=sandbox/versions.env
. "$here/versions.env"

CACHE=${FLUTTER_SANDBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flutter-app-sandbox}
# GOTOOLCHAIN: the machine's Go unless the caller names one (CI: go1.26.8, fetched by the go command).
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-local}

say() { echo "toolchain: $*" >&2; }

# run LOG CMD...: run a build step with its output in LOG; on failure show the end of it.
run() {
  local log=$1; shift
  if ! "$@" >>"$log" 2>&1; then
    say "FAILED: $* (log: $log)"
    tail -n 25 "$log" >&2
    exit 1
  fi
}

# component NAME VERSION: the cache directory of one built component, keyed by its version.
component() { echo "$CACHE/components/$1-$2"; }

# build NAME VERSION FUNCTION: build a component once; FUNCTION gets the output dir and a work dir.
build() {
  local name=$1 version=$2 fn=$3 out work log started
  out=$(component "$name" "$version")
  [ -f "$out/.built" ] && return 0
  [ "${CHECK_ONLY:-}" = 1 ] && { say "$name $version is not built"; exit 1; }
  work="$CACHE/work/$name-$version"
  log="$CACHE/logs/$name-$version.log"
  rm -rf "$out" "$work"
  mkdir -p "$out/bin" "$work" "$(dirname "$log")"
  : >"$log"
  started=$(date +%s)
  say "building $name $version (log: $log)"
  (cd "$work" && "$fn" "$out" "$log")
  date -u +%FT%TZ >"$out/.built"
  say "built $name $version in $(($(date +%s) - started)) s"
  rm -rf "$work"
}

module_dir() { go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }

build_pulumi() {  # the CLI and engine
  local out=$1 log=$2
  run "$log" go mod init sandbox.invalid/pulumi
  run "$log" go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION" \
    "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
  run "$log" go build -trimpath -o "$out/bin/pulumi" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_language_python() {  # the language host, with the scripts it runs beside it
  local out=$1 log=$2 mod=github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3 sdk
  run "$log" go mod init sandbox.invalid/language-python
  printf '%s %s %s\n%s %s/go.mod %s\n' \
    "$mod" "$PULUMI_LANGUAGE_PYTHON_VERSION" "$PULUMI_LANGUAGE_PYTHON_SUM" \
    "$mod" "$PULUMI_LANGUAGE_PYTHON_VERSION" "$PULUMI_LANGUAGE_PYTHON_GOMOD_SUM" >go.sum
  run "$log" go get "$mod@$PULUMI_LANGUAGE_PYTHON_VERSION" \
    "github.com/pulumi/pulumi/pkg/v3@$PULUMI_LANGUAGE_PYTHON_PULUMI" \
    "github.com/pulumi/pulumi/sdk/v3@$PULUMI_LANGUAGE_PYTHON_PULUMI"
  run "$log" go build -trimpath -o "$out/bin/pulumi-language-python" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_LANGUAGE_PYTHON_PULUMI" \
    "$mod"
  # The host runs programs through the executor script next to its own binary, and the engine
  # starts Python dynamic providers (the HealthGate) through the pulumi-python provider shim.
  sdk=$(module_dir "github.com/pulumi/pulumi/sdk/v3@$PULUMI_LANGUAGE_PYTHON_PULUMI")
  install -m 755 "$sdk/python/cmd/pulumi-language-python-exec" "$out/bin/"
  install -m 755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$out/bin/"
}

build_kubernetes_provider() {
  local out=$1 log=$2 src
  src=$(module_dir "github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_KUBERNETES_MODULE")
  cp -r "$src" provider && chmod -R u+w provider && cd provider
  # The module replaces its SDK with ../sdk (not in the module zip): use the released SDK instead.
  run "$log" go mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4 \
    -require "github.com/pulumi/pulumi-kubernetes/sdk/v4@v$PULUMI_KUBERNETES_VERSION"
  cd cmd/pulumi-resource-kubernetes
  # schema-embed.json and terraform-mapping-embed.json are generated, not shipped.
  run "$log" env VERSION="$PULUMI_KUBERNETES_VERSION" go run generate.go
  run "$log" go build -trimpath -o "$out/bin/pulumi-resource-kubernetes" \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" .
}

build_kubernetes() {  # kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
  local out=$1 log=$2 gomod minor staging cmd v=k8s.io/component-base/version
  run "$log" go mod init sandbox.invalid/kubernetes
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local
  # directories; outside its repository they are the published v0.<minor>.<patch> modules.
  for staging in $(sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
    run "$log" go mod edit -replace "$staging=$staging@v0.${KUBERNETES_VERSION#v1.}"
  done
  run "$log" go get "k8s.io/kubernetes@$KUBERNETES_VERSION"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    say "  $cmd"
    run "$log" go build -trimpath -o "$out/bin/$cmd" -ldflags "-s -w
      -X $v.gitVersion=$KUBERNETES_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean
      -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION
      -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor" \
      "k8s.io/kubernetes/cmd/$cmd"
  done
}

build_etcd() {
  local out=$1 log=$2
  run "$log" go mod init sandbox.invalid/etcd
  run "$log" go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  run "$log" go build -trimpath -o "$out/bin/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3
}

build_kwok_stages() {  # kwok's default node and pod lifecycles, as data: the sandbox adds a stage
  # of its own (sandbox/ingress-stage.yaml), and kwok takes either its defaults or a full set.
  local out=$1 log=$2 src
  src=$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")/kustomize/stage
  mkdir -p "$out/stages"
  install -m 644 "$src/node/fast/node-initialize.yaml" "$src/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
    "$src/pod/fast/pod-ready.yaml" "$src/pod/fast/pod-complete.yaml" "$src/pod/fast/pod-delete.yaml" "$out/stages/"
  echo "copied kwok's default stages from $src" >>"$log"
}

build_kwok() {  # kwok (simulated nodes and pods) and kwokctl (runs the cluster's processes)
  local out=$1 log=$2
  run "$log" env GOBIN="$out/bin" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}

[ "${1:-}" = --check ] && CHECK_ONLY=1
command -v go >/dev/null || { say "go is not installed"; exit 1; }

build etcd "$ETCD_VERSION" build_etcd
build kwok "$KWOK_VERSION" build_kwok
build kwok-stages "$KWOK_VERSION" build_kwok_stages
build kubernetes-provider "$PULUMI_KUBERNETES_VERSION" build_kubernetes_provider
build language-python "$PULUMI_LANGUAGE_PYTHON_VERSION" build_language_python
build pulumi "$PULUMI_VERSION" build_pulumi
build kubernetes "$KUBERNETES_VERSION" build_kubernetes

# One bin directory for PATH, keyed by every pinned version and this recipe. Hard links, not symbolic ones: the
# CLI takes plugins next to its own executable as its bundled ones (no "using ... from $PATH"
# warning), and the language host finds its executor script next to its own. The Kubernetes
# provider is kept out of it (plugins/): the sandbox installs it as a versioned plugin instead.
key=$(cat "$here/versions.env" "$here/toolchain.sh" | sha256sum | cut -c1-12)
dir="$CACHE/toolchain-$key"
if [ ! -d "$dir" ]; then
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp/bin" "$dir.tmp/plugins" "$dir.tmp/stages"
  for c in "etcd-$ETCD_VERSION" "kwok-$KWOK_VERSION" "language-python-$PULUMI_LANGUAGE_PYTHON_VERSION" \
    "pulumi-$PULUMI_VERSION" "kubernetes-$KUBERNETES_VERSION"; do
    ln "$CACHE/components/$c/bin/"* "$dir.tmp/bin/"
  done
  ln "$(component kubernetes-provider "$PULUMI_KUBERNETES_VERSION")/bin/pulumi-resource-kubernetes" "$dir.tmp/plugins/"
  ln "$(component kwok-stages "$KWOK_VERSION")/stages/"*.yaml "$dir.tmp/stages/"
  mv "$dir.tmp" "$dir"
fi
echo "$dir/bin"
