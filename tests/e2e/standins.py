"""Stand-ins for what serves traffic in a real cluster. kwok's pods answer nothing, so each release
track (a colour, stable or canary) is a test app on 127.0.0.1, and what routes to the tracks — a
Service's selector, Istio's VirtualService — is a small router that asks the API server, as
kube-proxy and the sidecar would, where each request goes. The gates probe the routers;
Prometheus scrapes the tracks, labelled as the stack's PodMonitor labels the pods (namespace,
app, version), so the gates' queries select them as they would in a cluster."""

from __future__ import annotations

import contextlib
import random
import select
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import requests

from tests.e2e.sandbox import Sandbox
from tests.support.app import FaultyApp, serve, start_users
from tests.support.prometheus import Prometheus

Choose = Callable[[Mapping[str, str]], str | None]
"""A request's headers -> the track it goes to (None: nowhere, answered 503)."""
CACHE_S = 0.5


class Lookup:
    """An object as the API server holds it, re-read at most every CACHE_S seconds."""

    def __init__(self, sandbox: Sandbox, kind: str, name: str, namespace: str) -> None:
        self._args = (kind, name, namespace)
        self._sandbox = sandbox
        self._value: dict[str, Any] | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self) -> dict[str, Any] | None:
        with self._lock:
            if time.monotonic() - self._at > CACHE_S:
                self._value = self._sandbox.get(*self._args)
                self._at = time.monotonic()
            return self._value


def service_selector(sandbox: Sandbox, namespace: str, service: str) -> Choose:
    """Where a Service sends traffic: the track its ``version`` selector names."""
    lookup = Lookup(sandbox, "service", service, namespace)

    def choose(_headers: Mapping[str, str]) -> str | None:
        found = lookup.get()
        return found["spec"]["selector"].get("version") if found else None

    return choose


def virtual_service(sandbox: Sandbox, namespace: str, name: str, seed: int = 7) -> Choose:
    """Where Istio sends a request: the first route whose header match fits, else by weight."""
    lookup = Lookup(sandbox, "virtualservices.networking.istio.io", name, namespace)
    rng = random.Random(seed)

    def matches(route: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
        conditions = route.get("match")
        if not conditions:
            return True
        lowered = {k.lower(): v for k, v in headers.items()}
        return any(
            all(lowered.get(h.lower()) == m.get("exact") for h, m in c.get("headers", {}).items())
            for c in conditions
        )

    def choose(headers: Mapping[str, str]) -> str | None:
        found = lookup.get()
        if found is None:
            return None
        for route in found["spec"]["http"]:
            if matches(route, headers):
                destinations = route["route"]
                weights = [d.get("weight", 100) for d in destinations]
                if sum(weights) == 0:
                    return None
                subset: str = rng.choices(destinations, weights)[0]["destination"]["subset"]
                return subset
        return None

    return choose


def routed_service(sandbox: Sandbox, namespace: str, route: str) -> Choose:
    """Where an HTTPRoute with one backend sends traffic: the track its Service's selector names."""
    lookup = Lookup(sandbox, "httproutes.gateway.networking.k8s.io", route, namespace)
    services: dict[str, Choose] = {}

    def choose(headers: Mapping[str, str]) -> str | None:
        found = lookup.get()
        if found is None:
            return None
        service = found["spec"]["rules"][0]["backendRefs"][0]["name"]
        chosen = services.setdefault(service, service_selector(sandbox, namespace, service))
        return chosen(headers)

    return choose


def http_route(sandbox: Sandbox, namespace: str, name: str, app: str, seed: int = 7) -> Choose:
    """Where a Gateway API implementation sends a request by an HTTPRoute: the first rule whose
    header match fits, else the rule without matches, split by ``backendRefs`` weight; a rule's
    RequestMirror filter copies the request (see Router). A backend Service ``<app>-<track>`` is
    that track."""
    lookup = Lookup(sandbox, "httproutes.gateway.networking.k8s.io", name, namespace)
    rng = random.Random(seed)

    def matches(rule: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
        conditions = rule.get("matches")
        if not conditions:
            return True
        lowered = {k.lower(): v for k, v in headers.items()}
        return any(
            all(lowered.get(h["name"].lower()) == h["value"] for h in c.get("headers", []))
            for c in conditions
        )

    def choose(headers: Mapping[str, str]) -> str | None:
        found = lookup.get()
        if found is None:
            return None
        for rule in found["spec"]["rules"]:
            if matches(rule, headers):
                refs = rule["backendRefs"]
                weights = [ref.get("weight", 1) for ref in refs]
                if sum(weights) == 0:
                    return None
                service: str = rng.choices(refs, weights)[0]["name"]
                copies = [
                    f["requestMirror"] for f in rule.get("filters", []) if f.get("type") == "RequestMirror"
                ]
                if copies and rng.random() * 100 < copies[0].get("percent", 100):
                    return f"{service.removeprefix(app + '-')}+{copies[0]['backendRef']['name'].removeprefix(app + '-')}"
                return service.removeprefix(app + "-")
        return None

    return choose


class Router:
    """An HTTP server on 127.0.0.1 that forwards each GET to the track ``choose`` picks. A choice
    ``served+copy`` also sends a copy to the track ``copy`` and discards its answer (a mirror),
    counted in ``mirrored``."""

    def __init__(self, choose: Choose, tracks: Mapping[str, FaultyApp]) -> None:
        router = self
        self.served: dict[str, int] = {}
        self.mirrored: dict[str, int] = {}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                track, _, copy = (choose(dict(self.headers.items())) or "").partition("+")
                if copy and copy in tracks:
                    router.mirrored[copy] = router.mirrored.get(copy, 0) + 1
                    with contextlib.suppress(requests.RequestException):
                        requests.get(tracks[copy].url + self.path, timeout=10)
                app = tracks.get(track or "")
                if app is None:
                    return self._answer(503, b"no route\n")
                router.served[track or ""] = router.served.get(track or "", 0) + 1
                try:
                    upstream = requests.get(app.url + self.path, timeout=10)
                except requests.RequestException:
                    return self._answer(502, b"upstream failed\n")
                self._answer(upstream.status_code, upstream.content)

            def _answer(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server, self._thread = serve(Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._stop = threading.Event()
        self._traffic: threading.Thread | None = None

    def start_traffic(self, pause: float = 0.05, max_requests: int = 200_000) -> None:
        """Users: GET /api through the router until stop() (bounded by ``max_requests``)."""
        self._traffic = start_users(self.url, self._stop, pause, max_requests)

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        if self._traffic is not None:
            self._traffic.join(timeout=10)


@contextmanager
def tracks(
    prometheus: Prometheus, namespace: str, app: str, names: tuple[str, ...]
) -> Iterator[dict[str, FaultyApp]]:
    """One test app per track, scraped by Prometheus with the labels the PodMonitor keeps."""
    apps = {name: FaultyApp() for name in names}
    jobs = []
    try:
        for name, server in apps.items():
            job = f"{namespace}-{name}"
            prometheus.scrape(job, server.port, labels={"namespace": namespace, "app": app, "version": name})
            jobs.append(job)
        yield apps
    finally:
        for job in jobs:
            prometheus.forget(job)
        for server in apps.values():
            server.stop()


class PausableApiServer:
    """A TCP relay on 127.0.0.1 to the sandbox's API server that can stop answering, as a
    SIGSTOPped kube-apiserver does (connections accepted, nothing answered), for the stacks that
    reach the cluster through it only: pausing the sandbox's own API server would stall every
    test running beside this one. TLS passes through untouched (the server's certificate names
    127.0.0.1, whatever the port)."""

    def __init__(self, server: str) -> None:
        parts = urllib.parse.urlsplit(server)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 443)
        self._answering = threading.Event()
        self._answering.set()
        self._stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}"
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def pause(self) -> None:
        self._answering.clear()

    def resume(self) -> None:
        self._answering.set()

    def stop(self) -> None:
        self._stopped.set()
        self._answering.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        # Bounded by the sockets' life: each wait is short, and a closed end ends the pump.
        while not self._stopped.is_set():
            if not self._answering.wait(0.2):
                continue  # paused: bytes stay in the kernel's buffers, unanswered
            readable, _, _ = select.select([source], [], [], 0.2)
            if not readable:
                continue
            try:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
