"""``countersignal serve``: the HTTP API under uvicorn.

On the embedded default (no ``COUNTERSIGNAL_DATABASE_URL``) it migrates, seeds a demo
organisation with a bank and an admin token, and starts. With a database URL it migrates and
starts; seed explicitly with ``--demo``. The demo token is written once to
``<home>/demo-token`` (mode 0600), never to the terminal or the server's log: only its path is
printed. While it runs, ``serve`` holds the home's service lock (shared), so ``restore`` can
tell that the deployment is live.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer

from countersignal.cli.common import err, out

DEMO_BANK = "demo"
DEMO_TOKEN_FILE = "demo-token"


def save_demo_token(home: Path, secret: str) -> Path:
    """Write the demo token to ``<home>/demo-token``, mode 0600 from its creation (a temporary
    file made with that mode, then renamed over any older one)."""
    home.mkdir(parents=True, exist_ok=True)
    path = (home / DEMO_TOKEN_FILE).resolve()
    tmp = path.with_name(f".{DEMO_TOKEN_FILE}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def seed_demo(sessions, home: Path | None = None) -> str | None:
    """Demo organisation, admin token and one bank; the token secret when newly made, which is
    then also saved to ``<home>/demo-token`` (default: this process's home), since nothing
    shows it again."""
    from sqlalchemy import select

    from countersignal.audit import Target, record
    from countersignal.auth import Principal, ensure_demo
    from countersignal.auth.demo import DEMO_ORGANISATION
    from countersignal.auth.models import Organisation
    from countersignal.banks.models import Bank
    from countersignal.banks.service import create_bank

    with sessions.begin() as session:
        secret = ensure_demo(session)
        org_id = session.scalar(
            select(Organisation.id).where(Organisation.name == DEMO_ORGANISATION)
        )
        exists = session.scalar(
            select(Bank.id).where(Bank.organisation_id == org_id, Bank.name == DEMO_BANK)
        )
        if not exists:
            bank = create_bank(session, organisation_id=org_id, name=DEMO_BANK,
                               description="Demo bank: add signals and match against them")
            record(session, actor=Principal.system("demo").actor, action="bank.create",
                   target=Target("bank", bank.id), organisation_id=org_id,
                   details={"name": bank.name})
    if secret:
        if home is None:
            from countersignal.settings import get_settings

            home = get_settings().home
        save_demo_token(home, secret)
    return secret


def serve(
    host: Annotated[str | None, typer.Option(help="address to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000)")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="worker processes")] = None,
    demo: Annotated[
        bool | None, typer.Option(help="seed the demo org, bank and token (default: embedded DB)")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the HTTP API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    from countersignal.backup.liveness import hold_service_lock
    from countersignal.db import make_engine, migrate, session_factory
    from countersignal.settings import get_settings

    settings = get_settings()
    lock = hold_service_lock(settings)  # held (shared) until this process ends
    url = settings.effective_database_url
    migrate(url)
    if demo if demo is not None else not settings.database_url:
        engine = make_engine(url)
        try:
            secret = seed_demo(session_factory(engine), settings.home)
        finally:
            engine.dispose()
        token_file = (settings.home / DEMO_TOKEN_FILE).resolve()
        if secret:
            out.print("[bold]Demo organisation created.[/] Its admin API token is in a file "
                      "only you can read (it is not printed):")
        if token_file.is_file():
            out.print(f"  cat {token_file}", markup=False, highlight=False, soft_wrap=True)
    host = host or settings.api.host
    port = port or settings.api.port
    workers = workers or settings.api.workers
    if workers > 1:
        _share_metrics(settings.home)
    err.print(f"serving on http://{host}:{port} (docs at /docs)")
    uvicorn.run(
        "countersignal.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        server_header=False,
    )
    lock.close()


def _share_metrics(home: Path) -> None:
    """Workers write request metrics to one folder so that any worker's /metrics reports
    them all (prometheus_client multiprocess mode). Set before the workers start; wiped at
    each start, as that mode requires. An operator's own PROMETHEUS_MULTIPROC_DIR wins."""
    from countersignal.api.metrics import MULTIPROCESS_ENV

    if os.environ.get(MULTIPROCESS_ENV):
        return
    folder = (home / "run" / "metrics").resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROCESS_ENV] = str(folder)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
