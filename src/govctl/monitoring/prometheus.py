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
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from govctl.errors import GovctlError
from govctl.model.records import Record
from govctl.monitoring.observations import Observation

TIMEOUT = 10.0
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
    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        parsed = urllib.parse.urlparse(url)
        try:
            parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            parsed = parsed._replace(netloc="")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise GovctlError(f"--prometheus {url!r}: expected an http(s) URL such as "
                              "http://prometheus:9090")
        self.base = url.rstrip("/")
        self.timeout = timeout

    def query(self, expr: str, at: datetime) -> list[Series]:
        # POST: a batched query over thousands of use cases does not fit in a URL
        form = urllib.parse.urlencode({"query": expr, "time": api_time(at)})
        request = urllib.request.Request(
            f"{self.base}/api/v1/query", data=form.encode(), method="POST",
            headers={"Accept": "application/json", "User-Agent": "govctl",
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc.read())
            raise GovctlError(f"Prometheus at {self.base} rejected the query {expr!r}: "
                              f"HTTP {exc.code}{detail}") from None
        except http.client.HTTPException as exc:  # something listens, but not an HTTP server
            raise GovctlError(f"Prometheus at {self.base} did not answer in HTTP "
                              f"({type(exc).__name__}: {_one_line(exc)}); is the URL right?"
                              ) from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GovctlError(f"cannot reach Prometheus at {self.base}: {_one_line(reason)} "
                              "(is the server up, and the URL right?)") from None
        try:
            payload = json.loads(body)
        except ValueError:
            raise GovctlError(f"Prometheus at {self.base} did not answer with JSON "
                              "(is this the Prometheus HTTP API?)") from None
        if not isinstance(payload, dict):
            raise GovctlError(f"Prometheus at {self.base} did not answer with a JSON object "
                              "(is this the Prometheus HTTP API?)")
        if payload.get("status") != "success":
            raise GovctlError(f"Prometheus at {self.base}: "
                              f"{_one_line(payload.get('error', 'query failed'))} for {expr!r}")
        data = payload.get("data") or {}
        kind = data.get("resultType") if isinstance(data, dict) else None
        if kind not in ("vector", "scalar"):
            raise GovctlError(f"Prometheus at {self.base} answered {expr!r} with a {kind}, "
                              "not an instant vector")
        try:
            if kind == "scalar":
                ts, value = data["result"]
                number = float(value)
                return [Series({}, number, _moment(ts))] if math.isfinite(number) else []
            out = []
            for item in data.get("result") or ():
                ts, value = item["value"]
                number = float(value)
                if math.isfinite(number):
                    out.append(Series(dict(item.get("metric") or {}), number, _moment(ts)))
            return out
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            # a proxy or look-alike answering "success" with another shape: still one line
            raise GovctlError(f"Prometheus at {self.base} answered {expr!r} with a result "
                              "that is not an instant vector of [time, value] pairs") from None


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
    """Errors are one line: a server's reply quoted in a reason may carry CR/LF."""
    return " ".join(str(reason).split())[:200]


def _error_detail(body: bytes) -> str:
    try:
        return f": {_one_line(json.loads(body).get('error'))}"
    except (ValueError, AttributeError):
        return ""


def worst(series: list[Series], low: float | None, high: float | None) -> Series:
    """The series that decides the state: the highest against ``max``, the lowest against
    ``min``; for a band, whichever is outside (the highest when none is)."""
    highest = max(series, key=lambda s: s.value)
    lowest = min(series, key=lambda s: s.value)
    if high is not None and highest.value > high:
        return highest
    if low is not None and lowest.value < low:
        return lowest
    return highest if high is not None else lowest


_SAFE_ID = re.compile(r"[A-Za-z0-9._-]+\Z")


def observe(client: PrometheusClient, use_cases: Iterable[Record], contracts: dict[str, Record],
            at: datetime) -> dict[tuple[str, str], Observation]:
    """(use case, signal) → the observation a Prometheus query gives at ``at``."""
    out: dict[tuple[str, str], Observation] = {}
    batched: dict[str, list[tuple[str, str, Record]]] = defaultdict(list)  # metric → uses
    use_cases = list(use_cases)
    # Each signal's query exactly as SPEC §3.3 defines it — unless there are so many that
    # one request per signal would be slow: then default queries of a metric are batched.
    queries = sum(len(c.spec["signals"]) for u in use_cases
                  if (c := contracts.get(u.id)) is not None and c.valid)
    batch = queries > BATCH_ABOVE
    for use_case in use_cases:
        contract = contracts.get(use_case.id)
        if contract is None or not contract.valid:
            continue
        for name, signal in contract.spec["signals"].items():
            if batch and signal.get("query") is None and _SAFE_ID.match(use_case.id):
                batched[signal["metric"]].append((use_case.id, name, contract))
                continue
            expr = signal.get("query") or default_query(signal["metric"], use_case.id)
            series = client.query(expr, at)
            if series:
                chosen = worst(series, signal.get("min"), signal.get("max"))
                out[(use_case.id, name)] = _observation(use_case.id, name, signal["metric"],
                                                        chosen)
    for metric, uses in batched.items():
        ids = sorted({u for u, _, _ in uses})
        # ids are [A-Za-z0-9._-]: only "." is special in the (fully anchored) RE2 regex,
        # and its backslash is doubled for the PromQL string literal
        alternatives = "|".join(i.replace(".", "\\\\.") for i in ids)
        expr = f'{metric}{{use_case=~"{alternatives}"}}'
        by_use_case: dict[str, list[Series]] = defaultdict(list)
        for series in client.query(expr, at):
            by_use_case[series.labels.get("use_case", "")].append(series)
        for use_case_id, name, contract in uses:
            series = by_use_case.get(use_case_id)
            if series:
                signal = contract.spec["signals"][name]
                chosen = worst(series, signal.get("min"), signal.get("max"))
                out[(use_case_id, name)] = _observation(use_case_id, name, metric, chosen)
    return out


def _observation(use_case_id: str, signal: str, metric: str, series: Series) -> Observation:
    return Observation(use_case_id, signal, metric, series.value, series.at,
                       series.labels.get("bundle_digest") or None, "prometheus")
