"""Backup and restore of one deployment: database, index snapshots, vault blobs, manifest.

    from countersignal.backup import create_backup, restore_backup, verify_backup

    manifest = create_backup(settings, Path("backup-2026-11-29.tar.gz"))
    restore_backup(other_settings, Path("backup-2026-11-29.tar.gz"))

See :mod:`countersignal.backup.archive` for the layout and the order parts are taken in.
"""

from countersignal.backup.archive import (
    Manifest,
    create_backup,
    restore_backup,
    verify_backup,
)

__all__ = ["Manifest", "create_backup", "restore_backup", "verify_backup"]
