"""A backup is a folder (or a ``.tar``/``.tar.gz`` of one) holding:

* ``indexes/`` — match index snapshots and their ``matcher.json``, taken **first**, so they
  reflect a change-log position at or before the database dump; a restored matcher replays
  the rest of the log (never the other way round, which would skip signals);
* ``database.sqlite`` or ``database.pgdump`` — one consistent snapshot of the database;
* ``vault/`` — the encrypted evidence blobs, copied **after** the dump, so every blob a dumped
  vault entry names is there (blobs are written before their entries commit);
* ``keys/vault.key`` — only with ``include_keys``: the vault key otherwise stays out of the
  backup, so a stolen backup holds only ciphertext; keep the key file apart (see
  docs/reliability.md);
* ``manifest.json`` — the sha256 and size of every part, the rows per table in the dump and
  the vault key's id (a fingerprint, not the key).

Parts are staged in a hidden ``.DEST.*.partial`` folder beside ``DEST``, which is renamed to
``DEST`` when complete (or packed into a temporary archive that ``os.replace`` puts at
``DEST``): an interrupted backup never looks like a finished one.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from countersignal import __version__
from countersignal.actions.crypto import Keyring
from countersignal.backup import database
from countersignal.backup.liveness import claim_for_restore
from countersignal.db import utcnow
from countersignal.errors import Conflict, InvalidInput
from countersignal.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
KEY_PART = "keys/vault.key"
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")


@dataclass
class Manifest:
    format: int
    created_at: str
    countersignal_version: str
    dialect: str
    database_part: str
    row_counts: dict[str, int]
    vault_key_id: str | None
    includes_keys: bool
    index_seq: int | None
    parts: dict[str, dict] = field(default_factory=dict)  # relative path -> {sha256, bytes}
    notes: list[str] = field(default_factory=list)  # what a restore wants the operator to know

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("notes")
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise InvalidInput(f"backup format {data.get('format')!r} is not {FORMAT}")
        return cls(**data)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path


def _is_temporary(path: Path) -> bool:
    """Half-written files of the writers being copied (index ``.x.tmp``, vault ``.tmpPID``)."""
    return path.name.startswith(".") or path.suffix.startswith(".tmp")


def _key_material(settings: Settings) -> bytes | None:
    """The vault key as stored (base64 text), without creating one."""
    if settings.vault_key is not None:
        return settings.vault_key.get_secret_value().encode()
    path = settings.vault_key_file or settings.home / "vault.key"
    return path.read_bytes().strip() if path.is_file() else None


def _key_id(material: bytes | None) -> str | None:
    return None if material is None else Keyring(base64.urlsafe_b64decode(material)).key_id


# --- taking a backup -----------------------------------------------------------------------


@contextmanager
def _index_folder_lock(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """The matcher's snapshot-folder lock (``flock`` on its lock file), so a copy never mixes
    index files and a manifest from two different saves."""
    from countersignal.index.matcher import LOCK_FILE

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _snapshot_indexes(settings: Settings, folder: Path) -> int:
    """Snapshots of the current banks in ``folder``: the live snapshot (copied under the
    matcher's folder lock) brought up to the change log's head, else rebuilt from the log."""
    from countersignal.db import make_engine, session_factory
    from countersignal.index.matcher import MANIFEST as INDEX_MANIFEST
    from countersignal.index.matcher import Matcher

    live = settings.effective_index_dir
    folder.mkdir(parents=True)
    with _index_folder_lock(live, exclusive=False):
        manifest = live / INDEX_MANIFEST
        if manifest.is_file():
            for name in [f"{t}.idx" for t in json.loads(manifest.read_bytes())["types"]]:
                if (live / name).is_file():
                    shutil.copy2(live / name, folder / name)
            shutil.copy2(manifest, folder / INDEX_MANIFEST)
    engine = make_engine(settings.effective_database_url)
    try:
        try:
            matcher = Matcher(session_factory(engine), folder).load()
        except InvalidInput:  # a corrupt live snapshot: rebuild from the log alone
            for path in [p for p in folder.iterdir() if p.is_file()]:
                path.unlink()
            matcher = Matcher(session_factory(engine), folder).load()
        matcher.save()
        return matcher.applied_seq
    finally:
        engine.dispose()


def _copy_vault(settings: Settings, folder: Path) -> None:
    root = settings.vault_dir or settings.home / "vault"
    folder.mkdir(parents=True)
    if not root.is_dir():
        return
    for path in _files(root):
        if _is_temporary(path):
            continue
        target = folder / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _stage(settings: Settings, folder: Path, include_keys: bool) -> Manifest:
    url = settings.effective_database_url
    index_seq = _snapshot_indexes(settings, folder / "indexes")
    part, counts = database.dump(url, folder)
    _copy_vault(settings, folder / "vault")
    material = _key_material(settings)
    if include_keys:
        if material is None:
            raise InvalidInput("--include-keys given but this deployment has no vault key yet")
        (folder / "keys").mkdir()
        key_path = folder / KEY_PART
        key_path.write_bytes(material + b"\n")
        key_path.chmod(0o600)
    manifest = Manifest(
        format=FORMAT,
        created_at=utcnow().isoformat(),
        countersignal_version=__version__,
        dialect=database.dialect(url),
        database_part=part,
        row_counts=counts,
        vault_key_id=_key_id(material),
        includes_keys=include_keys,
        index_seq=index_seq,
    )
    for path in _files(folder):
        if _is_temporary(path):  # e.g. the matcher's lock file in the staged index folder
            path.unlink()
            continue
        manifest.parts[path.relative_to(folder).as_posix()] = {
            "sha256": _sha256(path), "bytes": path.stat().st_size
        }
    (folder / MANIFEST).write_text(manifest.to_json())
    return manifest


def _is_archive(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES)


def create_backup(settings: Settings, dest: Path, *, include_keys: bool = False) -> Manifest:
    """Back up the deployment ``settings`` describes to ``dest`` (a new folder, or an archive
    when it ends in .tar, .tar.gz or .tgz). Safe while the service runs."""
    dest = Path(dest)
    if dest.exists():
        raise Conflict(f"{dest} already exists; back up to a new path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        manifest = _stage(settings, staging, include_keys)
        if _is_archive(dest):
            tmp = dest.with_name(f".{dest.name}.tmp")
            mode = "w:gz" if dest.name.endswith(("gz", ".tgz")) else "w"
            with tarfile.open(tmp, mode) as tar:
                for path in _files(staging):
                    tar.add(path, arcname=path.relative_to(staging).as_posix())
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        else:
            for path in _files(staging):
                with path.open("rb") as fh:
                    os.fsync(fh.fileno())
            os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


# --- checking and restoring ------------------------------------------------------------------


@contextmanager
def _opened(src: Path) -> Iterator[Path]:
    """The backup's folder: ``src`` itself, or an archive unpacked (paths confined to it)."""
    src = Path(src)
    if src.is_dir():
        yield src
        return
    if not src.is_file():
        raise InvalidInput(f"no backup at {src}")
    with tempfile.TemporaryDirectory(prefix="countersignal-restore-") as tmp:
        try:  # the "data" filter refuses ../, absolute names, links outside, devices
            with tarfile.open(src) as tar:
                tar.extractall(tmp, filter="data")
        except tarfile.TarError as exc:
            raise InvalidInput(f"{src} is not a usable backup archive: {exc}") from None
        yield Path(tmp)


def _check(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise InvalidInput(f"{folder} has no {MANIFEST}: not a Countersignal backup")
    manifest = Manifest.from_json(path.read_text())
    present = {p.relative_to(folder).as_posix() for p in _files(folder)} - {MANIFEST}
    if missing := sorted(set(manifest.parts) - present):
        raise InvalidInput(f"backup is incomplete: missing {', '.join(missing[:5])}")
    if extra := sorted(present - set(manifest.parts)):
        raise InvalidInput(f"backup holds files its manifest does not list: {extra[:5]}")
    for name, part in manifest.parts.items():
        if _sha256(folder / name) != part["sha256"]:
            raise InvalidInput(f"backup part {name} does not match its sha256 (damaged?)")
    return manifest


def verify_backup(src: Path) -> Manifest:
    """Check every part of a backup against its manifest (sha256, nothing missing or extra)."""
    with _opened(src) as folder:
        return _check(folder)


def _restore_key(settings: Settings, folder: Path, manifest: Manifest, force: bool) -> None:
    current = _key_material(settings)
    current_id = _key_id(current)
    if manifest.vault_key_id is None or current_id == manifest.vault_key_id:
        return
    if manifest.includes_keys and current is None:
        path = settings.vault_key_file or settings.home / "vault.key"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write((folder / KEY_PART).read_bytes())
            fh.flush()
            os.fsync(fh.fileno())
        return
    if current is not None and not force:
        raise Conflict(
            f"this deployment's vault key ({current_id}) is not the backup's "
            f"({manifest.vault_key_id}): its evidence would not open; install the backup's key "
            "first, or pass --force"
        )
    manifest.notes.append(
        f"the vault key {manifest.vault_key_id} is not in this backup: put it in place "
        "(COUNTERSIGNAL_VAULT_KEY or the key file) before evidence can be read"
    )


def _replace_folder(source: Path, target: Path, last: str = "") -> None:
    """Put ``source``'s files in ``target``, each through a temporary name and os.replace;
    the file named ``last`` (a manifest naming the others) goes in after them all."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(_files(source), key=lambda p: p.name == last):
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.restore.tmp")
        shutil.copy2(path, tmp)
        os.replace(tmp, dest)


def restore_backup(
    settings: Settings, src: Path, *, force: bool = False, allow_running: bool = False
) -> Manifest:
    """Restore a backup into the deployment ``settings`` describes (stop the service first).

    Checks every part first; refuses while a service runs on the deployment (its service lock
    is held, or other clients are connected to a PostgreSQL target) unless ``allow_running``,
    and keeps the lock so none starts meanwhile; refuses a non-empty database, or a vault key
    that would not open the evidence, unless ``force``; afterwards checks the rows per table
    against the manifest.
    """
    with _opened(src) as folder:
        manifest = _check(folder)
        url = settings.effective_database_url
        if database.dialect(url) != manifest.dialect:
            raise InvalidInput(f"this backup is of a {manifest.dialect} database; "
                               f"the target is {database.dialect(url)}")
        with claim_for_restore(settings, allow_running=allow_running) as lock:
            if lock.fd is None:
                manifest.notes.append(
                    "restored while a service was running on this deployment "
                    "(--allow-running): restart it now, or it serves stale state"
                )
            _restore_into(settings, folder, manifest, force)
    counts = database.table_counts(url)
    if counts != manifest.row_counts:
        differ = sorted(t for t in set(counts) | set(manifest.row_counts)
                        if counts.get(t) != manifest.row_counts.get(t))
        raise Conflict(f"restored row counts differ from the backup's in {differ[:5]}")
    return manifest


def _restore_into(settings: Settings, folder: Path, manifest: Manifest, force: bool) -> None:
    from countersignal.index.matcher import MANIFEST as INDEX_MANIFEST

    url = settings.effective_database_url
    if not force and not database.is_empty(url):
        raise Conflict("the target database is not empty; restore into an empty one, or "
                       "pass --force to replace its contents")
    _restore_key(settings, folder, manifest, force)
    database.restore(url, folder / manifest.database_part, force=force)
    _replace_folder(folder / "vault", settings.vault_dir or settings.home / "vault")
    index_dir = settings.effective_index_dir
    with _index_folder_lock(index_dir, exclusive=True):
        (index_dir / INDEX_MANIFEST).unlink(missing_ok=True)  # never old manifest, new idx
        for stale in index_dir.glob("*.idx"):
            stale.unlink()
        _replace_folder(folder / "indexes", index_dir, last=INDEX_MANIFEST)
