"""Entry point: ``govctl`` and ``python -m govctl``.

Kept import-light: ``--version`` answers before typer, rich or jsonschema are imported.
Expected failures print one line on stderr; ``--debug`` (anywhere on the command line,
or ``GOVCTL_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

from govctl import __version__
from govctl.cli.help import top_level_help


def _error(message: str, debug: bool = False) -> None:
    """The one-line error; with ``--debug`` the traceback first. The exit code is the same
    either way: scripts must not read a usage error (2) as findings (1) in debug runs."""
    if debug:
        import traceback

        traceback.print_exc(file=sys.stderr)
    from govctl.model.escape import printable

    # one line, whatever a path, an id or an argument in the message holds (SPEC §3)
    sys.stderr.write(f"govctl: error: {printable(message)}\n")


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(sys.argv[1:] if argv is None else list(argv)))


def run(args: list[str]) -> int:
    if args in (["--version"], ["-V"]):
        sys.stdout.write(f"govctl {__version__}\n")
        return 0
    if args in (["--help"], ["-h"], []):
        (sys.stdout if args else sys.stderr).write(top_level_help())
        return 0 if args else 2  # no command at all is a usage error
    debug = os.environ.get("GOVCTL_DEBUG") == "1"
    if "--debug" in args:
        cut = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:cut]:
            debug = True
            args = [a for i, a in enumerate(args) if a != "--debug" or i >= cut]

    import typer

    from govctl.cli.app import app
    from govctl.errors import GovctlError

    # typer >= 0.17 vendors click; find its exception base through typer's public classes
    click_exception = next(c for c in typer.BadParameter.__mro__
                           if c.__name__ == "ClickException")

    try:
        result = app(args=args, prog_name="govctl", standalone_mode=False)
    except GovctlError as exc:
        _error(exc.message, debug)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _error("aborted")
        return 2
    except click_exception as exc:
        message = exc.format_message()
        if message:  # empty when click already printed the help (no arguments given)
            command = exc.ctx.command_path if getattr(exc, "ctx", None) else "govctl"
            _error(f"{message} (see '{command} --help')", debug)
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # a bug: still one line, with the way to a report
        _error(f"internal error: {type(exc).__name__}: {exc} "
               "(rerun with --debug for a traceback and please report it)", debug)
        return 2
    return result if isinstance(result, int) else 0
