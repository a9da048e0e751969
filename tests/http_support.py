"""HTTP servers on loopback for the monitoring tests: canned Prometheus APIs, exporters, and
servers that misbehave (slow, huge)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass


class LoopbackServer:
    """An HTTP server on a free loopback port, served from a thread until close()."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


Answer = Callable[[str, str], tuple[int, bytes]]  # (query, time) → (HTTP status, body)


class FakePrometheus(LoopbackServer):
    """A loopback HTTP server answering /api/v1/query; records every request."""

    def __init__(self, answer: Answer) -> None:
        self.requests: list[dict[str, str]] = []
        fake = self

        class Handler(QuietHandler):
            def _answer(self, params: dict[str, str]) -> None:
                fake.requests.append({"method": self.command, "path": self.path, **params})
                if urllib.parse.urlparse(self.path).path != "/api/v1/query":
                    status, body = 404, b"404 page not found"
                else:
                    status, body = answer(params.get("query", ""), params.get("time", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                self._answer({k: v[0] for k, v in form.items()})

            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                self._answer({k: v[0] for k, v in query.items()})

        self._serve(Handler)
        self.url = f"http://{self.address}"

    @property
    def queries(self) -> list[str]:
        return [r["query"] for r in self.requests]


Series = list[tuple[dict[str, str], float]]


def vectors(by_metric: dict[str, Series], by_query: dict[str, Series] | None = None) -> Answer:
    """Answer a query with the series canned for it: by exact query, else by metric name."""

    def answer(query: str, at: str) -> tuple[int, bytes]:
        series = (by_query or {}).get(query)
        if series is None:
            series = by_metric.get(query.split("{", 1)[0], [])
            # like Prometheus: a use_case matcher selects the series (= exact, =~ regex)
            matcher = re.search(r'use_case(=~?)"([^"]*)"', query)
            if matcher:
                op, value = matcher.groups()
                value = value.replace("\\\\", "\\")  # the PromQL string's escaping
                keep = (lambda v: re.fullmatch(value, v) is not None) if op == "=~" else (
                    lambda v: v == value)
                series = [(labels, v) for labels, v in series
                          if keep(labels.get("use_case", ""))]
        result = [{"metric": {"__name__": query.split("{", 1)[0], **labels},
                   "value": [float(at), repr(float(value))]} for labels, value in series]
        return 200, json.dumps({"status": "success",
                                "data": {"resultType": "vector", "result": result}}).encode()

    return answer


class MetricsExporter(LoopbackServer):
    """A /metrics endpoint in the Prometheus text format, on loopback. ``values`` (metric →
    value) may change while Prometheus scrapes it; ``labels`` gives each metric's labels."""

    def __init__(self, values: dict[str, float], labels: Callable[[str], str]) -> None:
        self.values = dict(values)
        exporter = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                body = "".join(f"# TYPE {metric} gauge\n{metric}{{{labels(metric)}}} {value!r}\n"
                               for metric, value in dict(exporter.values).items()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._serve(Handler)


def stop_process(proc: Any) -> None:
    """Stop a server the test started (by its PID): politely, then for good."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
