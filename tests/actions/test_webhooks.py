"""Webhooks against a real HTTP server on loopback: signatures, retries with back-off, the same
idempotency key on every attempt and across a crash, dead letters, acknowledgements, SSRF."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from cases.world import T0, Receiver
from countersignal.actions import webhooks
from countersignal.actions.models import OutboxMessage
from countersignal.actions.ssrf import BlockedDestination, check_url
from countersignal.actions.webhooks import RetryPolicy, deliver_due, enqueue, verify_signature
from countersignal.errors import Conflict, Forbidden, Unauthorized

POLICY = RetryPolicy(max_attempts=4, base_s=30, cap_s=3600, timeout_s=5)


def _queue(world, event="decision.remove", subject="dec_1", now=T0):
    with world.tx() as s:
        return [m.id for m in enqueue(s, organisation_id="org_alpha", event=event,
                                      subject_id=subject, data={"case_id": "case_1"}, now=now)]


def _deliver(world, now):
    return deliver_due(world.factory, keyring=world.vault.keyring, now=now, policy=POLICY)


def test_sign_and_verify_like_stripe():
    body = b'{"event":"decision.remove"}'
    header = webhooks.sign("whsec_test", body, 1_770_000_000)
    at = T0.replace(year=2026, month=2, day=2)
    now = type(T0).fromtimestamp(1_770_000_100, tz=T0.tzinfo)
    assert verify_signature("whsec_test", header, body, now=now) == 1_770_000_000
    with pytest.raises(Unauthorized, match="does not match"):
        verify_signature("whsec_test", header, body + b" ", now=now)
    with pytest.raises(Unauthorized, match="does not match"):
        verify_signature("whsec_other", header, body, now=now)
    with pytest.raises(Unauthorized, match="tolerance"):
        verify_signature("whsec_test", header, body, now=now + timedelta(minutes=10))
    with pytest.raises(Unauthorized, match="timestamp"):
        verify_signature("whsec_test", "v1=abc", body, now=at)
    rotated = f"{header},v1={'0' * 64}"
    assert verify_signature("whsec_test", rotated, body, now=now)


def test_delivery_is_signed_and_acknowledged(world, receiver):
    secret = world.endpoint(receiver.url)
    [message_id] = _queue(world)
    report = _deliver(world, T0)
    assert (report.delivered, report.retrying, report.dead) == (1, 0, 0)
    [request] = receiver.requests
    assert request.headers["Idempotency-Key"] == "decision.remove:dec_1"
    assert request.headers["Countersignal-Event"] == "decision.remove"
    assert verify_signature(secret, request.headers["Countersignal-Signature"], request.body,
                            now=T0)
    assert request.json["data"] == {"case_id": "case_1"}
    with world.tx() as s:
        message = s.get(OutboxMessage, message_id)
        assert (message.status, message.attempts, message.delivered_at) == ("delivered", 1, T0)
        assert message.acknowledgement == {"reference": "ack-1"}
    assert _deliver(world, T0 + timedelta(hours=1)).delivered == 0  # never twice once delivered


def test_retries_back_off_exponentially_with_the_same_key_then_dead_letter(world):
    with Receiver(plan=[500, 503, 500, 502, 500]) as receiver:
        world.endpoint(receiver.url)
        [message_id] = _queue(world)
        assert _deliver(world, T0).retrying == 1
        with world.tx() as s:
            assert s.get(OutboxMessage, message_id).next_attempt_at == T0 + timedelta(seconds=30)
        assert _deliver(world, T0 + timedelta(seconds=29)).retrying == 0  # not due yet
        assert _deliver(world, T0 + timedelta(seconds=30)).retrying == 1
        with world.tx() as s:
            assert s.get(OutboxMessage, message_id).next_attempt_at == T0 + timedelta(seconds=90)
        assert _deliver(world, T0 + timedelta(seconds=90)).retrying == 1
        assert _deliver(world, T0 + timedelta(seconds=210)).dead == 1
        assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 1
        assert len({r.body for r in receiver.requests}) == 1  # byte-identical every time
        assert len(receiver.requests) == 4
        with world.tx() as s:
            [dead] = webhooks.list_dead_letters(s, world.alice)
            assert (dead.id, dead.attempts, dead.last_error) == (message_id, 4, "HTTP 502")
            assert webhooks.list_dead_letters(s, world.outsider) == []
            with pytest.raises(Forbidden):
                webhooks.retry_dead_letter(s, world.platform, message_id)
            webhooks.retry_dead_letter(s, world.alice, message_id, now=T0 + timedelta(hours=1))
            with pytest.raises(Conflict):
                webhooks.retry_dead_letter(s, world.alice, message_id)
        # the receiver's plan has one more failure, then succeeds
        assert _deliver(world, T0 + timedelta(hours=1)).retrying == 1
        assert _deliver(world, T0 + timedelta(hours=1, seconds=30)).delivered == 1
        assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 1


def test_unreachable_endpoint_counts_as_a_failed_attempt(world):
    with Receiver() as receiver:
        url = receiver.url
    world.endpoint(url)  # the server is gone: connection refused
    _queue(world)
    assert _deliver(world, T0).retrying == 1
    with world.tx() as s:
        assert "ConnectError" in s.scalar(select(OutboxMessage.last_error))


def test_a_crash_after_claiming_redelivers_with_the_same_key(world, receiver):
    world.endpoint(receiver.url)
    [message_id] = _queue(world)
    # a worker claims the message and dies before posting or recording anything
    with world.tx() as s:
        s.get(OutboxMessage, message_id).lease_until = T0 + timedelta(seconds=120)
    assert _deliver(world, T0 + timedelta(seconds=60)).delivered == 0  # lease still held
    assert _deliver(world, T0 + timedelta(seconds=121)).delivered == 1
    assert receiver.requests[0].headers["Idempotency-Key"] == "decision.remove:dec_1"


def test_concurrent_workers_post_each_message_once(world, receiver):
    world.endpoint(receiver.url)
    for i in range(12):
        _queue(world, subject=f"dec_{i}")
    barrier = threading.Barrier(3)
    reports = []

    def work():
        barrier.wait()
        reports.append(_deliver(world, T0))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.delivered for r in reports) == 12
    keys = [r.headers["Idempotency-Key"] for r in receiver.requests]
    assert sorted(keys) == sorted(f"decision.remove:dec_{i}" for i in range(12))


def test_enqueue_is_idempotent_and_respects_event_filters(world, receiver):
    world.endpoint(receiver.url, events=["decision.reinstate"])
    world.endpoint(receiver.url)
    first = _queue(world)
    assert len(first) == 1  # only the unfiltered endpoint wants decision.remove
    assert _queue(world) == first
    assert len(_queue(world, event="decision.reinstate")) == 2


def test_later_acknowledgement_is_recorded(world, receiver):
    world.endpoint(receiver.url)
    _queue(world)
    _deliver(world, T0)
    with world.tx() as s:
        [message] = webhooks.acknowledge(s, world.platform, "decision.remove:dec_1",
                                         reference="takedown-991", now=T0 + timedelta(minutes=3))
        assert message.acknowledgement == {"reference": "takedown-991"}
        assert message.acknowledged_at == T0 + timedelta(minutes=3)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.5/hook",
    "http://[::1]/hook",
    "http://0.0.0.0/hook",
])
def test_ssrf_guard_blocks_internal_destinations_unless_allowed(url):
    with pytest.raises(BlockedDestination):
        check_url(url)
    if "169.254" not in url:
        assert check_url(url, allow_private=True) == url


def test_registration_and_delivery_apply_the_guard(world, receiver):
    from countersignal.errors import InvalidInput

    with world.tx() as s, pytest.raises(BlockedDestination):
        webhooks.register_endpoint(s, world.admin, url=receiver.url, keyring=world.vault.keyring)
    with world.tx() as s, pytest.raises(InvalidInput, match="http"):
        webhooks.register_endpoint(s, world.admin, url="file:///etc/passwd",
                                   keyring=world.vault.keyring)
    with world.tx() as s, pytest.raises(Forbidden):
        webhooks.register_endpoint(s, world.alice, url=receiver.url, keyring=world.vault.keyring)
    with world.tx() as s, pytest.raises(Forbidden, match="operator"):
        webhooks.register_endpoint(s, world.admin, url=receiver.url, keyring=world.vault.keyring,
                                   allow_private=True)
    world.endpoint(receiver.url)
    _queue(world)
    with world.tx() as s:  # an administrator revokes the exception after registration
        for endpoint in webhooks.list_endpoints(s, world.admin):
            endpoint.allow_private = False
    assert _deliver(world, T0).retrying == 1
    assert receiver.requests == []
    with world.tx() as s:
        assert "not a public address" in s.scalar(select(OutboxMessage.last_error))


def test_the_signing_secret_is_stored_encrypted(world, receiver):
    secret = world.endpoint(receiver.url)
    with world.tx() as s:
        [endpoint] = webhooks.list_endpoints(s, world.admin)
        assert secret not in endpoint.secret_ciphertext
        assert webhooks.endpoint_secret(endpoint, world.vault.keyring) == secret


def test_deactivated_endpoints_get_nothing_and_the_message_is_dead(world, receiver):
    world.endpoint(receiver.url)
    [message_id] = _queue(world)
    with world.tx() as s:
        [endpoint] = webhooks.list_endpoints(s, world.admin)
        webhooks.deactivate_endpoint(s, world.admin, endpoint.id)
    assert _deliver(world, T0).dead == 1
    assert receiver.requests == []
    with world.tx() as s:
        assert "deactivated" in s.get(OutboxMessage, message_id).last_error
        assert _queue(world, subject="dec_2") == []  # inactive endpoints get no new messages
