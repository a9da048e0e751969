"""Where live values come from: an observations file or a Prometheus server, read for the
signals each use case is judged on (its yardstick)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from govctl.errors import GovctlError
from govctl.model.records import Record
from govctl.model.repository import Repository
from govctl.monitoring.observations import MAX_BYTES, Observed, Selection, observe_file
from govctl.monitoring.prometheus import MAX_ANSWER, TIMEOUT
from govctl.monitoring.yardstick import Yardstick


@dataclass(frozen=True)
class ObservationSource:
    """``--observations FILE`` (with ``--observations-format``, ``--max-observations-bytes``)
    or ``--prometheus URL`` (with ``--prometheus-timeout``); neither: nothing observed."""

    path: Path | None = None
    fmt: str | None = None
    max_bytes: int = MAX_BYTES
    prometheus: str | None = None
    timeout: float = TIMEOUT

    def __post_init__(self) -> None:
        if self.path is not None and self.prometheus is not None:
            raise GovctlError("give --observations FILE or --prometheus URL, not both")
        if self.max_bytes < 1:
            raise GovctlError("--max-observations-bytes must be at least 1")


def selection(repo: Repository, use_cases: Iterable[Record],
              sticks: Mapping[str, Yardstick]) -> Selection:
    """The rows that count: each asked-about use case's signals (approved, or proposed for
    a signal only the records have) with the metric each is measured by."""
    # (a use case whose record has errors has no judged signals: its rows are ignored)
    return Selection(
        {u.id: {**{n: s["metric"] for n, s in sticks[u.id].unapproved.items()},
                **{n: s["metric"] for n, s in sticks[u.id].signals.items()}}
         if u.id in sticks else {} for u in use_cases},
        frozenset(r.id for r in repo.of_kind("UseCase", valid_only=False)))


def gather(source: ObservationSource, repo: Repository, use_cases: list[Record],
           sticks: Mapping[str, Yardstick], as_of: datetime) -> Observed | None:
    """The latest value of every judged signal at ``as_of``; None when nothing was given."""
    if source.path is not None:
        return observe_file(source.path, as_of, selection(repo, use_cases, sticks),
                            source.fmt, source.max_bytes)
    if source.prometheus is not None:
        from govctl.monitoring.prometheus import PrometheusClient, observe

        client = PrometheusClient(source.prometheus, source.timeout, MAX_ANSWER)
        return observe(client, {u.id: sticks[u.id].signals for u in use_cases
                                if u.id in sticks}, as_of)
    return None
