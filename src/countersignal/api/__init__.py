"""The HTTP service (FastAPI): ``create_app()``; run it with ``countersignal serve``."""

from countersignal.api.app import create_app

__all__ = ["create_app"]
