"""Find mentions of designated individuals and entities in text.

How: every alias is expanded into keys (as listed; ``/``-separated parts; without a trailing
``(ACRONYM)``; with article particles joined: ``Abd al-Rahman`` → ``Abdal Rahman``,
``Abdalrahman``), each key in two forms — normalised and consonant skeleton — in two
Aho–Corasick automata. The text is scanned in windows: both forms computed with
``str.translate`` and both automata run in C. Only candidates that sit on word boundaries are
mapped back to the original text and checked with rapidfuzz against the alias's comparison
form; the similarity (0–1) times a weight for the alias quality is the score.

Weak aliases (low quality, short, or made of common words and name parts) never fire alone:
they are reported only within ``CORROBORATION_CHARS`` of a strong mention of the same
designation.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick
from rapidfuzz import fuzz

from countersignal.classify.entities.normalise import (
    NORMAL_TABLE,
    cyrillic_style,
    normalise,
    script_of,
    skeleton,
    soft,
)
from countersignal.classify.entities.vocabulary import is_weak_alias

QUALITY_WEIGHT = {"primary": 1.0, "original": 1.0, "good": 1.0, "aka": 1.0, "fka": 0.95,
                  "low": 0.7}
_JOINABLE = frozenset(("al", "el", "ul", "ad", "ar", "as", "at", "ash", "an", "az", "ud", "ur",
                       "ed", "er", "es"))
_JOIN_NEXT = frozenset(("abd", "عبد"))
_ARABIC_PROCLITICS = frozenset("وفبلك")
_MIN_KEY_CHARS = 3
_WINDOW = 8192
CORROBORATION_CHARS = 2000  # a weak alias counts only this close to a strong mention
_EXTRA_SPACE = re.compile("(?<= ) ")  # a space after a space: removed by _SPACES
_SPACES = re.compile("  +")
_DELETED = re.compile(
    "[" + "".join(re.escape(chr(cp)) for cp, to in enumerate(NORMAL_TABLE) if to is None) + "]"
)
_PARENTHESIS = re.compile(r"\s*\(([^)]*)\)\s*")


@dataclass(frozen=True)
class NamedDesignation:
    """What the detector needs to know about one designation."""

    reference: str
    name: str
    kind: str
    list_name: str
    aliases: tuple[tuple[str, str], ...]  # (alias, quality) incl. primary and original names


@dataclass(frozen=True)
class Mention:
    """A designated name found in text; ``start``/``end`` index the original text."""

    start: int
    end: int
    text: str
    alias: str
    alias_quality: str
    designation_ref: str
    designation_name: str
    list_name: str
    kind: str
    score: float
    similarity: float
    script: str
    weak: bool = False
    also_refs: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _Entry:
    designation: NamedDesignation
    alias: str
    quality: str
    weak: bool
    soft_keys: tuple[str, ...]  # as spelt, and spelt the way Russian transliterates it


def _alias_texts(alias: str) -> list[str]:
    """The listed alias plus its ``/`` parts and its form without a parenthesised part."""
    alias = alias.strip().strip('"“”«»')
    texts = [alias]
    if "/" in alias:
        texts += [p.strip() for p in alias.split("/") if p.strip()]
    bare = _PARENTHESIS.sub(" ", alias).strip()
    if bare and bare != alias:
        texts.append(bare)
        texts += [m.strip() for m in _PARENTHESIS.findall(alias) if m.strip()]
    return texts


def _key_forms(normalised: str) -> set[str]:
    """A normalised name with article particles joined to neighbours, and fully joined."""
    tokens = normalised.split()
    forms = {" ".join(tokens)}
    if len(tokens) > 1:
        forms.add("".join(tokens))
        forward, backward = [], []
        for token in tokens:
            if forward and forward[-1] in _JOINABLE:
                forward[-1] += token
            else:
                forward.append(token)
            if backward and token in _JOINABLE:
                backward[-1] += token
            else:
                backward.append(token)
        forms.add(" ".join(forward))
        forms.add(" ".join(backward))
        for form in list(forms):
            forms.add(_join_next(form.split()))
    return {f for f in forms if f}


def _distinctive_skeleton(skel: str) -> bool:
    """Short consonant skeletons collide with ordinary words (``dng``: doing, dung…): index
    one-word skeletons of four consonants or more, longer names from three."""
    consonants = len(skel.replace(" ", ""))
    return consonants >= 4 or (consonants == 3 and " " in skel)


def _join_next(tokens: list[str]) -> str:
    """``abd al rahman`` → ``abdal rahman``; ``عبد الملك`` → ``عبدالملك``."""
    out: list[str] = []
    glue = False
    for token in tokens:
        if glue:
            out[-1] += token
        else:
            out.append(token)
        glue = token in _JOIN_NEXT
    return " ".join(out)


class EntityDetector:
    """A detector over a fixed set of designations; build once, call ``find`` many times."""

    def __init__(self, designations: Iterable[NamedDesignation], *, min_similarity: float = 0.85):
        self.min_similarity = min_similarity
        self._entries: list[_Entry] = []
        norm_keys: dict[str, set[int]] = {}
        skel_keys: dict[str, set[int]] = {}
        seen: set[tuple[str, str]] = set()
        for designation in designations:
            for alias, quality in designation.aliases:
                for text in _alias_texts(alias):
                    key = " ".join(normalise(text).split())
                    if not key or (designation.reference, key) in seen:
                        continue
                    seen.add((designation.reference, key))
                    derived_weak = text != alias and len(key.split()) == 1
                    entry = _Entry(designation, text, quality,
                                   is_weak_alias(key, quality) or derived_weak,
                                   (soft(key), soft(cyrillic_style(key))))
                    index = len(self._entries)
                    self._entries.append(entry)
                    for form in _key_forms(key):
                        if len(form.replace(" ", "")) >= _MIN_KEY_CHARS:
                            norm_keys.setdefault(form, set()).add(index)
                        if entry.weak:  # weak aliases only corroborate: exact forms suffice
                            continue
                        for skel in {skeleton(form).strip(), skeleton(cyrillic_style(form))
                                     .strip()}:
                            if _distinctive_skeleton(skel):
                                skel_keys.setdefault(skel, set()).add(index)
        self._norm = _automaton(norm_keys, self._entries)
        self._skel = _automaton(skel_keys, self._entries)
        longest = max((len(k) for k in norm_keys), default=0)
        self._overlap = 2 * longest + 32
        self.designation_count = len({e.designation.reference for e in self._entries})
        self.alias_count = len(self._entries)

    def find(self, text: str) -> list[Mention]:
        """Mentions of designations in ``text``, in text order, overlaps resolved.

        Strong aliases are scanned first; windows where weak aliases hit are rescanned only
        for designations with a strong mention nearby.
        """
        candidates: list[tuple[int, int, int, float]] = []  # start, end, entry, similarity
        weak_windows: list[tuple[tuple[int, int, int], set[str]]] = []
        length = len(text)
        position = 0
        while position < length:
            end = min(length, position + _WINDOW)
            if end < length:
                cut = text.rfind(" ", position + _WINDOW // 2, end)
                end = cut if cut > position else end
            window = (position, end, min(length, end + self._overlap))
            weak_refs = self._scan(text, window, candidates, None)
            if weak_refs:
                weak_windows.append((window, weak_refs))
            position = end
        strong_at: dict[str, list[int]] = {}
        for start, _end, index, _similarity in candidates:
            strong_at.setdefault(self._entries[index].designation.reference, []).append(start)
        for starts in strong_at.values():
            starts.sort()
        for window, weak_refs in weak_windows:
            low, high = window[0] - CORROBORATION_CHARS, window[2] + CORROBORATION_CHARS
            wanted = {ref for ref in weak_refs if _near(strong_at.get(ref, ()), low, high)}
            if wanted:
                self._scan(text, window, candidates, wanted)
        return self._resolve(text, candidates)

    def _scan(self, text: str, window: tuple[int, int, int],
              out: list[tuple[int, int, int, float]], weak_for: set[str] | None) -> set[str]:
        """Add candidates found in one window to ``out``: strong aliases when ``weak_for`` is
        None, else weak aliases of those designations. Returns the designations whose weak
        aliases occur in the window (when scanning for strong ones)."""
        start, end, window_end = window
        segment = text[start:window_end]
        translated = segment.translate(NORMAL_TABLE)
        normal = _SPACES.sub(" ", translated)
        passes = [(self._norm, normal)]
        skel = ""
        if weak_for is None:  # weak aliases have no skeleton keys
            skel = skeleton(normal)
            passes.append((self._skel, skel))
        weak_refs: set[str] = set()
        spans: dict[tuple[int, int], set[int]] = {}
        aligner = _WordAligner(skel, normal)
        for automaton, haystack in passes:
            for stop, (key, strong, weak, refs_of_weak) in automaton.iter(haystack):
                if weak_for is None:
                    ids = strong
                    weak_refs.update(refs_of_weak)
                else:
                    ids = [i for i in weak
                           if self._entries[i].designation.reference in weak_for]
                if not ids or not _bounded(haystack, stop + 1 - len(key), stop + 1):
                    continue
                s, e = stop + 1 - len(key), stop + 1
                if haystack is skel:
                    s, e = aligner.normal_span(e, key.count(" "))
                spans.setdefault((s, e), set()).update(ids)
        if spans:
            to_original = _offset_mapper(segment, translated)
            for (n_start, n_end), ids in spans.items():
                o_start = start + to_original(n_start)
                if not start <= o_start < end:
                    continue
                o_end = start + to_original(n_end - 1) + 1
                found = soft(normal[n_start:n_end])
                for index in ids:
                    similarity = max(fuzz.ratio(found, k)
                                     for k in self._entries[index].soft_keys) / 100
                    if similarity >= self.min_similarity:
                        out.append((o_start, o_end, index, similarity))
        return weak_refs

    def _resolve(self, text: str, candidates: list[tuple[int, int, int, float]]) -> list[Mention]:
        """Strong mentions first (longest, then most similar); weak ones only within
        ``CORROBORATION_CHARS`` of a strong mention of the same designation; identical spans
        share one mention."""
        def rank(c: tuple[int, int, int, float]):
            entry = self._entries[c[2]]
            return (entry.weak, -(c[1] - c[0]), -c[3] * QUALITY_WEIGHT[entry.quality], c[0])

        accepted: dict[int, list] = {}  # start → [start, end, entry, similarity, also_refs]
        starts: list[int] = []  # sorted starts of accepted, non-overlapping spans
        strong_at: dict[str, list[int]] = {}  # designation → sorted starts of strong mentions
        for start, end, index, similarity in sorted(candidates, key=rank):
            entry = self._entries[index]
            ref = entry.designation.reference
            if entry.weak and not _near(strong_at.get(ref, ()), start - CORROBORATION_CHARS,
                                        end + CORROBORATION_CHARS):
                continue
            before = bisect_right(starts, end - 1)  # accepted spans starting before our end
            clash = accepted[starts[before - 1]] if before else None
            if clash is not None and clash[1] <= start:
                clash = None
            if clash is None:
                insort(starts, start)
                accepted[start] = [start, end, index, similarity, []]
                if not entry.weak:
                    insort(strong_at.setdefault(ref, []), start)
            elif (clash[0], clash[1]) == (start, end) and ref != (
                self._entries[clash[2]].designation.reference
            ) and ref not in clash[4] and entry.weak == self._entries[clash[2]].weak:
                clash[4].append(ref)
        mentions = []
        for start, end, index, similarity, also in (accepted[s] for s in starts):
            entry = self._entries[index]
            designation = entry.designation
            mentions.append(Mention(
                start=start, end=end, text=text[start:end], alias=entry.alias,
                alias_quality=entry.quality, designation_ref=designation.reference,
                designation_name=designation.name, list_name=designation.list_name,
                kind=designation.kind,
                score=round(similarity * QUALITY_WEIGHT[entry.quality], 4),
                similarity=round(similarity, 4), script=script_of(text[start:end]),
                weak=entry.weak, also_refs=tuple(also),
            ))
        return mentions


def _automaton(keys: dict[str, set[int]], entries: list[_Entry]) -> ahocorasick.Automaton:
    """Key → (key, strong entry ids, weak entry ids, designations of the weak ones)."""
    automaton = ahocorasick.Automaton()
    for key, ids in keys.items():
        strong = tuple(sorted(i for i in ids if not entries[i].weak))
        weak = tuple(sorted(i for i in ids if entries[i].weak))
        refs = frozenset(entries[i].designation.reference for i in weak)
        automaton.add_word(key, (key, strong, weak, refs))
    if not keys:
        return _EmptyAutomaton()
    automaton.make_automaton()
    return automaton


class _EmptyAutomaton:
    """Stands in for an automaton without keys (pyahocorasick cannot search one)."""

    def iter(self, _text: str):
        return iter(())


def _bounded(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is whole words (Arabic one-letter proclitics allowed)."""
    if end < len(text) and text[end] != " ":
        return False
    if start == 0 or text[start - 1] == " ":
        return True
    return (
        text[start - 1] in _ARABIC_PROCLITICS
        and (start == 1 or text[start - 2] == " ")
    )


def _near(sorted_positions, low: int, high: int) -> bool:
    """Whether any position lies in ``[low, high]``."""
    i = bisect_left(sorted_positions, low)
    return i < len(sorted_positions) and sorted_positions[i] <= high


class _WordAligner:
    """Maps word runs of a skeleton onto the normal text it came from: both have the same
    spaces, so the n-th word of one is the n-th word of the other. Hits arrive in order of
    their end, so two forward-only cursors and C-level ``count``/``find`` do the work."""

    def __init__(self, skel: str, normal: str) -> None:
        self.skel, self.normal = skel, normal
        self.skel_at = self.skel_spaces = 0  # position in skel, spaces before it
        self.word_at = self.word_index = 0  # start of a word in normal, and its index
        self.ratio = len(normal) / max(1, len(skel))

    def normal_span(self, skel_end: int, spaces_inside: int) -> tuple[int, int]:
        """``(start, end)`` in normal of the words whose skeleton ends at ``skel_end`` and
        contains ``spaces_inside`` spaces."""
        self.skel_spaces += self.skel.count(" ", self.skel_at, skel_end)
        self.skel_at = skel_end
        last = self.skel_spaces  # index of the hit's last word
        normal = self.normal
        guess = max(self.word_at, int(skel_end * self.ratio) - 64)
        skipped = normal.count(" ", self.word_at, guess)
        if self.word_index + skipped <= last:  # jump ahead without passing the target
            start = normal.rfind(" ", 0, guess) + 1 if skipped else self.word_at
            self.word_at, self.word_index = start, self.word_index + skipped
        while self.word_index < last:
            self.word_at = normal.find(" ", self.word_at) + 1
            self.word_index += 1
        end = normal.find(" ", self.word_at)
        first = self.word_at
        for _ in range(spaces_inside):
            first = normal.rfind(" ", 0, first - 1) + 1
        return first, (len(normal) if end < 0 else end)


def _offset_mapper(segment: str, translated: str):
    """A function from positions in the space-collapsed normal text to positions in
    ``segment``. Both steps only delete characters, so the deleted positions invert them."""
    unmap_spaces = _deletion_inverse([m.start() for m in _EXTRA_SPACE.finditer(translated)])
    unmap_translate = _deletion_inverse([m.start() for m in _DELETED.finditer(segment)])
    return lambda position: unmap_translate(unmap_spaces(position))


def _deletion_inverse(deleted: list[int]):
    """Given the sorted positions deleted from a string, map positions in the result back."""
    if not deleted:
        return lambda position: position
    shifted = [d - k for k, d in enumerate(deleted)]
    return lambda position: position + bisect_right(shifted, position)
