"""The worker ties the jobs together: escalations become webhooks that reach the platform."""

from __future__ import annotations

import time
from datetime import timedelta

from cases.world import T0
from countersignal.actions.webhooks import RetryPolicy, verify_signature
from countersignal.cases import orders
from countersignal.cases.worker import Worker


def test_one_pass_escalates_delivers_and_purges(world, receiver):
    secret = world.endpoint(receiver.url)
    with world.tx() as s:
        order = orders.receive_order(
            s, world.alice, authority="Garda Síochána", authority_country="IE",
            authority_reference="G-1", legal_basis="Regulation (EU) 2021/784 Art. 3",
            content_reference="https://platform.example/p/5", received_at=T0, now=T0)
    worker = Worker(world.factory, world.vault, policy=RetryPolicy(max_attempts=3))
    report = worker.run_once(now=T0 + timedelta(minutes=46))
    assert report.escalations == [(order.id, 15)]
    assert report.deliveries.delivered == 2  # removal_order.received + the escalation
    [escalation] = receiver.events("removal_order.escalation")
    assert escalation.json["data"]["minutes_left"] == 14
    assert escalation.json["data"]["threshold_minutes"] == 15
    assert verify_signature(secret, escalation.headers["Countersignal-Signature"],
                            escalation.body, now=T0 + timedelta(minutes=46))
    assert worker.run_once(now=T0 + timedelta(minutes=47)).escalations == []


def test_thread_starts_and_stops(world, receiver):
    world.endpoint(receiver.url)
    with world.tx() as s:
        orders.receive_order(
            s, world.alice, authority="Politie", authority_country="NL",
            authority_reference="P-1", legal_basis="Regulation (EU) 2021/784 Art. 3",
            content_reference="https://platform.example/p/6")
    worker = Worker(world.factory, world.vault, interval_s=0.05).start()
    try:
        deadline = time.monotonic() + 10
        while not receiver.events("removal_order.received") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(receiver.events("removal_order.received")) == 1
