"""Offline language identification."""

from __future__ import annotations

import pytest

from countersignal.review.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Police said the gunman was still inside the building with the hostages.", "en"),
        ("Полиция сообщила, что стрелок всё ещё находится в здании с заложниками.", "ru"),
        ("Поліція повідомила, що стрілець і досі перебуває в будівлі із заручниками.", "uk"),
        ("Die Polizei sagte, der Schütze sei noch mit den Geiseln in dem Gebäude.", "de"),
        (
            "La police a déclaré que le tireur était toujours dans le bâtiment avec les otages.",
            "fr",
        ),
        ("قالت الشرطة إن المسلح لا يزال داخل المبنى مع الرهائن", "ar"),
    ],
)
def test_detects_language(text: str, expected: str) -> None:
    lang, confidence = detect_language(text)
    assert lang == expected
    assert 0.0 < confidence <= 1.0


def test_no_letters_is_undetermined() -> None:
    assert detect_language("12 34 !!") == ("und", 0.0)
