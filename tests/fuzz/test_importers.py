"""Bank and exchange importers (CSV, JSON Lines, hash lists, ThreatExchange files) fed hostile
bytes: every line ends as an item or a numbered error, never an exception out of the reader."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from countersignal.banks import io as bank_io
from countersignal.banks import service
from countersignal.banks.service import ItemInput
from countersignal.errors import CountersignalError
from countersignal.exchange import files
from fuzz.budget import fuzz_settings

LINE_PARTS = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.sampled_from([
        b'{"signals": [{"type": "md5", "value": "' + b"0" * 32 + b'"}]}',
        b'{"signals": [{"type": "pdq"}], "labels": "x"}',
        b'{"signals": [], "external_id": 1}', b"[" * 5000 + b"]" * 5000, b"\xff\xfe\x00",
        b"signal_type,signal_value,labels\n", b'md5,"unterminated\n', b"\x00" * 50,
        b'{"results": [{"algorithm": "PDQ", "id": 1, "hash_digest": 5}]}',
        b"pdq " + b"f" * 64 + b" tag1,tag2\n", b"\r\n", b'"a""b",c\n',
    ]),
)
DOCUMENTS = st.lists(LINE_PARTS, max_size=12).map(lambda parts: b"\n".join(parts))


def _drain(reader, data: bytes) -> list:
    """Every entry of ``data``; a reader may also refuse the whole document with a clear
    error (e.g. a hash list whose JSON is not a list), which counts as one error at line 0."""
    try:
        out = list(reader(io.BytesIO(data)))
    except CountersignalError as exc:
        out = [(0, exc)]
    for number, parsed in out:
        assert isinstance(number, int) and number >= 0
        assert isinstance(parsed, ItemInput | files.HashEntry | CountersignalError), parsed
        if isinstance(parsed, CountersignalError):
            assert 400 <= parsed.http_status < 500
    return out


@fuzz_settings(examples=300)
@given(DOCUMENTS)
def test_jsonl_reader(data: bytes) -> None:
    _drain(bank_io.iter_jsonl, data)


@fuzz_settings(examples=300)
@given(DOCUMENTS)
def test_csv_reader(data: bytes) -> None:
    _drain(bank_io.iter_csv, b"signal_type,signal_value,external_id,labels\n" + data)


@fuzz_settings(examples=300)
@given(DOCUMENTS)
def test_hash_list_reader(data: bytes) -> None:
    _drain(files.iter_hash_list, data)


def test_deep_nesting_and_long_lines_are_line_errors() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    long_line = b'{"note": "' + b"x" * (bank_io.MAX_LINE_BYTES + 10) + b'"}'
    good = json.dumps({"signals": [{"type": "md5", "value": "a" * 32}]}).encode()
    started = time.monotonic()
    out = _drain(bank_io.iter_jsonl, b"\n".join([deep, long_line, good]))
    assert [type(p).__name__ for _, p in out] == ["InvalidInput", "InvalidInput", "ItemInput"]
    assert "line longer" in str(out[1][1])
    hashes = _drain(files.iter_hash_list, deep)
    assert [type(p).__name__ for _, p in hashes] == ["InvalidInput"]
    assert time.monotonic() - started < 5


@pytest.fixture(scope="module")
def bank_session(sqlite_template, tmp_path_factory):
    """One migrated SQLite copy (the readers above are database-free; this checks the writes)."""
    from countersignal.db import make_engine, session_factory

    path = tmp_path_factory.mktemp("importers") / "db.sqlite"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    factory = session_factory(engine)
    with factory() as session:
        yield session
    engine.dispose()


@fuzz_settings(examples=40, deadline_ms=5000)
@given(lines=st.lists(LINE_PARTS, min_size=1, max_size=8), fmt=st.sampled_from(["jsonl", "csv"]))
def test_whole_import_keeps_good_lines_and_numbers_bad_ones(bank_session, lines, fmt) -> None:
    """Through the database: hostile lines never abort the file or leave a half-written item."""
    marker = hashlib.md5(secrets.token_bytes(16)).hexdigest()  # hypothesis replays examples
    if fmt == "jsonl":
        good = json.dumps({"signals": [{"type": "md5", "value": marker}]}).encode()
        data = b"\n".join([*lines, good])
    else:
        data = b"\n".join([b"signal_type,signal_value", f"md5,{marker}".encode(), *lines])
    bank = service.create_bank(bank_session, organisation_id="org_fuzz", name=f"b{marker}")
    report = bank_io.import_items(bank_session, bank, io.BytesIO(data), fmt)
    bank_session.commit()
    for line, message in report.errors:
        assert isinstance(line, int) and message
    values = {s.value for item in service.list_items(bank_session, bank) for s in item.signals}
    assert report.items_added == len(service.list_items(bank_session, bank))
    whole_file_refused = fmt == "csv" and any(line == 0 for line, _ in report.errors)
    assert marker in values or whole_file_refused, report.as_dict()
