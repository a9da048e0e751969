"""The typer application: each command parses options, calls the core, picks a reporter."""

from __future__ import annotations

import typer

from govctl import __version__
from govctl.cli import (
    approve_cmd,
    digest_cmd,
    history_cmds,
    init_cmd,
    monitor_cmds,
    render_cmds,
    schema_cmd,
    validate_cmd,
)
from govctl.cli.help import SUMMARY


def _version(value: bool) -> None:
    if value:
        typer.echo(f"govctl {__version__}")
        raise typer.Exit(0)


app = typer.Typer(
    name="govctl",
    help=SUMMARY,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """govctl: AI governance records, checked."""


init_cmd.register(app)
validate_cmd.register(app)
digest_cmd.register(app)
approve_cmd.register(app)
history_cmds.register(app)
render_cmds.register(app)
monitor_cmds.register(app)
schema_cmd.register(app)
