"""classify_text / classify_image: results with reasons from entity lists and text models;
OCR off by default, on per organisation, reading a name rendered in an image."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw, ImageFont

from api.helpers import mistyped_tiff
from countersignal.classify import ClassifierResult, classify_image, classify_text, set_ocr
from countersignal.classify.designations import enable_list, load_list_file
from countersignal.classify.ocr import ocr_image
from countersignal.classify.textmodels import train_and_register
from countersignal.db import transaction
from countersignal.errors import ContentTooLarge, UnsupportedContent
from countersignal.settings import get_settings

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def render(text: str, size: int = 36) -> bytes:
    font = ImageFont.truetype(FONT, size)
    width = int(font.getlength(text)) + 40
    image = Image.new("RGB", (width, size * 2), "white")
    ImageDraw.Draw(image).text((20, size // 2), text, font=font, fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _org_with_list(factory, tmp_path, make_un_xml):
    path = tmp_path / "un.xml"
    path.write_bytes(make_un_xml(entities=[{
        "ref": "QDe.900", "name": "ZORBLAX LIBERATION FRONT",
        "aliases": [("Zorblax Front", "a.k.a."), ("ZLF", "a.k.a.")]}]))
    with transaction(factory) as session:
        load_list_file(session, path)
        enable_list(session, "org_a", "UN Security Council Consolidated List")
    return factory


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERSIGNAL_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def org_with_list_and_model(session_factory, tmp_path, home, make_un_xml, make_topic_jsonl):
    """org_a: the list enabled and one text model (on SQLite and PostgreSQL)."""
    _org_with_list(session_factory, tmp_path, make_un_xml)
    with transaction(session_factory) as session:
        train_and_register(session, organisation_id="org_a", name="sports",
                           data_path=make_topic_jsonl(tmp_path / "t.jsonl", 160, seed=1),
                           positive_label="sports")
    return session_factory


@pytest.fixture
def org_with_list(sqlite_session_factory, tmp_path, home, make_un_xml):
    return _org_with_list(sqlite_session_factory, tmp_path, make_un_xml)


@pytest.mark.slow
def test_classify_text_gives_reasons(org_with_list_and_model):
    text = "The ZLF and the Zorblax Liberation Front discussed the match and the goal."
    with transaction(org_with_list_and_model) as session:
        results = classify_text(text, organisation_id="org_a", session=session)
        other = classify_text(text, organisation_id="org_b", session=session)
    entity = [r for r in results if r.classifier == "designated-entity"]
    model = [r for r in results if r.classifier == "text-model"]
    # "ZLF" is a short alias: reported only because the full name is there too
    assert [(r.detail["text"], r.detail["weak_alias"]) for r in entity] == [
        ("ZLF", True), ("Zorblax Liberation Front", False)]
    assert entity[1].label == "QDe.900" and entity[1].fired
    assert all(r.score >= r.threshold for r in entity)
    assert "ZORBLAX LIBERATION FRONT (QDe.900" in entity[1].reason
    assert text[slice(*entity[1].detail["span"])] == "Zorblax Liberation Front"
    (sports,) = model
    assert sports.label == "sports" and sports.detail["model"] == "sports"
    assert sports.fired == (sports.score >= sports.threshold)
    assert "threshold" in sports.reason and sports.detail["version"] == 1
    assert other == []  # org_b enabled no list and trained no model
    assert all(isinstance(r, ClassifierResult) for r in results)


def test_text_over_limit_is_refused(org_with_list, monkeypatch):
    monkeypatch.setenv("COUNTERSIGNAL_LIMIT_MAX_TEXT_BYTES", "100")
    get_settings.cache_clear()
    with transaction(org_with_list) as session, pytest.raises(ContentTooLarge):
        classify_text("x" * 101, organisation_id="org_a", session=session)


def test_ocr_is_off_by_default_and_reads_a_rendered_name(org_with_list):
    image = render("Statement of the Zorblax Liberation Front")
    with transaction(org_with_list) as session:
        assert classify_image(image, organisation_id="org_a", session=session) == (None, [])
        set_ocr(session, "org_a", enabled=True)
        text, results = classify_image(image, organisation_id="org_a", session=session)
    assert "Zorblax" in text
    assert [r.label for r in results if r.classifier == "designated-entity"] == ["QDe.900"]


@pytest.mark.slow
def test_ocr_reads_arabic_and_russian():
    arabic = ocr_image(render("بيان القاعدة", 48), languages="ara")
    assert "القاعدة" in arabic.replace(" ", "") or "القاعده" in arabic
    russian = ocr_image(render("Заявление Эмират Кавказ", 40), languages="rus")
    assert "Эмират Кавказ" in russian


def test_ocr_refuses_non_images_and_bombs(monkeypatch):
    with pytest.raises(UnsupportedContent):
        ocr_image(b"not an image")
    with pytest.raises(UnsupportedContent):
        ocr_image(mistyped_tiff())
    monkeypatch.setenv("COUNTERSIGNAL_LIMIT_MAX_IMAGE_PIXELS", "1000")
    get_settings.cache_clear()
    try:
        with pytest.raises(ContentTooLarge):
            ocr_image(render("Zorblax"))
    finally:
        get_settings.cache_clear()
