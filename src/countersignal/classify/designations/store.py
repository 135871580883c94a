"""Designation lists in the database: versioned loads with diffs, search, and the lists each
organisation has enabled.

A load compares the new list with the designations stored for that list by reference number:
new references are *added*, a different fingerprint is *changed*, references missing from the
new list are *de-listed* (kept, marked inactive, with the version that removed them). Loading
the same bytes as the newest version records nothing new (loading an older file again is a
new version: the list went back).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from countersignal.classify.designations.parse import (
    DesignationRecord,
    ParsedList,
    guess_format,
    parse_list,
)
from countersignal.classify.models import (
    Designation,
    DesignationAlias,
    DesignationList,
    ListVersion,
    OrganisationList,
)
from countersignal.errors import ContentTooLarge, InvalidInput, NotFound
from countersignal.settings import get_settings

UN_LIST_NAME = "UN Security Council Consolidated List"


@dataclass(frozen=True)
class LoadResult:
    """What a load did: the version row (new or the identical earlier one) and the diff."""

    list_name: str
    version_id: str
    sequence: int
    unchanged: bool
    total: int
    added: tuple[str, ...]
    changed: tuple[str, ...]
    delisted: tuple[str, ...]


def _aliases_for(record: DesignationRecord) -> list[DesignationAlias]:
    rows = [DesignationAlias(name=record.name, quality="primary")]
    if record.original_script_name:
        rows.append(DesignationAlias(name=record.original_script_name, quality="original"))
    rows += [DesignationAlias(name=n, quality=q) for n, q in record.aliases]
    return rows


def _get_or_create_list(
    session: Session, name: str, list_format: str, source_url: str | None
) -> DesignationList:
    found = session.scalar(select(DesignationList).where(DesignationList.name == name))
    if found is None:
        found = DesignationList(name=name, format=list_format, source_url=source_url)
        session.add(found)
        session.flush()
    elif found.format != list_format:
        raise InvalidInput(f"list {name!r} is stored as {found.format}, not {list_format}")
    return found


def load_parsed(
    session: Session,
    parsed: ParsedList,
    *,
    list_name: str,
    list_format: str,
    source: str,
    source_url: str | None = None,
) -> LoadResult:
    """Store ``parsed`` as the newest version of ``list_name`` and record the diff."""
    dlist = _get_or_create_list(session, list_name, list_format, source_url)
    latest = session.scalar(
        select(ListVersion).where(ListVersion.list_id == dlist.id)
        .order_by(ListVersion.sequence.desc()).limit(1)
    )
    if latest is not None and latest.sha256 == parsed.sha256:
        return LoadResult(list_name, latest.id, latest.sequence, True, latest.total, (), (), ())

    existing = {
        d.reference: d
        for d in session.scalars(select(Designation).where(Designation.list_id == dlist.id))
    }
    sequence = 1 + (latest.sequence if latest is not None else 0)
    version = ListVersion(
        list_id=dlist.id, sequence=sequence, source=source, sha256=parsed.sha256,
        generated_at=parsed.generated_at, total=len(parsed.records), added=0, changed=0,
        delisted=0, diff={},
    )
    session.add(version)
    session.flush()

    added: list[str] = []
    changed: list[dict] = []
    for record in parsed.records:
        row = existing.pop(record.reference, None)
        fingerprint = record.fingerprint()
        if row is None:
            added.append(record.reference)
            session.add(Designation(
                list_id=dlist.id, reference=record.reference, kind=record.kind,
                name=record.name, original_script_name=record.original_script_name,
                list_type=record.list_type, listed_on=record.listed_on, active=True,
                fingerprint=fingerprint, first_version_id=version.id,
                changed_version_id=version.id, extra=record.extra,
                aliases=_aliases_for(record),
            ))
        elif not row.active or row.fingerprint != fingerprint:
            if row.active:
                changed.append({"reference": record.reference, "fields": _changed_fields(
                    row, record)})
            else:
                added.append(record.reference)  # re-listed
            _update(row, record, fingerprint, version.id)
    delisted = sorted(ref for ref, row in existing.items() if row.active)
    for ref in delisted:
        existing[ref].active = False
        existing[ref].delisted_version_id = version.id
    version.added, version.changed, version.delisted = len(added), len(changed), len(delisted)
    version.diff = {"added": added, "changed": changed, "delisted": delisted}
    session.flush()
    return LoadResult(
        list_name, version.id, sequence, False, len(parsed.records), tuple(added),
        tuple(c["reference"] for c in changed), tuple(delisted),
    )


def _changed_fields(row: Designation, record: DesignationRecord) -> list[str]:
    fields = [
        f for f, old, new in (
            ("kind", row.kind, record.kind),
            ("name", row.name, record.name),
            ("original_script_name", row.original_script_name, record.original_script_name),
            ("list_type", row.list_type, record.list_type),
            ("listed_on", row.listed_on, record.listed_on),
        ) if old != new
    ]
    old_aliases = sorted((a.name, a.quality) for a in row.aliases
                         if a.quality not in ("primary", "original"))
    if old_aliases != sorted(record.aliases):
        fields.append("aliases")
    return fields


def _update(row: Designation, record: DesignationRecord, fingerprint: str, version_id: str):
    row.kind, row.name = record.kind, record.name
    row.original_script_name, row.list_type = record.original_script_name, record.list_type
    row.listed_on, row.extra, row.fingerprint = record.listed_on, record.extra, fingerprint
    row.active, row.delisted_version_id, row.changed_version_id = True, None, version_id
    row.aliases = _aliases_for(record)


def load_list_file(
    session: Session, path: Path, *, list_name: str | None = None, list_format: str | None = None
) -> LoadResult:
    """Load a list from a local file (UN XML by default; ``.csv`` files as CSV)."""
    path = Path(path)
    limit = get_settings().limits.max_designation_list_bytes
    if not path.is_file():
        raise NotFound(f"no such designation list file: {path}")
    if path.stat().st_size > limit:
        raise ContentTooLarge(f"{path} is larger than the {limit}-byte designation list limit")
    list_format = list_format or guess_format(path.name)
    parsed = parse_list(path.read_bytes(), list_format)
    name = list_name or (UN_LIST_NAME if list_format == "un-xml" else path.stem)
    return load_parsed(session, parsed, list_name=name, list_format=list_format,
                       source=str(path.resolve()))


def get_list(session: Session, name: str) -> DesignationList:
    found = session.scalar(select(DesignationList).where(DesignationList.name == name))
    if found is None:
        raise NotFound(f"no designation list named {name!r}")
    return found


def list_versions(session: Session, list_name: str) -> list[ListVersion]:
    """Every load of ``list_name``, oldest first."""
    return list(get_list(session, list_name).versions)


def version_diff(session: Session, list_name: str, sequence: int | None = None) -> ListVersion:
    """The version row (newest unless ``sequence`` is given); its ``diff`` says what changed."""
    versions = list_versions(session, list_name)
    if not versions:
        raise NotFound(f"list {list_name!r} has no versions")
    if sequence is None:
        return versions[-1]
    for version in versions:
        if version.sequence == sequence:
            return version
    raise NotFound(f"list {list_name!r} has no version {sequence}")


def search_designations(
    session: Session, query: str, *, include_delisted: bool = False, limit: int = 20
) -> list[Designation]:
    """Designations whose reference, name or any alias contains ``query`` (case-insensitive)."""
    escaped = query.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace(
        "_", "\\_")
    pattern = f"%{escaped}%"
    by_alias = select(DesignationAlias.designation_id).where(
        func.lower(DesignationAlias.name).like(pattern, escape="\\")
    )
    stmt = (
        select(Designation)
        .where(or_(
            func.lower(Designation.reference).like(pattern, escape="\\"),
            Designation.id.in_(by_alias),
        ))
        .options(selectinload(Designation.aliases), selectinload(Designation.designation_list))
        .order_by(Designation.reference)
        .limit(limit)
    )
    if not include_delisted:
        stmt = stmt.where(Designation.active.is_(True))
    return list(session.scalars(stmt))


def enable_list(session: Session, organisation_id: str, list_name: str) -> None:
    """Let ``organisation_id`` use ``list_name`` for detection (idempotent)."""
    dlist = get_list(session, list_name)
    if session.get(OrganisationList, (organisation_id, dlist.id)) is None:
        session.add(OrganisationList(organisation_id=organisation_id, list_id=dlist.id))
        session.flush()


def disable_list(session: Session, organisation_id: str, list_name: str) -> None:
    row = session.get(OrganisationList, (organisation_id, get_list(session, list_name).id))
    if row is not None:
        session.delete(row)
        session.flush()


def enabled_lists(session: Session, organisation_id: str) -> list[DesignationList]:
    return list(session.scalars(
        select(DesignationList)
        .join(OrganisationList, OrganisationList.list_id == DesignationList.id)
        .where(OrganisationList.organisation_id == organisation_id)
        .order_by(DesignationList.name)
    ))


def active_designations(session: Session, list_ids: list[str]) -> list[Designation]:
    """Active designations of the given lists, aliases and list loaded (for the detector)."""
    return list(session.scalars(
        select(Designation)
        .where(Designation.list_id.in_(list_ids), Designation.active.is_(True))
        .options(selectinload(Designation.aliases), selectinload(Designation.designation_list))
        .order_by(Designation.reference)
    ))
