"""Using the second core for embarrassingly parallel work (parsing thousands of files).

One forked child computes the second half while the parent computes the first; the child
inherits the inputs (no pickling of file bytes) and sends back only its results through
a pipe. Anything unusual — no ``fork`` (Windows, macOS defaults), a small input, a child
that dies — falls back to computing everything in this process, so parallelism can only
change speed, never results.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 400  # below this, forking costs more than it saves


def _usable() -> bool:
    return (sys.platform.startswith("linux") and hasattr(os, "fork")
            and (os.cpu_count() or 1) > 1
            and os.environ.get("GOVCTL_PARALLEL", "1") != "0"
            # a fork copies only this thread: a lock another thread holds (logging, an
            # import) would stay locked in the child forever, and the parent waits on it
            and threading.active_count() == 1)


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
    done = False
    try:
        first = [function(item) for item in items[:half]]
        with os.fdopen(read_end, "rb") as pipe:
            read_end = -1  # the file object owns it now
            payload = pipe.read()
        done = True
    finally:
        # also when the first half raised (or Ctrl-C): stop the child and reap it, so it
        # neither lingers as a zombie nor blocks forever writing to a pipe nobody reads
        if read_end >= 0:
            os.close(read_end)
        if not done:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
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
