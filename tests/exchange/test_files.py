"""ThreatExchange local files (read back by python-threatexchange itself) and hash lists."""

from __future__ import annotations

import io
import json

from sqlalchemy import select

from countersignal.banks import service
from countersignal.banks.models import BankItem
from countersignal.exchange import files, policy

from .helpers import ORG, add, random_pdq


def test_threatexchange_file_round_trip_through_pytx(db, world, tmp_path):
    from threatexchange.exchanges.impl.file_api import (
        FileCollaborationConfig,
        LocalFileSignalExchangeAPI,
    )

    pdqs = [random_pdq() for _ in range(3)]
    with db.begin() as s:
        bank = service.get_bank(s, ORG, world["shared"])
        for value in pdqs:
            add(s, bank, pdq=value)
        add(s, bank, pdq=random_pdq(), tlp="RED")  # never exported
        out = io.StringIO()
        assert files.export_threatexchange_file(s, bank, out) == 3
    path = tmp_path / "signals.txt"
    path.write_text(out.getvalue())
    api = LocalFileSignalExchangeAPI(
        FileCollaborationConfig(name="t", api="local_file", enabled=True, filename=str(path))
    )
    [delta] = list(api.fetch_iter([], None))
    assert set(delta.updates) == {("pdq", v) for v in pdqs}
    # ... and back in, with a bad line reported and skipped
    with db.begin() as s:
        target = service.create_bank(s, organisation_id=ORG, name="from-file")
        data = out.getvalue() + "pdq not-a-hash\nunknown_type abc\n\n"
        report = files.import_threatexchange_file(s, target, io.BytesIO(data.encode()))
        assert (report.items_added, len(report.errors)) == (3, 2)
        bare = files.import_threatexchange_file(
            s, target, io.BytesIO(f"{random_pdq()}\n".encode()), default_type="pdq"
        )
        assert bare.items_added == 1


def hash_list(*entries) -> io.BytesIO:
    return io.BytesIO(json.dumps({"count": len(entries), "results": list(entries)}).encode())


def test_hash_list_import_checkpoints_and_tombstones(db, world):
    one, two = random_pdq(), random_pdq()
    with db.begin() as s:
        bank = service.create_bank(s, organisation_id=ORG, name="tcap")
        first = hash_list(
            {
                "id": 1,
                "algorithm": "PDQ",
                "hash_digest": one,
                "updated_on": 10.0,
                "labels": ["tier:crisis"],
                "ideology": "islamist",
            },
            {
                "id": 2,
                "algorithm": "MD5",
                "hash_digest": "a" * 32,
                "file_type": "mp4",
                "updated_on": 11.0,
            },
            {"id": 3, "algorithm": "TLSH", "hash_digest": "x", "updated_on": 12.0},
        )
        report = files.import_hash_list(s, bank, first, feed="tcap")
        assert report.items_added == 2 and len(report.errors) == 1
        items = s.scalars(select(BankItem).where(BankItem.bank_id == bank.id)).all()
        types = {i.signals[0].type for i in items}
        assert types == {"pdq", "video_md5"}
        crisis = next(i for i in items if i.signals[0].type == "pdq")
        assert {(lb.kind, lb.value) for lb in crisis.labels} == {
            ("tier", "crisis"),
            ("other", "ideology:islamist"),
        }
        # The same page again changes nothing (checkpoint); a later page deletes and adds.
        again = files.import_hash_list(s, bank, first, feed="tcap")
        assert again.items_added == 0
        later = hash_list(
            {"id": 1, "deleted": True, "updated_on": 20.0},
            {"id": 4, "algorithm": "PDQ", "hash_digest": two, "updated_on": 21.0},
        )
        assert files.import_hash_list(s, bank, later, feed="tcap").items_added == 1
        s.refresh(crisis)
        assert crisis.revoked_at is not None


def test_hash_list_export_pages_with_checkpoints_and_policy(db, world):
    with db.begin() as s:
        bank = service.get_bank(s, ORG, world["shared"])
        items = [add(s, bank) for _ in range(3)]
        add(s, bank, labels=["other:internal"])
        policy.set_label_local_only(s, ORG, "other", "internal")
        page = files.export_hash_list(s, bank, limit=2)
        assert page["count"] == 2 and page["more"]
        rest = files.export_hash_list(s, bank, after=page["checkpoint"])
        ids = [e["id"] for e in page["results"] + rest["results"]]
        assert sorted(ids) == sorted(i.id for i in items)
        service.revoke_item(s, items[0])
        gone = files.export_hash_list(s, bank, after=rest["checkpoint"])
        assert [(e["id"], e["deleted"]) for e in gone["results"]] == [(items[0].id, True)]
        # a consumer that imported the list drops the deleted entry
        mirror = service.create_bank(s, organisation_id=ORG, name="mirror")
        for doc in (page, rest, gone):
            files.import_hash_list(s, mirror, io.BytesIO(json.dumps(doc).encode()), feed="us")
        live = s.scalars(
            select(BankItem).where(BankItem.bank_id == mirror.id, BankItem.revoked_at.is_(None))
        ).all()
        assert sorted(i.external_id for i in live) == sorted(i.id for i in items[1:])
