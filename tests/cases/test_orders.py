"""Removal orders: the one-hour clock, escalations once each, responses, late answers,
withheld notices. Clocks are passed in; nothing sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from cases.world import T0
from countersignal.cases import orders, service
from countersignal.cases.effects import release_withheld_notices
from countersignal.cases.models import Case, Notice, RemovalOrder
from countersignal.errors import Conflict, InvalidInput


class RecordingNotifier:
    """A notifier plug-in that keeps what it was told (the interface, not a mock of one)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def notify(self, session, *, organisation_id, event, subject_id, data, now) -> None:
        self.calls.append((data["order_id"], data["threshold_minutes"]))


def receive(world, received_at: datetime, **kwargs):
    kwargs.setdefault("notify_provider", True)
    with world.tx() as s:
        return orders.receive_order(
            s, world.alice, authority="Police nationale", authority_country="FR",
            authority_reference=f"PN-{received_at:%H%M%S}",
            legal_basis="Regulation (EU) 2021/784 Art. 3", content_id="video-9",
            content_reference="https://platform.example/v/9", received_at=received_at,
            now=received_at + timedelta(minutes=2), **kwargs)


def test_deadline_is_one_hour_from_receipt_and_times_are_utc(world):
    order = receive(world, T0)
    assert order.deadline == T0 + timedelta(hours=1)
    with world.tx() as s:
        row = s.get(RemovalOrder, order.id)
        assert row.deadline.tzinfo is not None and row.deadline == T0 + timedelta(hours=1)
        clock = orders.clock(row, T0 + timedelta(minutes=50))
        assert clock.remaining == timedelta(minutes=10) and not clock.overdue
        assert orders.clock(row, T0 + timedelta(minutes=61)).overdue
    with world.tx() as s, pytest.raises(InvalidInput, match="timezone-aware"):
        orders.receive_order(s, world.alice, authority="a", authority_country="FR",
                             authority_reference="r", legal_basis="b", content_reference="c",
                             received_at=T0.replace(tzinfo=None))


def test_escalations_fire_at_15_and_5_minutes_left_once_each(world):
    order = receive(world, T0)
    notifier = RecordingNotifier()

    def tick(minutes_after_receipt: float):
        with world.tx() as s:
            return orders.run_escalations(s, notifier,
                                          now=T0 + timedelta(minutes=minutes_after_receipt))

    assert tick(44) == []
    assert tick(45) == [(order.id, 15)]
    assert tick(46) == []
    assert tick(55) == [(order.id, 5)]
    assert tick(56) == []
    assert tick(60.5) == [(order.id, 0)]
    assert tick(70) == []
    assert notifier.calls == [(order.id, 15), (order.id, 5), (order.id, 0)]
    with world.tx() as s:
        fired = [e.minutes_left for e in s.get(RemovalOrder, order.id).escalations]
    assert fired == [15, 5, 0]


def test_a_late_worker_fires_every_missed_escalation_and_answered_orders_none(world):
    late = receive(world, T0)
    answered = receive(world, T0 + timedelta(seconds=1))
    with world.tx() as s:
        orders.respond_to_order(s, world.alice, answered.id, outcome="done",
                                now=T0 + timedelta(minutes=20))
    notifier = RecordingNotifier()
    with world.tx() as s:
        fired = orders.run_escalations(s, notifier, now=T0 + timedelta(minutes=57))
    assert sorted(fired) == [(late.id, 5), (late.id, 15)]


def test_responses_done_not_done_and_late(world):
    on_time, late, refused = (receive(world, T0 + timedelta(seconds=i)) for i in range(3))
    with world.tx() as s:
        orders.respond_to_order(s, world.alice, on_time.id, outcome="done",
                                now=T0 + timedelta(minutes=40))
        orders.respond_to_order(s, world.alice, late.id, outcome="done",
                                now=T0 + timedelta(minutes=75))
        with pytest.raises(InvalidInput, match="reason"):
            orders.respond_to_order(s, world.alice, refused.id, outcome="not_done",
                                    explanation="x", now=T0)
        with pytest.raises(InvalidInput, match="explain"):
            orders.respond_to_order(s, world.alice, refused.id, outcome="not_done",
                                    reason="manifest_error", now=T0)
        orders.respond_to_order(s, world.alice, refused.id, outcome="not_done",
                                reason="manifest_error",
                                explanation="The URL points to a news article about the attack.",
                                now=T0 + timedelta(minutes=30))
        with pytest.raises(Conflict):
            orders.respond_to_order(s, world.alice, on_time.id, outcome="done", now=T0)
    with world.tx() as s:
        rows = {o.id: o for o in orders.list_orders(s, world.alice)}
        assert orders.clock(rows[on_time.id]).late is False
        assert orders.clock(rows[late.id]).late is True
        assert rows[refused.id].status == "not_done"
        assert rows[refused.id].response_reason == "manifest_error"


def test_removing_the_content_answers_the_order(world):
    order = receive(world, T0)
    with world.tx() as s:
        case_id = s.scalar(select(Case.id).where(Case.removal_order_id == order.id))
    world.decide(case_id, "remove", now=T0 + timedelta(minutes=12))
    with world.tx() as s:
        row = s.get(RemovalOrder, order.id)
        assert (row.status, row.responded_at) == ("done", T0 + timedelta(minutes=12))
        assert row.responded_by == "user:usr_alice"
        detail = service.get_case(s, world.alice, case_id)
        doc = detail.statements[0].document
        assert doc["source_type"] == "SOURCE_TYPE_OTHER_NOTIFICATION"
        assert doc["source_identity"] == "Police nationale"
        assert doc["automated_detection"] == "No"


def test_withheld_notice_is_released_when_the_authority_period_ends(world):
    with pytest.raises(InvalidInput, match="reason"):
        receive(world, T0, notify_provider=False)
    until = T0 + timedelta(weeks=6)
    order = receive(world, T0, notify_provider=False, withhold_until=until,
                    withhold_reason="ongoing investigation (Art. 11(3))")
    with world.tx() as s:
        case_id = s.scalar(select(Case.id).where(Case.removal_order_id == order.id))
    world.decide(case_id, "remove", now=T0 + timedelta(minutes=5))
    with world.tx() as s:
        [notice] = s.scalars(select(Notice).where(Notice.case_id == case_id)).all()
        assert notice.status == "withheld" and notice.sent_at is None
        assert release_withheld_notices(s, now=until - timedelta(seconds=1)) == 0
    with world.tx() as s:
        assert release_withheld_notices(s, now=until) == 1
    with world.tx() as s:
        notice = s.scalar(select(Notice).where(Notice.case_id == case_id))
        assert (notice.status, notice.sent_at) == ("sent", until)


class SmtpSink:
    """A minimal real SMTP server on loopback that keeps each message's DATA."""

    def __init__(self) -> None:
        import socketserver
        import threading

        sink = self
        self.messages: list[str] = []

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 sink ESMTP\r\n")
                while line := self.rfile.readline():
                    verb = line.strip().split(b" ")[0].upper()
                    if verb == b"DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        body = []
                        while (part := self.rfile.readline()) not in (b".\r\n", b""):
                            body.append(part.decode())
                        sink.messages.append("".join(body))
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_email_notifier_sends_escalations_over_smtp(world):
    sink = SmtpSink()
    try:
        order = receive(world, T0)
        notifier = orders.EmailNotifier("127.0.0.1", sink.server.server_address[1],
                                        "countersignal@platform.example",
                                        ("oncall@platform.example",))
        with world.tx() as s:
            assert orders.run_escalations(s, notifier, now=T0 + timedelta(minutes=50)) == [
                (order.id, 15)]
    finally:
        sink.close()
    [message] = sink.messages
    assert f"removal order {order.id}: 10 minutes left" in message
    assert "authority_reference: PN-090000" in message


def test_concurrent_workers_fire_each_escalation_once(world, receiver):
    import threading

    from countersignal.actions.models import OutboxMessage

    world.endpoint(receiver.url)
    order = receive(world, T0)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            with world.tx() as s:
                orders.run_escalations(s, orders.WebhookNotifier(),
                                       now=T0 + timedelta(minutes=56))
        except BaseException as exc:  # checked below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with world.tx() as s:
        fired = sorted(e.minutes_left for e in s.get(RemovalOrder, order.id).escalations)
        keys = sorted(s.scalars(select(OutboxMessage.idempotency_key).where(
            OutboxMessage.event == "removal_order.escalation")))
    assert fired == [5, 15]
    assert keys == [f"removal_order.escalation:{order.id}:15",
                    f"removal_order.escalation:{order.id}:5"]
    # a worker that lost the race rolled back whole (its webhook with it), never half-fired
    assert all("UniqueViolation" in repr(e) or "locked" in repr(e) for e in errors), errors
