"""The running system's shared parts: database engine, sessions and the matcher.

The CLI, the API and workers each build one ``Runtime`` from the settings; service functions
take its session factory and matcher explicitly, so nothing hides in globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from countersignal.db import make_engine, migrate, session_factory
from countersignal.settings import Settings, get_settings


@dataclass
class Runtime:
    settings: Settings = field(default_factory=get_settings)
    auto_migrate: bool = True

    @cached_property
    def database_url(self) -> str:
        return self.settings.effective_database_url

    @cached_property
    def engine(self) -> Engine:
        if self.auto_migrate:
            migrate(self.database_url)
        return make_engine(self.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @cached_property
    def matcher(self):
        from countersignal.index.matcher import Matcher

        settings = self.settings
        kinds = {}
        if settings.index_pdq_shards:
            from countersignal.index.sharded import sharded_kind

            kinds["pdq"] = sharded_kind(
                settings.index_pdq_shards, settings.index_shard_cpus, settings.ray_address
            )
        return Matcher(self.sessions, settings.effective_index_dir, kinds=kinds).load()

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
