"""Reading signals from a Prometheus server (HTTP API, ``/api/v1/query``, instant vectors).

Each contract signal's ``query`` (default ``<metric>{use_case="<id>"}``) is evaluated at
the ``--as-of`` instant. Default queries for the same metric are batched into one query
with a regex matcher, so a repository of thousands of use cases costs one request per
metric, not one per signal. When a query returns several series the worst counts: the
highest against a ``max``, the lowest against a ``min`` (SPEC §3.3).
"""

from __future__ import annotations

import http.client
import json
import math
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from govctl.errors import GovctlError
from govctl.model.escape import printable
from govctl.monitoring.observations import Observation

TIMEOUT = 10.0  # seconds for a whole request (--prometheus-timeout)
MAX_ANSWER = 32 << 20  # bytes of one answer
KEPT_LABELS = ("use_case", "bundle_digest")  # all a series is read for
BATCH_ABOVE = 200  # signals; more than this and default queries go one per metric


def default_query(metric: str, use_case_id: str) -> str:
    return f'{metric}{{use_case="{_escape(use_case_id)}"}}'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    value: float
    at: datetime


class PrometheusClient:
    """The Prometheus HTTP API, with a total deadline per request (connection, TLS, the
    whole answer: a server trickling a byte every few seconds cannot hold govctl) and a cap
    on the answer's size (read in pieces; a longer answer is an error, not memory)."""

    def __init__(self, url: str, timeout: float = TIMEOUT, max_bytes: int = MAX_ANSWER
                 ) -> None:
        parsed = urllib.parse.urlparse(url)
        try:
            parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            parsed = parsed._replace(netloc="")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise GovctlError(f"--prometheus {_one_line(url)!r}: expected an http(s) URL such "
                              "as http://prometheus:9090")
        if not timeout > 0:
            raise GovctlError("--prometheus-timeout must be more than 0 seconds")
        self.base = url.rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes

    def _fetch(self, request: urllib.request.Request, expr: str, outcome: dict[str, Any]
               ) -> None:
        """Runs in a worker thread; the caller waits at most the deadline for it."""
        deadline = time.monotonic() + self.timeout
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    outcome["error"] = self._too_large()
                    return
                body = bytearray()
                while True:
                    if time.monotonic() > deadline:
                        return  # the caller has given up already
                    part = response.read1(65536) if hasattr(response, "read1") else \
                        response.read(65536)
                    if not part:
                        break
                    body += part
                    if len(body) > self.max_bytes:
                        outcome["error"] = self._too_large()
                        return
                outcome["body"] = body
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc.read(4096))
            outcome["error"] = GovctlError(
                f"Prometheus at {self.base} rejected the query {_one_line(expr)!r}: "
                f"HTTP {exc.code}{detail}")
        except http.client.HTTPException as exc:  # something listens, but not an HTTP server
            outcome["error"] = GovctlError(
                f"Prometheus at {self.base} did not answer in HTTP ({type(exc).__name__}: "
                f"{_one_line(exc)}); is the URL right?")
        except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            outcome["error"] = GovctlError(
                f"cannot reach Prometheus at {self.base}: {_one_line(reason)} (is the server "
                "up, and the URL right?)")

    def _too_large(self) -> GovctlError:
        return GovctlError(f"Prometheus at {self.base} answered with more than "
                           f"{self.max_bytes >> 20} MiB; narrow the query")

    def query(self, expr: str, at: datetime, groups: frozenset[str] | None = None
              ) -> dict[str, Extremes]:
        """The answer to ``expr`` at ``at``, reduced while it is parsed to the highest and
        the lowest series — per ``use_case`` label among ``groups`` (a batched query), else
        all together under "" — so a large answer never becomes a large list in memory."""
        # POST: a batched query over thousands of use cases does not fit in a URL
        form = urllib.parse.urlencode({"query": expr, "time": api_time(at)})
        request = urllib.request.Request(
            f"{self.base}/api/v1/query", data=form.encode(), method="POST",
            headers={"Accept": "application/json", "User-Agent": "govctl",
                     "Content-Type": "application/x-www-form-urlencoded"})
        outcome: dict[str, Any] = {}
        # a thread bounds what socket timeouts cannot: name resolution, and an answer that
        # trickles in under each read's timeout; a stuck worker dies with the process
        worker = threading.Thread(target=self._fetch, args=(request, expr, outcome),
                                  daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive() or ("body" not in outcome and "error" not in outcome):
            raise GovctlError(f"Prometheus at {self.base} did not answer within "
                              f"{self.timeout:g} s (--prometheus-timeout)")
        if "error" in outcome:
            raise outcome["error"]
        return self._reduce(outcome.pop("body"), expr, groups)

    def _reduce(self, body: bytes | bytearray, expr: str, groups: frozenset[str] | None
                ) -> dict[str, Extremes]:
        found: dict[str, Extremes] = {}

        def keep(labels: Any, value: Any) -> None:
            ts, number_text = value
            number = float(number_text)
            if not math.isfinite(number):
                return
            if not isinstance(labels, Mapping):
                raise TypeError("metric")
            group = ""
            if groups is not None:
                group = str(labels.get("use_case", ""))
                if group not in groups:
                    return
            series = Series({k: str(labels[k]) for k in KEPT_LABELS if k in labels}, number,
                            _moment(ts))
            held = found.get(group)
            found[group] = Extremes(series, series) if held is None else held.add(series)

        def hook(pairs: list[tuple[str, Any]]) -> Any:
            # each series is folded in as soon as it is parsed, and dropped (None)
            obj = dict(pairs)
            if isinstance(obj.get("value"), list) and set(obj) <= _SERIES_KEYS:
                keep(obj.get("metric") or {}, obj["value"])
                return None
            return obj

        try:
            payload = json.loads(body, object_pairs_hook=hook)
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError):
                raise self._not_a_vector(expr) from None  # a series value that is no number
            raise GovctlError(f"Prometheus at {self.base} did not answer with JSON "
                              "(is this the Prometheus HTTP API?)") from None
        except (TypeError, KeyError, AttributeError, OverflowError, OSError):
            raise self._not_a_vector(expr) from None
        if not isinstance(payload, dict):
            raise GovctlError(f"Prometheus at {self.base} did not answer with a JSON object "
                              "(is this the Prometheus HTTP API?)")
        if payload.get("status") != "success":
            raise GovctlError(f"Prometheus at {self.base}: "
                              f"{_one_line(payload.get('error', 'query failed'))} for "
                              f"{_one_line(expr)!r}")
        data = payload.get("data") or {}
        kind = data.get("resultType") if isinstance(data, dict) else None
        if kind not in ("vector", "scalar"):
            raise GovctlError(f"Prometheus at {self.base} answered {_one_line(expr)!r} with a "
                              f"{_one_line(kind)}, not an instant vector")
        result = data.get("result")
        try:
            if kind == "scalar":
                keep({}, result)
            elif result is not None and not (isinstance(result, list)
                                             and all(r is None for r in result)):
                raise TypeError("result")  # series of another shape than [time, value]
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError):
            raise self._not_a_vector(expr) from None
        return found

    def _not_a_vector(self, expr: str) -> GovctlError:
        # a proxy or look-alike answering "success" with another shape: still one line
        return GovctlError(f"Prometheus at {self.base} answered {_one_line(expr)!r} with a "
                           "result that is not an instant vector of [time, value] pairs")


@dataclass(frozen=True)
class Extremes:
    """The highest and the lowest of a query's series: all ``worst`` needs."""

    highest: Series
    lowest: Series

    def add(self, series: Series) -> Extremes:
        return Extremes(series if series.value > self.highest.value else self.highest,
                        series if series.value < self.lowest.value else self.lowest)


_SERIES_KEYS = frozenset({"metric", "value"})


def api_time(at: datetime) -> str:
    """The instant as the API's seconds with milliseconds (Prometheus' resolution), rounded
    down: ``--as-of 2026-11-27`` is 23:59:59.999999, which must not become the next day's
    midnight (observations after --as-of are ignored). Integer arithmetic: no float error."""
    ms = (at - _EPOCH) // timedelta(milliseconds=1)
    return f"{Decimal(ms).scaleb(-3):f}"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _moment(ts: float | str) -> datetime:
    return datetime.fromtimestamp(float(ts), tz=timezone.utc)


def _one_line(reason: object) -> str:
    """Errors are one line: a server's reply quoted in a reason may carry CR/LF (and any
    control character: it is escaped)."""
    return printable(" ".join(str(reason).split())[:200])


def _error_detail(body: bytes) -> str:
    try:
        return f": {_one_line(json.loads(body).get('error'))}"
    except (ValueError, AttributeError):
        return ""


def worst(extremes: Extremes, low: float | None, high: float | None) -> Series:
    """The series that decides the state: the highest against ``max``, the lowest against
    ``min``; for a band, whichever is outside (the highest when none is)."""
    highest, lowest = extremes.highest, extremes.lowest
    if high is not None and highest.value > high:
        return highest
    if low is not None and lowest.value < low:
        return lowest
    return highest if high is not None else lowest


_SAFE_ID = re.compile(r"[A-Za-z0-9._-]+\Z")


def observe(client: PrometheusClient, signals_of: Mapping[str, Mapping[str, Mapping[str, Any]]],
            at: datetime) -> dict[tuple[str, str], Observation]:
    """(use case, signal) → the observation a Prometheus query gives at ``at``, for the
    signals each use case is judged on (its approved contract's: SPEC §3.3)."""
    out: dict[tuple[str, str], Observation] = {}
    batched: dict[str, list[tuple[str, str, Mapping[str, Any]]]] = defaultdict(list)
    # Each signal's query exactly as SPEC §3.3 defines it — unless there are so many that
    # one request per signal would be slow: then default queries of a metric are batched.
    batch = sum(len(signals) for signals in signals_of.values()) > BATCH_ABOVE
    for use_case_id, signals in signals_of.items():
        for name, signal in signals.items():
            if batch and signal.get("query") is None and _SAFE_ID.match(use_case_id):
                batched[signal["metric"]].append((use_case_id, name, signal))
                continue
            expr = signal.get("query") or default_query(signal["metric"], use_case_id)
            series = client.query(expr, at).get("")
            if series is not None:
                chosen = worst(series, signal.get("min"), signal.get("max"))
                out[(use_case_id, name)] = _observation(use_case_id, name, signal["metric"],
                                                        chosen)
    for metric, uses in batched.items():
        ids = sorted({u for u, _, _ in uses})
        # ids are [A-Za-z0-9._-]: only "." is special in the (fully anchored) RE2 regex,
        # and its backslash is doubled for the PromQL string literal
        alternatives = "|".join(i.replace(".", "\\\\.") for i in ids)
        expr = f'{metric}{{use_case=~"{alternatives}"}}'
        by_use_case = client.query(expr, at, frozenset(ids))
        for use_case_id, name, signal in uses:
            series = by_use_case.get(use_case_id)
            if series is not None:
                chosen = worst(series, signal.get("min"), signal.get("max"))
                out[(use_case_id, name)] = _observation(use_case_id, name, metric, chosen)
    return out


def _observation(use_case_id: str, signal: str, metric: str, series: Series) -> Observation:
    return Observation(use_case_id, signal, metric, series.value, series.at,
                       series.labels.get("bundle_digest") or None, "prometheus")
