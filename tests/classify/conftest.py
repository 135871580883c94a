"""Fixtures for classify tests: UN-schema XML made in code, the real 2017 list, a database."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from countersignal.db import transaction


def un_xml(
    individuals: Iterable[dict] = (), entities: Iterable[dict] = (), generated: str = "2024-01-01"
) -> bytes:
    """A UN consolidated list in the official schema. Each dict: ref, name (first name),
    optional second, list_type, listed_on, original, aliases [(name, quality)]."""

    def node(tag: str, alias_tag: str, item: dict) -> str:
        aliases = "".join(
            f"<{alias_tag}><QUALITY>{escape(q)}</QUALITY><ALIAS_NAME>{escape(n)}</ALIAS_NAME>"
            f"</{alias_tag}>"
            for n, q in item.get("aliases", ())
        ) or f"<{alias_tag}><QUALITY/><ALIAS_NAME/></{alias_tag}>"
        original = item.get("original")
        return (
            f"<{tag}><DATAID>1</DATAID><VERSIONNUM>1</VERSIONNUM>"
            f"<FIRST_NAME>{escape(item['name'])}</FIRST_NAME>"
            f"<SECOND_NAME>{escape(item.get('second', ''))}</SECOND_NAME>"
            f"<UN_LIST_TYPE>{item.get('list_type', 'Al-Qaida')}</UN_LIST_TYPE>"
            f"<REFERENCE_NUMBER>{item['ref']}</REFERENCE_NUMBER>"
            f"<LISTED_ON>{item.get('listed_on', '2001-10-06')}</LISTED_ON>"
            + (f"<NAME_ORIGINAL_SCRIPT>{escape(original)}</NAME_ORIGINAL_SCRIPT>"
               if original else "")
            + f"<COMMENTS1/>{aliases}</{tag}>"
        )

    body = "".join(node("INDIVIDUAL", "INDIVIDUAL_ALIAS", i) for i in individuals)
    ents = "".join(node("ENTITY", "ENTITY_ALIAS", e) for e in entities)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<CONSOLIDATED_LIST dateGenerated="{generated}"><INDIVIDUALS>{body}</INDIVIDUALS>'
        f"<ENTITIES>{ents}</ENTITIES></CONSOLIDATED_LIST>"
    ).encode()


@pytest.fixture(scope="session")
def make_un_xml():
    return un_xml


@pytest.fixture(scope="session")
def un_list_path(refdata: Path) -> Path:
    path = refdata / "sanctions" / "un-consolidated-2017-07-03.xml"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="session")
def un_records(un_list_path: Path):
    from countersignal.classify.designations import parse_un_xml

    return parse_un_xml(un_list_path.read_bytes()).records


@pytest.fixture(scope="session")
def un_detector(un_records):
    from countersignal.classify.entities import EntityDetector
    from countersignal.classify.entities.evalset import named

    return EntityDetector(named(un_records, "UN"))


@pytest.fixture
def loaded_un(session_factory, un_list_path):
    """A migrated database with the real UN list loaded."""
    from countersignal.classify.designations import load_list_file

    with transaction(session_factory) as session:
        load_list_file(session, un_list_path)
    return session_factory


@pytest.fixture
def sqlite_session_factory(sqlite_url):
    """A migrated SQLite database, for tests whose subject is not the database."""
    from countersignal.db import make_engine, migrate, session_factory

    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    yield session_factory(engine)
    engine.dispose()


SPORTS = ["match", "goal", "striker", "league", "coach", "penalty", "stadium", "season",
          "referee", "midfield", "трибуны", "гол", "مباراة", "هدف"]
WEATHER = ["rain", "storm", "forecast", "humidity", "drizzle", "cloud", "temperature",
           "wind", "frost", "sunshine", "дождь", "ветер", "مطر", "رياح"]
SHARED = ["the", "on", "saturday", "city", "report", "expected", "after", "we", "heavy",
          "today", "news", "north", "again", "people"]


def topic_jsonl(path: Path, n: int, seed: int, noise: float = 0.08) -> Path:
    """Sentences about sports or weather; a share borrow the other topic's words."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        label = "sports" if i % 2 else "weather"
        own, other = (SPORTS, WEATHER) if label == "sports" else (WEATHER, SPORTS)
        pool = other if rng.random() < noise else own
        words = rng.sample(SHARED, 5) + rng.sample(pool, 3)
        rng.shuffle(words)
        lines.append(json.dumps({"text": " ".join(words), "label": label}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def make_topic_jsonl():
    return topic_jsonl
