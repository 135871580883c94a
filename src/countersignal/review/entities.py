"""The designated-entity hook for the review, built from an organisation's cited lists.

The review only *advises*; a designated name in a draft is context for rules 2, 3 and 6 (a
long quote from a designated group reads differently from one from a mayor), never a flag on
the journalist. Lists come from the classify package (e.g. the UN consolidated list).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from countersignal.review.catalogue import ReviewConfig
from countersignal.review.model import EntityMatch


def config_for(session: Session, organisation_id: str | None) -> ReviewConfig:
    """A review config whose entity lookup uses the lists this organisation enabled."""
    from countersignal.classify.entities import detector_for

    detector = detector_for(session, organisation_id=organisation_id)

    def lookup(text: str) -> list[EntityMatch]:
        return [
            EntityMatch(
                start=m.start,
                end=m.end,
                name=m.designation_name,
                list_ref=f"{m.list_name}:{m.designation_ref}",
            )
            for m in detector.find(text)
            if not m.weak
        ]

    return ReviewConfig(entity_lookup=lookup)
