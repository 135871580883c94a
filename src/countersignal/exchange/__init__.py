"""exchange: sharing signals, opinions and sightings with partner organisations over TAXII 2.1
/ STIX 2.1 (see docs/exchange.md).

What other packages call:

* ``is_disputed(session, signal_id)`` — cases/policy, before any automatic action;
* ``record_sighting(session, organisation_id=..., item_id=..., count=1)`` — where matches are
  recorded, so partners that opted in get match counts of their own indicators.
"""

from countersignal.exchange.disputes import is_disputed
from countersignal.exchange.ingest import record_sighting

__all__ = ["is_disputed", "record_sighting"]
