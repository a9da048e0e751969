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


def print_lines(lines: Iterable[Text], err: bool = False) -> None:
    """Reporter lines to stdout (or stderr), each one line whatever its values hold
    (SPEC §3)."""
    from govctl.report.terminal import safe_line

    console = stderr_console() if err else stdout_console()
    for line in lines:
        console.print(safe_line(line))


def say(text: str, err: bool = False) -> None:
    """One plain line (a confirmation, a verify result) with its values made safe."""
    from govctl.model.escape import printable

    stream = sys.stderr if err else sys.stdout
    stream.write(printable(text) + "\n")
    stream.flush()


def write(payload: str) -> None:
    """A payload for stdout (JSON, Markdown, YAML): its own lines stay; any control or
    invisible format character left in it is escaped, so nothing in it can drive a
    terminal. Values inside are escaped for their format by the reporter."""
    from govctl.model.escape import terminal_safe

    sys.stdout.write(terminal_safe(payload))
    sys.stdout.flush()
