"""One typed settings object: env vars ``COUNTERSIGNAL_*`` and an optional TOML file.

The TOML file is read from ``COUNTERSIGNAL_CONFIG`` (default ``./countersignal.toml`` when it
exists); environment variables win over the file.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Limits(BaseSettings):
    """Hostile-input limits, enforced before any decoder runs."""

    model_config = SettingsConfigDict(env_prefix="COUNTERSIGNAL_LIMIT_")

    max_file_bytes: int = 512 * 1024 * 1024
    max_image_bytes: int = 64 * 1024 * 1024
    max_image_pixels: int = 64_000_000
    max_video_bytes: int = 2 * 1024 * 1024 * 1024
    max_video_seconds: int = 4 * 3600
    max_text_bytes: int = 16 * 1024 * 1024
    max_json_bytes: int = 8 * 1024 * 1024
    max_review_chars: int = 200_000  # one news draft for the responsible-reporting review
    max_designation_list_bytes: int = 64 * 1024 * 1024
    # A banked video is hashed every 1/30 s; past this many frames (30 min of it) the interval
    # widens to duration / this, so a 4-hour upload cannot make a 35 MB signal and hours of work.
    max_bank_video_frames: int = 54_000
    video_hash_timeout_s: float = 60.0  # decoding a video for vPDQ: this ...
    video_hash_timeout_per_video_s: float = 2.0  # ... plus this per second of video


class ApiSettings(BaseSettings):
    """The HTTP service: what one caller may send and how often, URL fetching, matcher upkeep."""

    model_config = SettingsConfigDict(env_prefix="COUNTERSIGNAL_API_")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_upload_bytes: int = 256 * 1024 * 1024
    # Per token, per process (see docs/api.md): sustained requests/s and burst; 0 turns it off.
    rate_limit_per_s: float = 50.0
    rate_limit_burst: int = 200
    auth_failures_per_minute: int = 30
    # A token that authenticated is trusted for this long without a database read.
    auth_cache_s: float = 5.0
    matcher_poll_s: float = 0.5
    # Wake on PostgreSQL NOTIFY from the change log (polling stays as the fallback).
    matcher_listen: bool = True
    # Snapshot the matcher this often (seconds, when changed; 0: never) and at shutdown.
    matcher_snapshot_s: float = 300.0
    metrics_public: bool = False
    # Fetching content by URL (SSRF risk): off unless switched on, allow-listed hosts only.
    fetch_enabled: bool = False
    fetch_allowed_hosts: list[str] = Field(default_factory=list)
    fetch_max_bytes: int = 32 * 1024 * 1024
    fetch_timeout_s: float = 10.0
    # Tests only: lets the fetcher reach loopback/private addresses. Never in production.
    fetch_allow_private: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COUNTERSIGNAL_", env_nested_delimiter="__")

    home: Path = Field(default=Path("./.countersignal"), description="data directory")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite in home")
    index_dir: Path | None = None
    # Serving a PDQ bank larger than one machine: split it across this many Ray actors
    # (index.sharded); 0 keeps one in-process index. ray_address: an existing cluster
    # ("ray://host:10001" or "auto"); unset starts a local Ray on first use.
    index_pdq_shards: int = Field(default=0, ge=0)
    index_shard_cpus: float = Field(default=1.0, gt=0)
    ray_address: str | None = None
    refdata: Path = Field(default=Path("../shared/data"), description="reference data for evals")
    organisation: str = Field(
        default="", description="organisation (id or name) the CLI acts for; default the demo one"
    )
    web_secure_cookies: bool = Field(
        default=True, description="mark UI cookies Secure (browsers allow them on localhost)"
    )
    limits: Limits = Field(default_factory=Limits)
    api: ApiSettings = Field(default_factory=ApiSettings)
    # classify: fetching designation lists over the network is off unless switched on
    designations_fetch_enabled: bool = False
    designations_url: str = "https://scsanctions.un.org/resources/xml/en/consolidated.xml"
    designations_fetch_timeout_s: float = 60.0
    # actions: evidence-vault key (base64, 32 bytes) or a key file (default home/vault.key,
    # created 0600 on first use); never logged
    vault_key: SecretStr | None = None
    vault_key_file: Path | None = None
    vault_dir: Path | None = None
    # actions: run the webhook/escalation/retention worker inside the API process (embedded
    # default); production may also run `countersignal worker` processes (safe together)
    worker_in_process: bool = True

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.home.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.home / 'countersignal.db').resolve()}"

    @property
    def effective_index_dir(self) -> Path:
        path = self.index_dir or (self.home / "indexes")
        path.mkdir(parents=True, exist_ok=True)
        return path


def _toml_values() -> dict:
    path = Path(os.environ.get("COUNTERSIGNAL_CONFIG", "countersignal.toml"))
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (env over TOML over defaults)."""
    file_values = _toml_values()
    env_set = {k for k in Settings.model_fields if f"COUNTERSIGNAL_{k.upper()}" in os.environ}
    return Settings(**{k: v for k, v in file_values.items() if k not in env_set})
