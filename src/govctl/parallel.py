"""Using the second core for embarrassingly parallel work (parsing thousands of files).

One forked child computes the second half while the parent computes the first; the child
inherits the inputs (no pickling of file bytes) and sends back only its results through
a pipe. Anything unusual — no ``fork`` (Windows, macOS defaults), a small input, a child
that dies — falls back to computing everything in this process, so parallelism can only
change speed, never results.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 400  # below this, forking costs more than it saves


def _usable() -> bool:
    return (sys.platform.startswith("linux") and hasattr(os, "fork")
            and (os.cpu_count() or 1) > 1
            and os.environ.get("GOVCTL_PARALLEL", "1") != "0")


def map_halves(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    if len(items) < MIN_ITEMS or not _usable():
        return [function(item) for item in items]
    half = len(items) // 2
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return [function(item) for item in items]
    if pid == 0:  # the child: compute the second half, send it, leave without cleanup
        os.close(read_end)
        status = 0
        try:
            payload = pickle.dumps([function(item) for item in items[half:]],
                                   protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
        except BaseException:  # the parent recomputes whatever we could not send
            status = 1
        os._exit(status)
    os.close(write_end)
    first = [function(item) for item in items[:half]]
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    second: list[R] | None = None
    if status == 0 and payload:
        try:
            second = pickle.loads(payload)  # our own child's output, never outside data
        except Exception:
            second = None
    if second is None or len(second) != len(items) - half:
        second = [function(item) for item in items[half:]]
    return first + second
