"""Designation lists: parsing the UN XML safely, versioned loads with diffs, CSV lists,
organisation choices, search, and the guarded network fetch."""

from __future__ import annotations

import datetime as dt
import ssl

import pytest

from countersignal.classify.designations import (
    UN_LIST_NAME,
    enable_list,
    enabled_lists,
    fetch_list,
    list_versions,
    load_list_file,
    parse_csv,
    parse_un_xml,
    search_designations,
    version_diff,
)
from countersignal.classify.models import Designation
from countersignal.db import transaction
from countersignal.errors import ContentTooLarge, Forbidden, InvalidInput
from countersignal.settings import get_settings
from loopback import QuietHandler, serve_http


def test_real_list_parses_with_aliases_qualities_and_original_names(un_records):
    assert sum(r.kind == "individual" for r in un_records) == 650
    assert sum(r.kind == "entity" for r in un_records) == 371
    qaida = next(r for r in un_records if r.reference == "QDe.004")
    assert qaida.name == "AL-QAIDA" and qaida.original_script_name == "القاعدة"
    assert qaida.list_type == "Al-Qaida" and qaida.listed_on == dt.date(2001, 10, 6)
    assert ("Al Qaeda", "aka") in qaida.aliases
    qualities = {q for r in un_records for _, q in r.aliases}
    assert {"good", "low", "aka", "fka"} <= qualities
    cyrillic = [r for r in un_records if r.original_script_name and
                any("\u0400" <= c < "\u0500" for c in r.original_script_name)]
    assert len(cyrillic) >= 10


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<CONSOLIDATED_LIST>&lol3;</CONSOLIDATED_LIST>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<CONSOLIDATED_LIST><INDIVIDUALS>&xxe;</INDIVIDUALS></CONSOLIDATED_LIST>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "unsafe XML"),
        (XXE, "unsafe XML"),
        (b"<CONSOLIDATED_LIST><INDIVIDUALS>", "not well-formed"),
        (b"<OTHER/>", "not a UN consolidated list"),
    ],
)
def test_hostile_or_wrong_xml_fails_cleanly(data, message):
    with pytest.raises(InvalidInput, match=message):
        parse_un_xml(data)


def _write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def versions(make_un_xml):
    """Two versions of a small list: ALPHA changes, BRAVO is de-listed, DELTA is added."""
    V1 = make_un_xml(
        individuals=[
            {"ref": "QDi.001", "name": "ALPHA", "second": "ONE", "aliases": [("Alfa Uno", "Good")]},
            {"ref": "QDi.002", "name": "BRAVO", "second": "TWO"},
        ],
        entities=[{"ref": "QDe.001", "name": "CHARLIE FRONT", "original": "جبهة تشارلي"}],
        generated="2024-01-01",
    )
    V2 = make_un_xml(
        individuals=[
            {"ref": "QDi.001", "name": "ALPHA", "second": "ONE",
             "aliases": [("Alfa Uno", "Good"), ("Alfa", "Low")]},
            {"ref": "QDi.003", "name": "DELTA", "second": "THREE", "list_type": "Taliban"},
        ],
        entities=[{"ref": "QDe.001", "name": "CHARLIE FRONT", "original": "جبهة تشارلي"}],
        generated="2024-02-01",
    )
    return V1, V2


def test_load_versions_and_diffs(session_factory, tmp_path, versions):
    first, second = _write(tmp_path, "v1.xml", versions[0]), _write(tmp_path, "v2.xml", versions[1])
    with transaction(session_factory) as session:
        r1 = load_list_file(session, first)
    assert (r1.sequence, r1.total, set(r1.added)) == (1, 3, {"QDi.001", "QDi.002", "QDe.001"})
    with transaction(session_factory) as session:
        again = load_list_file(session, first)
    assert again.unchanged and again.version_id == r1.version_id
    with transaction(session_factory) as session:
        r2 = load_list_file(session, second)
    assert r2.sequence == 2
    assert (r2.added, r2.changed, r2.delisted) == (("QDi.003",), ("QDi.001",), ("QDi.002",))
    with transaction(session_factory) as session:
        latest = version_diff(session, UN_LIST_NAME)
        assert latest.diff["changed"] == [{"reference": "QDi.001", "fields": ["aliases"]}]
        assert latest.generated_at == "2024-02-01" and len(latest.sha256) == 64
        assert [v.sequence for v in list_versions(session, UN_LIST_NAME)] == [1, 2]
        bravo = session.query(Designation).filter_by(reference="QDi.002").one()
        assert not bravo.active and bravo.delisted_version_id == r2.version_id
        alpha = session.query(Designation).filter_by(reference="QDi.001").one()
        assert ("Alfa", "low") in {(a.name, a.quality) for a in alpha.aliases}
        charlie = session.query(Designation).filter_by(reference="QDe.001").one()
        assert charlie.original_script_name == "جبهة تشارلي"
        assert search_designations(session, "bravo") == []
        assert [d.reference for d in search_designations(session, "bravo",
                                                         include_delisted=True)] == ["QDi.002"]
    # loading the first list again re-lists BRAVO and de-lists DELTA
    with transaction(session_factory) as session:
        r3 = load_list_file(session, first)
    assert r3.sequence == 3 and "QDi.002" in r3.added and r3.delisted == ("QDi.003",)


def test_real_list_loads_and_searches(loaded_un):
    with transaction(loaded_un) as session:
        found = search_designations(session, "qaeda")
        assert "QDe.004" in {d.reference for d in found}
        assert search_designations(session, "QDe.004")[0].name == "AL-QAIDA"
        assert search_designations(session, "%") == []  # wildcards are literal
        version = version_diff(session, UN_LIST_NAME)
        assert version.total == 1021 and version.added == 1021


CSV = (
    "reference,kind,name,aliases,low_quality_aliases,original_script_name,list_type,listed_on\n"
    "X-1,entity,Example Liberation Front,ELF Group|Front for Example,ELF,,Example,2020-05-01\n"
    "X-2,individual,Jane Placeholder,,,Джейн Плейсхолдер,Example,\n"
)


def test_csv_list_loads_with_source_and_org_choice(session_factory, tmp_path):
    parsed = parse_csv(CSV.encode())
    assert parsed.records[0].aliases == (("ELF Group", "good"), ("Front for Example", "good"),
                                         ("ELF", "low"))
    path = _write(tmp_path, "national-list.csv", CSV.encode())
    with transaction(session_factory) as session:
        result = load_list_file(session, path, list_name="National list")
        assert result.total == 2
        enable_list(session, "org_a", "National list")
        enable_list(session, "org_a", "National list")  # idempotent
        assert [dl.name for dl in enabled_lists(session, "org_a")] == ["National list"]
        assert enabled_lists(session, "org_b") == []
        version = version_diff(session, "National list")
        assert version.source == str(path.resolve())


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("reference,name\nX,Y\n", "lacks columns: kind"),
        ("reference,kind,name,colour\nX,entity,Y,red\n", "unknown columns"),
        ("reference,kind,name\nX,group,Y\n", "kind must be"),
        ("reference,kind,name,listed_on\nX,entity,Y,yesterday\n", "ISO date"),
        ("reference,kind,name\nX,entity,Y\nX,entity,Z\n", "appears twice"),
    ],
)
def test_bad_csv_is_rejected(csv_text, message):
    with pytest.raises(InvalidInput, match=message):
        parse_csv(csv_text.encode())


@pytest.fixture
def settings_env(monkeypatch):
    def apply(**values):
        for key, value in values.items():
            monkeypatch.setenv(f"COUNTERSIGNAL_{key.upper()}", str(value))
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


def test_fetch_is_off_by_default_and_https_only(settings_env):
    settings_env()
    with pytest.raises(Forbidden):
        fetch_list("https://example.invalid/list.xml")
    settings_env(designations_fetch_enabled="true")
    with pytest.raises(InvalidInput, match="https only"):
        fetch_list("http://example.invalid/list.xml")


@pytest.fixture
def https_server(tmp_path, versions):
    """A local HTTPS server with a self-signed certificate serving V1 and a large body."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))

    class Handler(QuietHandler):
        def do_GET(self):
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:9/list.xml")
                self.end_headers()
                return
            body = versions[0] if self.path == "/list.xml" else b"x" * 200_000
            self.send_response(200)
            if self.path != "/chunked":
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    with serve_http(Handler, tls=context) as server:
        yield f"https://localhost:{server.server_port}", client


def test_fetch_over_https_with_size_limit(settings_env, https_server):
    base, verify = https_server
    settings_env(designations_fetch_enabled="true")
    data = fetch_list(f"{base}/list.xml", verify=verify)
    assert parse_un_xml(data).records[0].reference == "QDi.001"
    with pytest.raises(ContentTooLarge, match="declares"):
        fetch_list(f"{base}/big", verify=verify, max_bytes=100_000)
    with pytest.raises(ContentTooLarge, match="more than"):
        fetch_list(f"{base}/chunked", verify=verify, max_bytes=100_000)
    with pytest.raises(InvalidInput, match="https only"):
        fetch_list(f"{base}/redirect", verify=verify)
