"""Detector behaviour that the corpus showed to be wrong once (held-out round 3), on new
sentences: the fixes are general (parse, lemmas, who is speaking), not tied to one draft."""

from __future__ import annotations

import pytest

from countersignal.review import review_article


def fired(text: str, language: str = "en") -> set[str]:
    return {f.rule_id for f in review_article(text, language=language).findings}


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Two marksmen are kneeling behind the wall of the bus depot.", "en"),
        ("Dozens of shoppers are sheltering inside the cinema on the top floor.", "en"),
        ("Снайперы сидят на крыше вокзала, а заложники прячутся в подвале.", "ru"),
    ],
)
def test_present_positions_with_a_place_are_operational_detail(text: str, language: str) -> None:
    assert "ongoing_operation" in fired(text, language)


@pytest.mark.parametrize(
    "text",
    [
        "Two marksmen were kneeling behind the wall of the depot until the siege ended.",
        "Three officers remain in hospital with burns.",
        "Police are waiting for the results of the tests.",
        "The gunman is hiding in the basement, according to a witness.",
    ],
)
def test_past_placeless_or_attacker_positions_are_not(text: str) -> None:
    assert "ongoing_operation" not in fired(text)


def test_an_attackers_post_is_not_a_victims_post() -> None:
    attacker = 'The bomber\'s last post on Facebook read: "You will all remember this day."'
    assert "grief_children_hospitals" not in fired(attacker)
    victim = 'Anna Weiss posted on Instagram an hour before the concert: "Best night ever!"'
    assert "grief_children_hospitals" in fired(victim)
    ru = "Стрелок написал в соцсетях за час до нападения: «Вы все запомните этот день»."
    assert "grief_children_hospitals" not in fired(ru, "ru")


def test_a_request_not_to_show_footage_is_not_showing_it() -> None:
    asked = "Survivors urged broadcasters never to show the video the gunman filmed."
    assert "attacker_footage" not in fired(asked)
    negated = "The attacker's stream does not show the victims' faces, police said."
    assert "attacker_footage" not in fired(negated)
    shown = "The video the gunman filmed shows him walking into the hall."
    assert "attacker_footage" in fired(shown)


def test_paraphrases_from_round_three() -> None:
    assert "glorification" in fired("The bombers fought like lions to the last.")
    assert "glorification" not in fired("Лев Орлов помогал раненым до приезда скорой.", "ru")
    assert "manifesto_propaganda" in fired("The group's propaganda video is embedded below.")
    assert "unattributed_figures" in fired("The attacker was probably radicalised online.")
