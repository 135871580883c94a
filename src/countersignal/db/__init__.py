"""Database plumbing: one declarative ``Base``, engines, sessions and migrations.

Every package keeps its tables in its own ``models.py`` on this ``Base``; Alembic migrations
(``countersignal/db/migrations``) are the only way the schema changes.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """Opaque, URL-safe, sortable-enough id such as ``bank_3f9c...``."""
    return f"{prefix}_{secrets.token_hex(10)}"


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def id_column_type() -> String:
    return String(40)


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with sane defaults for SQLite (WAL, FK on) and PostgreSQL (pre-ping)."""
    if "poolclass" not in kwargs and url not in ("sqlite://", "sqlite:///:memory:"):
        # A busy API process has up to 40 request threads reading (anyio's default); with
        # SQLAlchemy's default 5 pooled connections the rest were opened and closed per request
        # (for SQLite with its PRAGMAs, for PostgreSQL a new backend each time).
        sqlite = url.startswith("sqlite")
        kwargs.setdefault("pool_size", 32 if sqlite else 10)
        kwargs.setdefault("max_overflow", 16 if sqlite else 20)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def import_all_models() -> None:
    """Import every package's models so ``Base.metadata`` is complete (for Alembic)."""
    import importlib
    import pkgutil

    import countersignal

    for mod in pkgutil.iter_modules(countersignal.__path__):
        try:
            importlib.import_module(f"countersignal.{mod.name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"countersignal.{mod.name}.models":
                raise


def migrate(url: str, revision: str = "heads") -> None:
    """Upgrade the database at ``url`` to ``revision`` with Alembic."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def alembic_config(url: str):
    from pathlib import Path

    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg
