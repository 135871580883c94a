"""The ``countersignal`` command (Typer). Thin: every command calls a service function.

Each capability keeps its commands in ``countersignal/cli/<capability>.py`` and registers them
in ``register()`` below, so the command tree shows the architecture.
"""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Countersignal: TVEC signals, banks, matching.")


@app.command()
def version() -> None:
    """Print the version."""
    from countersignal import __version__

    typer.echo(__version__)


def register() -> None:
    """Attach each capability's commands (one import per line keeps merges trivial)."""
    import importlib

    for module in (
        # "countersignal.cli.<capability>",  each exposes register(app)
    ):
        importlib.import_module(module).register(app)


register()
