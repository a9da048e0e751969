"""Expected failures: a one-line message for the user and an exit code (SPEC §3)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class GovctlError(Exception):
    """A usage or environment error: printed as one line, never as a traceback.

    ``exit_code`` is 2 (usage/environment) unless the caller says otherwise, e.g. 1 for
    a refused approval or an unknown digest in ``trace``.
    """

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
