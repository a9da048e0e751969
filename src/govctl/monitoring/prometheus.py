"""Reading signals from a Prometheus server (HTTP API, ``/api/v1/query``, instant vectors).

Each contract signal's ``query`` (default ``<metric>{use_case="<id>"}``) is evaluated at
the ``--as-of`` instant. Default queries for the same metric are batched into one query
with a regex matcher, so a repository of thousands of use cases costs one request per
metric, not one per signal. When a query returns several series the worst counts: the
highest against a ``max``, the lowest against a ``min`` (SPEC §3.3).
"""

from __future__ import annotations

import base64
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
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from govctl.errors import GovctlError
from govctl.model.escape import printable
from govctl.monitoring.limits import (
    MAX_DIGESTS_PER_SIGNAL,
    MAX_PROMETHEUS_ANSWER,
    PROMETHEUS_TIMEOUT,
)
from govctl.monitoring.observations import Observation, Observed, Reading

TIMEOUT = PROMETHEUS_TIMEOUT
MAX_ANSWER = MAX_PROMETHEUS_ANSWER
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
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise GovctlError(f"--prometheus {_redacted(url)!r}: expected an http(s) URL such "
                              "as http://prometheus:9090")
        if parsed.query or parsed.fragment:
            raise GovctlError(f"--prometheus {_redacted(url)!r}: give the server's base URL, "
                              "without a query or fragment")
        if not 0 < timeout <= MAX_TIMEOUT:
            raise GovctlError(f"--prometheus-timeout must be more than 0 and at most "
                              f"{MAX_TIMEOUT:g} seconds")
        host = parsed.hostname if ":" not in parsed.hostname else f"[{parsed.hostname}]"
        netloc = host + (f":{parsed.port}" if parsed.port is not None else "")
        # credentials in the URL become a Basic header, and never appear in a message
        self.headers = {"Accept": "application/json", "User-Agent": "govctl",
                        "Content-Type": "application/x-www-form-urlencoded"}
        if parsed.username is not None or parsed.password is not None:
            user = urllib.parse.unquote(parsed.username or "")
            secret = urllib.parse.unquote(parsed.password or "")
            token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        self.base = urllib.parse.urlunparse(parsed._replace(netloc=netloc)).rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes

    def _fetch(self, request: urllib.request.Request, expr: str, outcome: dict[str, Any]
               ) -> None:
        """Runs in a worker thread; the caller waits at most the deadline for it. Nothing
        escapes the thread: any failure becomes the outcome's one-line error."""
        try:
            self._fetch_into(request, expr, outcome)
        except Exception as exc:  # a late failure, e.g. reading an error body times out
            outcome.setdefault("error", GovctlError(
                f"cannot read Prometheus at {self.base}: {_one_line(exc)}"))

    def _fetch_into(self, request: urllib.request.Request, expr: str,
                    outcome: dict[str, Any]) -> None:
        deadline = time.monotonic() + self.timeout
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
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
            if 300 <= exc.code < 400:
                outcome["error"] = GovctlError(
                    f"Prometheus at {self.base} answered with a redirect (HTTP {exc.code}), "
                    "which govctl does not follow: give the final URL")
                return
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
        request = urllib.request.Request(f"{self.base}/api/v1/query", data=form.encode(),
                                         method="POST", headers=self.headers)
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
        return self._reduce(outcome.pop("body"), expr, groups, at)

    def _reduce(self, body: bytes | bytearray, expr: str, groups: frozenset[str] | None,
                at: datetime) -> dict[str, Extremes]:
        found: dict[str, Extremes] = {}

        def keep(labels: Any, value: Any) -> None:
            ts, number_text = value
            number = float(number_text)  # "+Inf" and "NaN" included: see Extremes
            if not isinstance(labels, Mapping):
                raise TypeError("metric")
            group = ""
            if groups is not None:
                group = str(labels.get("use_case", ""))
                if group not in groups:
                    return
            moment = _moment(ts)
            if moment > at:
                return  # a value from after --as-of is not evidence of that moment
            series = Series({k: str(labels[k]) for k in KEPT_LABELS if k in labels}, number,
                            moment)
            found.setdefault(group, Extremes()).add(series)

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


@dataclass
class Extremes:
    """All a query's answer is reduced to, series by series: the highest and the lowest
    value (what ``worst`` needs), whether any series had no value (NaN: the signal cannot be
    called ok), and the bundle digests the series carried (GOV085 looks at all of them).
    An infinite value is a value: +Inf breaches any ``max``."""

    highest: Series | None = None
    lowest: Series | None = None
    unknown: bool = False
    digests: dict[str, datetime] = field(default_factory=dict)

    def add(self, series: Series) -> None:
        digest = series.labels.get("bundle_digest")
        if digest and (digest in self.digests or len(self.digests) < MAX_DIGESTS_PER_SIGNAL):
            self.digests[digest] = series.at
        if math.isnan(series.value):
            self.unknown = True
            return
        if self.highest is None or series.value > self.highest.value:
            self.highest = series
        if self.lowest is None or series.value < self.lowest.value:
            self.lowest = series


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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is refused: it would turn the query's POST into a bare GET, or take the
    question to another host, whose answer would then be judged as the server's."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:
        raise urllib.error.HTTPError(req.full_url, code, "a redirect, which govctl does not "
                                     "follow: give the final URL", headers, fp)


_OPENER = urllib.request.build_opener(_NoRedirects)
MAX_TIMEOUT = 3600.0


def _redacted(url: str) -> str:
    """A URL for a message: without credentials, query or fragment."""
    try:
        parsed = urllib.parse.urlparse(url)
        netloc = parsed.netloc.rpartition("@")[2]
        shown = urllib.parse.urlunparse((parsed.scheme, netloc, parsed.path, "", "", ""))
    except ValueError:
        shown = "(a URL that cannot be parsed)"
    return _one_line(shown)


def _one_line(reason: object) -> str:
    """Errors are one line: a server's reply quoted in a reason may carry CR/LF (and any
    control character: it is escaped)."""
    return printable(" ".join(str(reason).split())[:200])


def _error_detail(body: bytes) -> str:
    try:
        return f": {_one_line(json.loads(body).get('error'))}"
    except (ValueError, AttributeError):
        return ""


_SAFE_ID = re.compile(r"[A-Za-z0-9._-]+\Z")


def observe(client: PrometheusClient, signals_of: Mapping[str, Mapping[str, Mapping[str, Any]]],
            at: datetime) -> Observed:
    """The reading a Prometheus query gives at ``at`` for every signal each use case is
    judged on (its approved contract's: SPEC §3.3)."""
    answers: dict[tuple[str, str], Extremes] = {}
    metrics: dict[tuple[str, str], str] = {}
    batched: dict[str, list[tuple[str, str]]] = defaultdict(list)
    # Each signal's query exactly as SPEC §3.3 defines it — unless there are so many that
    # one request per signal would be slow: then default queries of a metric are batched.
    batch = sum(len(signals) for signals in signals_of.values()) > BATCH_ABOVE
    for use_case_id, signals in signals_of.items():
        for name, signal in signals.items():
            metrics[(use_case_id, name)] = signal["metric"]
            if batch and signal.get("query") is None and _SAFE_ID.match(use_case_id):
                batched[signal["metric"]].append((use_case_id, name))
                continue
            expr = signal.get("query") or default_query(signal["metric"], use_case_id)
            found = client.query(expr, at).get("")
            if found is not None:
                answers[(use_case_id, name)] = found
    for metric, uses in batched.items():
        ids = sorted({u for u, _ in uses})
        # ids are [A-Za-z0-9._-]: only "." is special in the (fully anchored) RE2 regex,
        # and its backslash is doubled for the PromQL string literal
        alternatives = "|".join(i.replace(".", "\\\\.") for i in ids)
        expr = f'{metric}{{use_case=~"{alternatives}"}}'
        by_use_case = client.query(expr, at, frozenset(ids))
        for use_case_id, name in uses:
            found = by_use_case.get(use_case_id)
            if found is not None:
                answers[(use_case_id, name)] = found
    latest: dict[tuple[str, str], Reading] = {}
    digests: dict[tuple[str, str], dict[str, datetime]] = {}
    for key, found in answers.items():
        if found.digests:
            digests[key] = dict(found.digests)
        if found.highest is not None and found.lowest is not None:
            latest[key] = Reading(_observation(key, metrics[key], found.highest),
                                  _observation(key, metrics[key], found.lowest), found.unknown)
        elif found.unknown:  # every series NaN: no value at all
            latest[key] = Reading(*(2 * [_observation(key, metrics[key], Series(
                {}, math.nan, at))]), unknown=True)
    return Observed(latest, digests, source=client.base)


def _observation(key: tuple[str, str], metric: str, series: Series) -> Observation:
    return Observation(key[0], key[1], metric, series.value, series.at,
                       series.labels.get("bundle_digest") or None, "prometheus")
