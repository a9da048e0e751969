"""Writing to the terminal: rich on a TTY, plain text when piped; payloads on stdout."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported when something is printed, not at start-up
    from rich.console import Console
    from rich.text import Text


def stdout_console() -> Console:
    from rich.console import Console

    # soft_wrap: never insert line breaks into findings; highlight off: colour only where
    # the reporter put it (and it never carries meaning alone).
    return Console(file=sys.stdout, soft_wrap=True, highlight=False)


def stderr_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, soft_wrap=True, highlight=False)


def print_lines(lines: Iterable[Text]) -> None:
    console = stdout_console()
    for line in lines:
        console.print(line)


def write(payload: str) -> None:
    sys.stdout.write(payload)
    sys.stdout.flush()
