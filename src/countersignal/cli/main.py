"""The ``countersignal`` command (Typer). Thin: every command calls a service function."""

import typer

app = typer.Typer(no_args_is_help=True, help="Countersignal: TVEC signals, banks, matching.")


@app.command()
def version() -> None:
    """Print the version."""
    from countersignal import __version__

    typer.echo(__version__)
