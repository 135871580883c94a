"""``kill -9`` of ``countersignal exchange pull`` half-way through a partner's collection: each
page is applied with its checkpoint in one transaction, so the re-run (once the dead puller's
lease lapses) fetches the rest and every shared indicator arrives exactly once."""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update

from api.conftest import make_org
from countersignal.actions.crypto import Keyring
from countersignal.banks.models import BankItem, Signal
from countersignal.banks.service import ItemInput, SignalInput, add_item, create_bank
from countersignal.db import make_engine, migrate, session_factory, transaction, utcnow
from countersignal.exchange import policy
from countersignal.exchange.models import SyncState
from faults.conftest import Live, wait_for

SHARED = 300


def test_pull_killed_midway_resumes_without_loss_or_duplicates(live_pg: Live):
    source = live_pg
    source.env_extra["COUNTERSIGNAL_EXCHANGE_SETTLE_SECONDS"] = "0"
    source.start()
    reader = make_org(source.database_url, "Puller in source", roles=("partner",))
    with transaction(source.sessions()) as s:
        bank = create_bank(s, organisation_id=source.org.id, name="shared", tlp="GREEN")
        for n in range(SHARED):
            add_item(s, bank, ItemInput(signals=[SignalInput("md5", f"{n:032x}")],
                                        external_id=f"src-{n}"))
        group = policy.create_sharing_group(s, organisation_id=source.org.id, name="EU")
        policy.add_member(s, group, policy.create_partner(
            s, organisation_id=source.org.id, partner_organisation_id=reader.id, name="puller"),
            can_read=True)
        policy.share_bank(s, bank, group)
        collection = group.collection_id

    target_url = f"sqlite:///{source.tmp / 'puller.db'}"
    migrate(target_url)
    puller = make_org(target_url, "Puller", roles=("curator",))
    publisher = make_org(target_url, "Publisher", roles=("partner",))
    target = session_factory(make_engine(target_url))
    with transaction(target) as s:
        inbox = create_bank(s, organisation_id=puller.id, name="inbox").id
        partner_id = policy.create_partner(
            s, organisation_id=puller.id, partner_organisation_id=publisher.id, name="source",
            api_root_url=f"{source.url}/taxii2/api/", collection_id=collection,
            auth_token=reader.tokens["partner"], allow_private_network=True,
            keyring=Keyring.from_settings(source.settings),  # the puller process's key
            import_bank_id=inbox, trusted=True).id

    def received() -> int:
        with target() as s:
            return s.scalar(select(func.count()).select_from(BankItem).where(
                BankItem.bank_id == inbox))

    env = {"COUNTERSIGNAL_DATABASE_URL": target_url, "COUNTERSIGNAL_EXCHANGE_PAGE_LIMIT": "5"}
    source.env_extra.update(env)  # the puller's process runs against the target database
    source.org, saved_org = puller, source.org  # the puller's org acts in the target database
    first = source.spawn("exchange", "pull", "source", log="pull-1.log")
    wait_for(lambda: received() >= 20, 120, "some pages applied", interval=0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    interrupted = received()
    assert 0 < interrupted < SHARED, "the kill came too late to interrupt the pull"

    with transaction(target) as s:  # time passes: the dead puller's 5-minute lease lapses
        s.execute(update(SyncState).where(SyncState.partner_id == partner_id)
                  .values(lease_until=utcnow() - timedelta(seconds=1)))
    env["COUNTERSIGNAL_EXCHANGE_PAGE_LIMIT"] = "100"
    source.env_extra.update(env)
    second = source.spawn("exchange", "pull", "source", log="pull-2.log")
    assert second.wait(120) == 0, (source.tmp / "pull-2.log").read_text()
    source.org = saved_org

    with target() as s:
        values = Counter(s.scalars(select(Signal.value).where(Signal.bank_id == inbox)))
    assert set(values) == {f"{n:032x}" for n in range(SHARED)}, "an indicator never arrived"
    assert max(values.values()) == 1, "an indicator arrived twice"
