"""The ``countersignal`` command (Typer). Thin: every command calls a service function.

Each capability keeps its commands in ``countersignal/cli/<capability>.py`` and registers them
in ``register()`` below, so the command tree shows the architecture. ``run`` maps the one
exception family to exit codes and clear messages.
"""

from __future__ import annotations

import sys

import typer

from countersignal.errors import CountersignalError

app = typer.Typer(
    no_args_is_help=True,
    help="Countersignal: hash, bank, match and share signals of terrorist content.",
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print the version."""
    from countersignal import __version__

    typer.echo(__version__)


def register() -> None:
    """Attach each capability's commands (one import per line keeps merges trivial)."""
    import importlib

    for module in (
        "countersignal.cli.core",
        "countersignal.cli.banks",
        "countersignal.cli.admin",
        "countersignal.cli.audit",
        "countersignal.cli.backfill",
        "countersignal.cli.exchange",
        "countersignal.cli.serve",
        "countersignal.cli.review",
        "countersignal.cli.cases",
        "countersignal.cli.classify",
        "countersignal.cli.backup",
    ):
        importlib.import_module(module).register(app)


register()


def run() -> None:
    """Console entry point."""
    try:
        app()
    except CountersignalError as exc:
        typer.secho(f"error: {exc.message}", fg="red", err=True)
        sys.exit(exc.exit_code)
