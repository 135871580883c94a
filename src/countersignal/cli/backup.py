"""``countersignal backup DEST`` / ``countersignal restore SRC``: the whole deployment
(database, index snapshots, vault blobs) with a checked manifest. See docs/reliability.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from countersignal.cli.common import err, out


def backup_command(
    dest: Annotated[Path, typer.Argument(help="new folder, or an archive (.tar, .tar.gz, .tgz)")],
    include_keys: Annotated[
        bool, typer.Option(help="also store the vault key (then guard the backup like the key)")
    ] = False,
) -> None:
    """Back up the database, index snapshots and evidence vault (safe while serving)."""
    from countersignal.backup import create_backup
    from countersignal.settings import get_settings

    manifest = create_backup(get_settings(), dest, include_keys=include_keys)
    size = sum(p["bytes"] for p in manifest.parts.values())
    out.print(f"backup written to {dest}: {len(manifest.parts)} parts, {size:,} bytes, "
              f"{sum(manifest.row_counts.values()):,} rows")
    if not include_keys and manifest.vault_key_id:
        err.print(f"the vault key ({manifest.vault_key_id}) is NOT in the backup: keep a copy "
                  "of it apart, or the evidence cannot be read after a restore")


def restore_command(
    src: Annotated[Path, typer.Argument(help="a backup folder or archive")],
    force: Annotated[
        bool, typer.Option(help="replace a non-empty database / a different vault key")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="only verify the backup's parts; change nothing")
    ] = False,
    allow_running: Annotated[
        bool,
        typer.Option(help="restore even though a service is running on this deployment "
                     "(it then serves stale state until restarted)"),
    ] = False,
) -> None:
    """Restore a backup into this deployment. Refused while `countersignal serve` runs on it
    (or, on PostgreSQL, while others are connected to the database): stop the service first."""
    from countersignal.backup import restore_backup, verify_backup
    from countersignal.settings import get_settings

    if check:
        manifest = verify_backup(src)
        out.print(f"backup intact: {len(manifest.parts)} parts match their sha256")
        return
    manifest = restore_backup(get_settings(), src, force=force, allow_running=allow_running)
    out.print(f"restored {sum(manifest.row_counts.values()):,} rows in "
              f"{len(manifest.row_counts)} tables (counts checked), index at seq "
              f"{manifest.index_seq}")
    for note in manifest.notes:
        err.print(f"[yellow]note:[/] {note}")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
