"""Phrase matching on forms and lemmas."""

from __future__ import annotations

from countersignal.review.lexicon import Lexicon
from countersignal.review.nlp import analyse, russian_lemma


def test_english_matches_lemmas_prefixes_and_hyphenated_words() -> None:
    a = analyse("The snipers were positioned near the blood-soaked doorway.", "en")
    lex = Lexicon(["sniper", "position", "blood-soaked", "door*"])
    assert {m.phrase for m in lex.match_tokens(a.tokens)} == {
        "sniper",
        "position",
        "blood-soaked",
        "door*",
    }


def test_longest_match_wins() -> None:
    a = analyse("It was a successful operation for the group.", "en")
    lex = Lexicon(["operation", "successful operation"])
    assert [m.phrase for m in lex.match_tokens(a.tokens)] == ["successful operation"]


def test_russian_phrases_are_lemmatised_so_inflected_forms_match() -> None:
    a = analyse("Снайперы заняли позиции на крыше.", "ru")
    lex = Lexicon(["занимают позиции"], russian_lemma)
    assert lex.match_tokens(a.tokens) == []  # different verb (занять vs занимать)
    lex = Lexicon(["заняли позицию"], russian_lemma)
    [match] = lex.match_tokens(a.tokens)
    assert a.text[match.start : match.end] == "заняли позиции"


def test_a_name_matches_only_as_written_not_through_its_lemma() -> None:
    # pymorphy3 gives "Льва" (the name Лев) and "львы" (lions) the same lemma, "лев"
    lex = Lexicon(["львы"], russian_lemma)
    name = analyse("Мать Льва Мартина попросила уважать частную жизнь семьи.", "ru")
    assert any(t.in_name for t in name.tokens)
    assert lex.match_tokens(name.tokens) == []
    lions = analyse("Нападавшие сражались как львы.", "ru")
    assert [m.phrase for m in lex.match_tokens(lions.tokens)] == ["львы"]
