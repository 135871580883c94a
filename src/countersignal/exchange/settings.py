"""Exchange settings (env ``COUNTERSIGNAL_EXCHANGE_*``), kept beside the code that reads them."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ExchangeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COUNTERSIGNAL_EXCHANGE_")

    dispute_threshold: int = Field(
        default=1,
        ge=1,
        description="trusted partners disputing a signal before it stops auto-actions",
    )
    settle_seconds: float = Field(
        default=2.0,
        ge=0,
        description="the TAXII server holds back objects younger than this, so a transaction "
        "that commits late never lands behind a client's added_after checkpoint",
    )
    page_limit: int = Field(default=500, ge=1, le=10_000, description="objects per TAXII page")
    max_page_limit: int = Field(default=10_000, ge=1)
    poll_seconds: float = Field(default=30.0, gt=0, description="default partner poll interval")
    max_backoff_seconds: float = Field(default=3600.0, gt=0)
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    max_response_bytes: int = Field(default=64 * 1024 * 1024, gt=0)


@lru_cache
def get_exchange_settings() -> ExchangeSettings:
    return ExchangeSettings()
