"""Entry point: ``govctl`` and ``python -m govctl``.

Kept import-light: ``--version`` answers before typer, rich or jsonschema are imported.
Expected failures print one line on stderr; ``--debug`` (anywhere on the command line,
or ``GOVCTL_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

from govctl import __version__


def _error(message: str, debug: bool = False) -> None:
    """The one-line error; with ``--debug`` the traceback first. The exit code is the same
    either way: scripts must not read a usage error (2) as findings (1) in debug runs."""
    if debug:
        import traceback

        traceback.print_exc(file=sys.stderr)
    sys.stderr.write(f"govctl: error: {message}\n")


SUMMARY = ("Executable AI governance: who approved this model for this use case, how it is "
           "performing against the thresholds it was approved under, and who is on the hook.")

# The top-level help, printed without importing typer or rich (GUIDE §5: `govctl --help`
# within 150 ms). tests/test_cli_startup.py keeps it equal to the registered commands.
COMMANDS = (
    ("init", "Scaffold a minimal governance repository that validates clean."),
    ("validate", "Check every record: YAML, schemas, references, approvals, policy (SPEC §2)."),
    ("digest", "Print a bundle's digest (SPEC §1.3): what production logs with every "
               "inference."),
    ("approve", "Record an approval bound to the current bundle, contract and eval digests."),
    ("diff", "Semantic diff of the records between two revisions, for pull-request review."),
    ("history", "Timeline of every commit touching a use case or anything it depends on."),
    ("trace", "Which bundle, use case and approvals a digest belongs to, searching history."),
    ("card", "A living model card (Mitchell et al.) regenerated from the records."),
    ("audit-pack", "A tamper-evident audit pack: the three answers, timelines, evidence, "
                   "mapping."),
    ("verify", "Check an audit pack against its manifest (and the repository, when at hand)."),
    ("status", "Every use case: approval state, owner, on-call, each signal vs its threshold."),
    ("explain", "The three answers: who approved it, how it performs, who is on the hook."),
    ("schema", "Print the JSON Schema (2020-12) of a record kind."),
    ("export", "Compile contracts into monitoring configuration."),
)


def top_level_help() -> str:
    width = max(len(name) for name, _ in COMMANDS) + 2
    lines = ["Usage: govctl [OPTIONS] COMMAND [ARGS]...", "", f"  {SUMMARY}", "",
             "Options:", "  -V, --version  Show the version and exit.",
             "  -h, --help     Show this message and exit.", "", "Commands:"]
    lines += [f"  {name.ljust(width)}{summary}" for name, summary in COMMANDS]
    lines += ["", "Every command takes --root DIR; run `govctl COMMAND --help` for its options."]
    return "\n".join(lines) + "\n"


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
