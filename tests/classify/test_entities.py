"""The entity mention detector: scripts and transliterations, spans into the original text,
weak aliases, window boundaries, the generated evaluation, throughput and the hook."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from countersignal.classify.designations import enable_list, load_list_file
from countersignal.classify.entities import (
    EntityDetector,
    NamedDesignation,
    detector_for,
    entity_spans,
)
from countersignal.classify.entities.detector import _WINDOW
from countersignal.classify.entities.evalset import evaluate, generate
from countersignal.classify.entities.normalise import normalise, skeleton
from countersignal.db import transaction
from countersignal.settings import get_settings


@pytest.mark.parametrize(
    ("text", "found", "reference"),
    [
        ("Officials said al-Qaeda was mentioned.", "al-Qaeda", "QDe.004"),
        ("Officials said AL QAIDA was mentioned.", "AL QAIDA", "QDe.004"),
        ("Officials said el-Kaida was mentioned.", "el-Kaida", "QDe.004"),
        ("Officials said Al Qa’ida was mentioned.", "Al Qa’ida", "QDe.004"),
        ("Officials said Al-Qāʿida was mentioned.", "Al-Qāʿida", "QDe.004"),
        ("В сообщении упоминается Аль-Каида.", "Аль-Каида", "QDe.004"),
        ("وقال إن القاعدة ورد في البيان", "القاعدة", "QDe.004"),
        ("وقال إن الْقَاعِدَة ورد في البيان", "الْقَاعِدَة", "QDe.004"),
        ("The Jemaah Islamiya statement", "Jemaah Islamiya", "QDe.092"),
        ("Он упомянул Ахмед Ражапович Чатаев вчера", "Ахмед Ражапович Чатаев", "QDi.365"),
        ("A report on Abu Sayyaf Group activity", "Abu Sayyaf Group", "QDe.001"),
    ],
)
def test_finds_names_across_scripts_and_spellings(un_detector, text, found, reference):
    mentions = un_detector.find(text)
    assert [(m.text, m.designation_ref) for m in mentions] == [(found, reference)]
    mention = mentions[0]
    assert text[mention.start:mention.end] == found
    assert 0.85 <= mention.score <= 1.0 and mention.alias and mention.list_name == "UN"


@pytest.mark.parametrize(
    "text",
    [
        "Let me see the mid point of the youth league.",  # LET, MID, THE YOUTH are aliases
        "Hassan and Adam met Muhammad Ali at the national bank.",
        "The base camp of the islamic army museum.",
        "Abdul Qadir opened a bakery.",  # Abd + a name of God: very many people
    ],
)
def test_common_words_and_weak_aliases_do_not_fire_alone(un_detector, text):
    assert un_detector.find(text) == []


def test_weak_alias_fires_next_to_a_strong_mention(un_detector):
    text = "Al-Shabaab, which calls itself the youth, said the youth would fight."
    mentions = un_detector.find(text)
    assert {m.designation_ref for m in mentions} == {"SOe.001"}
    assert [m.weak for m in mentions] == [False, True, True]


def test_spans_point_into_text_with_marks_and_punctuation(un_detector):
    text = "«Al‐Qa\u0027ida»,\u200b and  ABU   SAYYAF  GROUP; then القـــاعدة!"
    mentions = un_detector.find(text)
    assert [m.designation_ref for m in mentions] == ["QDe.004", "QDe.001", "QDe.004"]
    for m in mentions:
        assert text[m.start:m.end] == m.text
        assert m.text[0].isalpha() and m.text[-1].isalpha()


def test_names_across_window_boundaries_are_found_once(un_detector):
    for filler in range(_WINDOW - 26, _WINDOW + 4, 3):
        text = ("x" * filler + " Abu Sayyaf Group " + "weather " * (_WINDOW // 5)
                + "Jemaah Islamiyah.")
        mentions = un_detector.find(text)
        assert [m.designation_ref for m in mentions] == ["QDe.001", "QDe.092"], filler
        assert text[mentions[0].start:mentions[0].end] == "Abu Sayyaf Group"


names = st.sampled_from(["Abu Sayyaf Group", "Al-Qaida", "Jemaah Islamiyah", "Эмират Кавказ"])
words = st.text(alphabet="abcdefgh ,.-’\u064e", min_size=0, max_size=40)


@settings(max_examples=60, deadline=None)
@given(before=words, name=names, after=words)
def test_span_of_planted_name_is_exact(un_detector, before, name, after):
    text = f"{before} {name} {after}"
    mentions = un_detector.find(text)
    starts = [m.start for m in mentions]
    assert starts == sorted(starts)
    assert any(text[m.start:m.end] == name for m in mentions)
    for a, b in itertools.pairwise(mentions):
        assert a.end <= b.start


def test_shared_alias_names_every_designation():
    shared = (("Karim Zawadi Nyambura", "good"),)
    detector = EntityDetector([
        NamedDesignation("A-1", "Person One", "individual", "L", shared),
        NamedDesignation("A-2", "Person Two", "individual", "L", shared),
    ])
    (mention,) = detector.find("We met Karim Zawadi Nyambura.")
    assert {mention.designation_ref, *mention.also_refs} == {"A-1", "A-2"}


def test_skeleton_merges_transliterations():
    assert skeleton(normalise("Al-Qaida")) == skeleton(normalise("el Qaeda"))
    assert skeleton(normalise("Mohammed")) == skeleton(normalise("Muhammad"))
    assert skeleton(normalise("Аль-Каида")) == skeleton(normalise("al-Kaida"))


def test_generated_evaluation_meets_targets_per_script(un_detector, un_records):
    samples = generate(un_records, seed=7)
    assert {s.script for s in samples} == {"latin", "arabic", "cyrillic"}
    assert any(s.planted is None for s in samples) and any(s.planted for s in samples)
    results = evaluate(un_detector, samples)
    for script in ("latin", "arabic", "cyrillic"):
        score = results[f"script:{script}"]
        assert score["tp"] > 300, script
        assert score["precision"] >= 0.95, (script, score)
        assert score["recall"] >= 0.90, (script, score)


@pytest.mark.slow
def test_throughput_on_neutral_text(un_detector):
    sentence = ("The weather service expects light rain over the coast on Sunday, and the league "
                "said the match would go ahead as planned. ")
    text = sentence * (2_000_000 // len(sentence))
    started = time.process_time()
    assert un_detector.find(text) == []
    rate = len(text.encode()) / 1e6 / (time.process_time() - started)
    assert rate >= 3.0, f"{rate:.1f} MB/s of CPU time"  # bench/eval_entities.py reports it


def test_detector_uses_the_lists_an_organisation_enabled(session_factory, tmp_path,
                                                        make_un_xml):
    un = tmp_path / "un.xml"
    un.write_bytes(make_un_xml(entities=[{"ref": "QDe.9", "name": "ZORBLAX LIBERATION FRONT"}]))
    csv = tmp_path / "national.csv"
    csv.write_text("reference,kind,name\nN-1,entity,Quimbly Resistance Army\n")
    with transaction(session_factory) as session:
        load_list_file(session, un)
        load_list_file(session, csv, list_name="National")
        enable_list(session, "org_a", "National")
        text = "Zorblax Liberation Front and the Quimbly Resistance Army"
        assert [m.designation_ref for m in detector_for(session, organisation_id="org_a")
                .find(text)] == ["N-1"]
        assert detector_for(session, organisation_id="org_b").find(text) == []
        assert [m.list_name for m in detector_for(session).find(text)] == [
            "UN Security Council Consolidated List", "National"]


def test_entity_spans_hook_uses_configured_database(tmp_path, monkeypatch, make_un_xml):
    from countersignal.db import make_engine, migrate, session_factory

    url = f"sqlite:///{tmp_path / 'hook.db'}"
    monkeypatch.setenv("COUNTERSIGNAL_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        migrate(url)
        assert entity_spans("Zorblax Liberation Front") == []
        path = tmp_path / "un.xml"
        path.write_bytes(make_un_xml(entities=[{"ref": "QDe.9",
                                                "name": "ZORBLAX LIBERATION FRONT"}]))
        engine = make_engine(url)
        with transaction(session_factory(engine)) as session:
            load_list_file(session, path)
        engine.dispose()
        (mention,) = entity_spans("News: Zorblax Liberation Front.")
        assert (mention.start, mention.end, mention.designation_ref) == (6, 30, "QDe.9")
    finally:
        get_settings.cache_clear()


@given(words=st.lists(st.text(alphabet="abeio", min_size=1, max_size=6), min_size=1,
                     max_size=30), data=st.data())
def test_word_aligner_maps_skeleton_words_to_normal_words(words, data):
    from countersignal.classify.entities.detector import _WordAligner

    normal = " ".join(words)
    skel = skeleton(normal)
    aligner = _WordAligner(skel, normal)
    ends = sorted(data.draw(st.lists(st.integers(0, len(words) - 1), max_size=8)))
    for last in ends:
        first = data.draw(st.integers(0, last))
        skel_end = len(" ".join(skeleton(w) for w in words[:last + 1]))
        start, end = aligner.normal_span(skel_end, last - first)
        assert normal[start:end] == " ".join(words[first:last + 1])


def test_weak_alias_needs_a_strong_mention_nearby(un_detector):
    from countersignal.classify.entities.detector import CORROBORATION_CHARS

    far = "Al-Shabaab was named. " + "Nothing else. " * (CORROBORATION_CHARS // 10) + "The youth."
    assert [m.text for m in un_detector.find(far)] == ["Al-Shabaab"]
    near = "Al-Shabaab was named. " + "Nothing else. " * 10 + "The youth."
    assert [m.text for m in un_detector.find(near)] == ["Al-Shabaab", "The youth"]


def test_search_by_name_finds_other_spellings(loaded_un):
    from countersignal.classify.entities import search_by_name

    with transaction(loaded_un) as session:
        for query in ("el-Kaida", "Аль-Каида", "القاعدة", "qaeda"):
            assert "QDe.004" in {d.reference for d in search_by_name(session, query)}, query
        assert search_by_name(session, "weather report") == []
