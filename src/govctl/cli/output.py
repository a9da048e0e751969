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


def _safe_text(line: Text) -> Text:
    """The line with control characters neutralised (same length: styles stay aligned)."""
    from govctl.model.escape import has_control, terminal_safe

    if not has_control(line.plain):
        return line
    safe = line.copy()
    safe.plain = terminal_safe(line.plain)
    return safe


def print_lines(lines: Iterable[Text]) -> None:
    console = stdout_console()
    for line in lines:
        console.print(_safe_text(line))


def write(payload: str) -> None:
    """A payload for stdout. JSON escapes control characters itself; markdown and YAML
    carry record text, which must not reach a terminal as escape sequences."""
    from govctl.model.escape import terminal_safe

    sys.stdout.write(terminal_safe(payload))
    sys.stdout.flush()
