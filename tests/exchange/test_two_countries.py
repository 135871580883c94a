"""Two countries, two servers, two databases (SQLite in DE, PostgreSQL in FR), real processes
on loopback, each with its exchange worker polling the other every 30 s:

A (DE) banks an image → B (FR) pulls it and matches the same image resized and re-encoded →
B disputes → A sees the opinion (signal disputed) → A revokes → B's bank drops it.

The end-to-end propagation time of each leg is printed and written to
``$COUNTERSIGNAL_BENCH_OUT`` (JSON) when that is set.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import time

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from countersignal.banks import service
from countersignal.banks.models import BankItem
from countersignal.banks.service import ItemInput, SignalInput
from countersignal.exchange import policy, stix
from countersignal.exchange.disputes import is_disputed

from .peers import COUNTERSIGNAL, Countersignal, make_org

POLL_SECONDS = float(os.environ.get("COUNTERSIGNAL_TEST_POLL_SECONDS", "30"))
LEG_TIMEOUT = POLL_SECONDS * 2 + 30

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def picture() -> bytes:
    rng = np.random.default_rng(7)
    base = np.zeros((512, 512, 3), np.uint8)
    base[..., 0] = np.linspace(0, 255, 512)[None, :]
    base[..., 1] = np.linspace(255, 0, 512)[:, None]
    image = Image.fromarray(base)
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y = rng.integers(0, 460, 2)
        size = int(rng.integers(20, 120))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.ellipse([int(x), int(y), int(x) + size, int(y) + size], fill=colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def resized_jpeg(png: bytes) -> bytes:
    image = Image.open(io.BytesIO(png)).convert("RGB").resize((300, 300), Image.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


def worker(tmp, server: Countersignal, name: str) -> subprocess.Popen:
    log = (tmp / f"worker-{name}.log").open("w")
    return subprocess.Popen(
        [COUNTERSIGNAL, "exchange", "worker", "--tick", "0.5"],
        env=server.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=server.workdir,
    )


def wait_for(check, what: str, timeout: float = LEG_TIMEOUT) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic()
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


def test_image_dispute_and_revocation_cross_the_border(tmp_path, pg_url):
    real = {"COUNTERSIGNAL_EXCHANGE_SETTLE_SECONDS": "2"}  # the shipped default
    de = Countersignal(tmp_path / "de", f"sqlite:///{tmp_path / 'de.db'}", real)
    fr = Countersignal(tmp_path / "fr", pg_url, real)
    procs = []
    try:
        de_db, fr_db = de.sessions(), fr.sessions()
        de_org, _ = make_org(de_db, "Plattform DE", "DE", ("curator",))
        fr_in_de, fr_in_de_tokens = make_org(de_db, "Partenaire FR", "FR", ("partner",))
        fr_org, fr_tokens = make_org(fr_db, "Plateforme FR", "FR", ("curator",))
        de_in_fr, de_in_fr_tokens = make_org(fr_db, "Partner DE", "DE", ("partner",))
        with de_db.begin() as s:
            crisis = service.create_bank(s, organisation_id=de_org, name="crisis", tlp="GREEN")
            inbox = service.create_bank(s, organisation_id=de_org, name="from-fr")
            group = policy.create_sharing_group(s, organisation_id=de_org, name="EU")
            de_collection = group.collection_id
            crisis_id = crisis.id
        with fr_db.begin() as s:
            fr_inbox = service.create_bank(s, organisation_id=fr_org, name="from-de", tlp="AMBER")
            fr_group = policy.create_sharing_group(s, organisation_id=fr_org, name="EU")
            fr_collection = fr_group.collection_id
            to_de = policy.create_partner(
                s,
                organisation_id=fr_org,
                partner_organisation_id=de_in_fr,
                name="de",
                api_root_url=de.taxii_root,
                collection_id=de_collection,
                auth_token=fr_in_de_tokens["partner"],
                keyring=fr.keyring,
                allow_private_network=True,
                import_bank_id=fr_inbox.id,
                trusted=True,
                poll_seconds=POLL_SECONDS,
            )
            policy.add_member(s, fr_group, to_de, can_read=True)
        with de_db.begin() as s:
            to_fr = policy.create_partner(
                s,
                organisation_id=de_org,
                partner_organisation_id=fr_in_de,
                name="fr",
                api_root_url=fr.taxii_root,
                collection_id=fr_collection,
                auth_token=de_in_fr_tokens["partner"],
                keyring=de.keyring,
                allow_private_network=True,
                import_bank_id=inbox.id,
                trusted=True,
                poll_seconds=POLL_SECONDS,
            )
            policy.add_member(s, s.get(type(group), group.id), to_fr, can_read=True)
            policy.share_bank(s, s.get(type(crisis), crisis_id), s.get(type(group), group.id))
        # Independent servers poll out of phase: start FR's worker a third of a poll later.
        procs = [worker(tmp_path, de, "de")]
        time.sleep(POLL_SECONDS / 3)
        procs.append(worker(tmp_path, fr, "fr"))
        time.sleep(3)  # both workers have made their first (empty) round

        # 1. DE banks an image.
        png = picture()
        from countersignal.signals import hash_bytes

        pdq = next(s for s in hash_bytes(png) if s.type == "pdq")
        with de_db.begin() as s:
            item = service.add_item(
                s,
                service.get_bank(s, de_org, crisis_id),
                ItemInput(
                    signals=[SignalInput("pdq", pdq.value, pdq.quality)], source="de-moderation"
                ),
            )
            item_id, de_signal = item.id, item.signals[0].id
        indicator_id = stix.stix_id("indicator", item_id)
        t_banked = time.monotonic()

        def fr_item():
            with fr_db() as s:
                return s.query(BankItem).filter(BankItem.source_ref == indicator_id).one_or_none()

        t_arrived = wait_for(lambda: fr_item() is not None, "DE's item reaching FR")
        arrived = fr_item()
        assert arrived.source_organisation_id == de_in_fr and arrived.tlp == "GREEN"

        # 2. FR matches the same picture, resized and re-encoded, through its own API.
        headers = {"Authorization": f"Bearer {fr_tokens['curator']}"}

        def fr_match():
            resp = httpx.post(
                f"{fr.url}/v1/match",
                files={"file": ("x.jpg", resized_jpeg(png), "image/jpeg")},
                headers=headers,
                timeout=30,
            )
            resp.raise_for_status()
            return [m for m in resp.json()["matches"] if m["item_id"] == arrived.id]

        wait_for(lambda: bool(fr_match()), "FR's matcher seeing the item", timeout=30)
        assert fr_match()[0]["distance"] <= 31

        # 3. FR disputes; DE sees it.
        with fr_db.begin() as s:
            fr_signal = service.get_item(s, fr_org, arrived.id).signals[0].id
            service.set_opinion(
                s,
                organisation_id=fr_org,
                signal_id=fr_signal,
                opinion="false_positive",
                note="archive footage used in news reporting",
            )
        t_disputed = time.monotonic()

        def de_disputed():
            with de_db() as s:
                return is_disputed(s, de_signal)

        t_dispute_seen = wait_for(de_disputed, "FR's dispute reaching DE")

        # 4. DE revokes; FR's bank drops it (and its matcher with it).
        with de_db.begin() as s:
            service.revoke_item(s, service.get_item(s, de_org, item_id))
        t_revoked = time.monotonic()
        t_dropped = wait_for(
            lambda: fr_item().revoked_at is not None, "DE's revocation reaching FR"
        )
        wait_for(lambda: not fr_match(), "FR's matcher dropping the item", timeout=30)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(15)
        de.stop()
        fr.stop()

    numbers = {
        "poll_seconds": POLL_SECONDS,
        "bank_to_partner_s": round(t_arrived - t_banked, 1),
        "dispute_to_origin_s": round(t_dispute_seen - t_disputed, 1),
        "revocation_to_partner_s": round(t_dropped - t_revoked, 1),
    }
    print("propagation:", json.dumps(numbers))
    if os.environ.get("COUNTERSIGNAL_BENCH_OUT"):
        with open(os.environ["COUNTERSIGNAL_BENCH_OUT"], "a") as fh:
            fh.write(json.dumps(numbers) + "\n")
    # Each leg takes at most one poll interval plus the 2 s settle delay (plus slack for a
    # loaded machine).
    assert max(v for k, v in numbers.items() if k.endswith("_s")) <= POLL_SECONDS + 12
