"""Text signals: normalisation folds evasions; MinHash estimates 5-gram Jaccard distance."""

from __future__ import annotations

import pytest
from datasketch import MinHash

from countersignal.errors import InvalidInput
from countersignal.signals import hash_text
from countersignal.signals.text import TextNear, normalise, shingles

BASE = "Join the fight, brothers: the day of reckoning is coming."


@pytest.mark.parametrize(
    "variant",
    [
        "JOIN THE FIGHT BROTHERS THE DAY OF RECKONING IS COMING",  # case, punctuation
        "Join  the\tfight,\nbrothers: the day of reckoning is coming!!!",  # white space
        "Ｊｏｉｎ the fight, brothers: the day of reckoning is coming.",  # full-width (NFKC)
        "Jоin thе fight, brоthеrs: thе dаy оf rеckоning is cоming.",  # Cyrillic о, е, а
        "Join the fight, brothers: the dΑy οf reckoning is coming.",  # Greek Α, ο
        "Join the fi\u200bght, brothers: the day of reck\u200doning is coming.",  # zero-width
        "Join the ﬁght, brothers: the day of reckoning is coming.",  # ligature
    ],
)
def test_evasions_give_the_same_exact_hash(variant: str) -> None:
    assert hash_text(variant)[0].value == hash_text(BASE)[0].value
    assert normalise(variant) == normalise(BASE)


def test_different_words_differ() -> None:
    assert hash_text("the day of reckoning is coming")[0] != hash_text("the day is coming")[0]


def test_non_latin_scripts_are_kept() -> None:
    assert normalise("الدولة الإسلامية!") == "الدولة الإسلامية"
    assert hash_text("Слава героям")[0] != hash_text("Слава народу")[0]


@pytest.mark.parametrize("empty", ["", "   ", "?!... ---", "\u200b\u200b"])
def test_nothing_left_is_invalid(empty: str) -> None:
    with pytest.raises(InvalidInput):
        hash_text(empty)


def test_near_duplicate_distance_tracks_true_jaccard() -> None:
    """The 128-slot MinHash estimates 1 - Jaccard of the 5-gram sets (std. error ~0.045)."""
    sentence = (
        "the organisers published a long statement about the attack and asked supporters "
        "to share it widely before the accounts were removed by the platforms"
    )
    words = sentence.split(" ")
    texts = [" ".join(words[:n]) for n in (24, 22, 18, 12)]
    first = hash_text(texts[0])[1].value
    for other in texts[1:]:
        a, b = shingles(normalise(texts[0])), shingles(normalise(other))
        true = 1 - len(a & b) / len(a | b)
        assert TextNear.distance(first, hash_text(other)[1].value) == pytest.approx(true, abs=0.15)


def test_near_distance_agrees_with_datasketch() -> None:
    """Same estimator as datasketch's MinHash on the same shingles (independent hashes)."""
    a_text = BASE + " Share this message with everyone you know."
    b_text = BASE + " Share this message with all your friends now."
    ours = TextNear.distance(hash_text(a_text)[1].value, hash_text(b_text)[1].value)
    sketches = []
    for text in (a_text, b_text):
        sketch = MinHash(num_perm=128, seed=7)
        sketch.update_batch([s.encode() for s in shingles(normalise(text))])
        sketches.append(sketch)
    assert ours == pytest.approx(1 - sketches[0].jaccard(sketches[1]), abs=0.15)


def test_light_edit_matches_and_unrelated_does_not() -> None:
    edited = BASE.replace("reckoning", "reckonning").replace("brothers", "brothers and sisters")
    unrelated = "Weather tomorrow: light rain in the morning, sunny spells later on."
    near = TextNear.distance(hash_text(BASE)[1].value, hash_text(edited)[1].value)
    far = TextNear.distance(hash_text(BASE)[1].value, hash_text(unrelated)[1].value)
    assert near <= TextNear.default_threshold < far


def test_short_text_still_gets_a_near_signal() -> None:
    signals = hash_text("kill")
    assert [s.type for s in signals] == ["text_exact", "text_near"]
    assert TextNear.distance(signals[1].value, hash_text("KILL!")[1].value) == 0


def test_near_distance_is_unbiased_on_unrelated_texts() -> None:
    """Mean estimate error over many pairs stays near 0: catches a 5-gram key that drops
    characters (that made unrelated texts look 0.045 closer than their true Jaccard)."""
    import random

    rng = random.Random(11)
    vocabulary = ["".join(rng.choice("abcdefghijklmnop") for _ in range(5)) for _ in range(300)]
    errors = []
    for _ in range(60):
        a, b = (" ".join(rng.choice(vocabulary) for _ in range(60)) for _ in range(2))
        sa, sb = shingles(normalise(a)), shingles(normalise(b))
        true = 1 - len(sa & sb) / len(sa | sb)
        errors.append(TextNear.distance(hash_text(a)[1].value, hash_text(b)[1].value) - true)
    assert abs(sum(errors) / len(errors)) < 0.01  # standard error of this mean: ~0.003
