"""Designated-entity mention detection: build a detector from the stored lists (all of them,
or those an organisation enabled) and find mentions in text.

``entity_spans(text)`` is the one-call hook for other packages (e.g. ``review``): it uses the
configured database and every loaded list, rebuilt only when a list gets a new version.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from countersignal.classify.designations.store import (
    active_designations,
    enabled_lists,
    search_designations,
)
from countersignal.classify.entities.detector import EntityDetector, Mention, NamedDesignation
from countersignal.classify.models import Designation, DesignationList, ListVersion

__all__ = [
    "EntityDetector",
    "Mention",
    "NamedDesignation",
    "default_detector",
    "detector_for",
    "entity_spans",
    "named_designations",
    "search_by_name",
]


def named_designations(session: Session, list_ids: list[str]) -> list[NamedDesignation]:
    """The active designations of ``list_ids`` in the form the detector takes."""
    return [
        NamedDesignation(
            reference=d.reference,
            name=d.name,
            kind=d.kind,
            list_name=d.designation_list.name,
            aliases=tuple((a.name, a.quality) for a in d.aliases),
        )
        for d in active_designations(session, list_ids)
    ]


def detector_for(
    session: Session, *, organisation_id: str | None = None, min_similarity: float = 0.85
) -> EntityDetector:
    """A detector over the lists ``organisation_id`` enabled (every list when None).

    Cached per set of list versions, so a new load is picked up at the next call.
    """
    if organisation_id is None:
        list_ids = list(session.scalars(select(DesignationList.id)))
    else:
        list_ids = [dl.id for dl in enabled_lists(session, organisation_id)]
    if not list_ids:
        return _build(session, (), min_similarity)
    latest = session.execute(
        select(ListVersion.list_id, func.max(ListVersion.sequence))
        .where(ListVersion.list_id.in_(list_ids))
        .group_by(ListVersion.list_id)
    ).all()
    return _build(session, tuple(sorted(latest)), min_similarity)


_DETECTORS: dict[tuple, EntityDetector] = {}
_MAX_CACHED = 8


def _build(session: Session, versions: tuple, min_similarity: float) -> EntityDetector:
    """The detector for exactly these list versions, built once per process."""
    key = (versions, min_similarity)
    if key not in _DETECTORS:
        if len(_DETECTORS) >= _MAX_CACHED:
            _DETECTORS.pop(next(iter(_DETECTORS)))
        list_ids = [list_id for list_id, _ in versions]
        _DETECTORS[key] = EntityDetector(
            named_designations(session, list_ids), min_similarity=min_similarity
        )
    return _DETECTORS[key]


def default_detector() -> EntityDetector:
    """A detector over every list in the configured database (empty when none is loaded)."""
    from countersignal.db import make_engine, session_factory
    from countersignal.settings import get_settings

    engine = _engine(get_settings().effective_database_url, make_engine)
    if not inspect(engine).has_table(Designation.__tablename__):
        return EntityDetector(())
    with session_factory(engine)() as session:
        return detector_for(session)


@lru_cache(maxsize=4)
def _engine(url: str, make_engine):
    return make_engine(url)


def entity_spans(text: str, *, detector: EntityDetector | None = None) -> list[Mention]:
    """Mentions of designated entities and individuals in ``text`` (spans index ``text``)."""
    return (detector or default_detector()).find(text)


def search_by_name(session: Session, query: str, *, include_delisted: bool = False,
                   limit: int = 20) -> list[Designation]:
    """Designations by reference or alias substring, plus those whose names the detector
    recognises in ``query`` — so ``el-Kaida`` or ``Аль-Каида`` find AL-QAIDA too."""
    found = search_designations(session, query, include_delisted=include_delisted, limit=limit)
    known = {d.id for d in found}
    refs = {(m.list_name, m.designation_ref) for m in detector_for(session).find(query)}
    if refs:
        rows = session.scalars(
            select(Designation)
            .join(DesignationList, DesignationList.id == Designation.list_id)
            .where(Designation.reference.in_([ref for _, ref in refs]))
            .order_by(Designation.reference)
        )
        found += [d for d in rows if d.id not in known
                  and (d.designation_list.name, d.reference) in refs][: limit - len(found)]
    return found
