"""Scheduled delivery, unsend, and the sender's resend and correction (issue #18): a scheduled gift is charged at
confirm and issued and emailed only at its time (by the queue's schedule, or by the sweep when that task was lost);
cancelling refunds exactly the balances charged and only before delivery, and a cancel racing the delivery job has
one winner; the API's deliverAt and cancel; the sender resends and corrects the address once."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlmodel import select

from app.clock import utcnow
from app.db import db_session, write_transaction
from app.domain.ledger import AccountKind
from app.domain.money import Money
from app.models import Account, AuditEvent, EmailMessage, Entry, GiftPageLink, Order, Partner, Transaction
from app.services import campaigns, catalog, consumers, ledger, orders
from tests.conftest import body_text
from tests.integration.api_client import call, ok
from tests.integration.conftest import page, redirect_path

FRIEND = "friend@example.com"


@pytest.fixture
def shop(session, make_partner, make_consumer, make_brand):
    partner = make_partner(funds="1000")
    consumer = make_consumer(partner, funds="100", name="Robin Buyer")
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    catalog.make_available(session, partner=partner, brand=brand)
    return type("Shop", (), {"partner": partner, "consumer": consumer, "brand": brand})


def place(session, shop, *, deliver_at=None, amount="25", channel="store"):
    recipient = orders.recipient_for(shop.consumer, send_to="someone", email=FRIEND, name="Friend", message="Enjoy!")
    return orders.place_order(
        session,
        consumer=shop.consumer,
        offer=catalog.offer(session, shop.partner, shop.brand.slug),
        face_value=Money.parse(amount, "USD"),
        recipient=recipient,
        idempotency_key=orders.new_idempotency_key(),
        deliver_at=deliver_at,
        channel=channel,
    )


def general(session, consumer) -> int:
    session.rollback()
    session.expire_all()
    return consumers.wallets(session, consumer)[0].general.amount


def fresh(session, order) -> Order:
    session.rollback()
    return session.get(Order, order.id, populate_existing=True)


def gift_emails(session) -> list[EmailMessage]:
    session.rollback()
    return list(session.exec(select(EmailMessage).where(EmailMessage.to == FRIEND, EmailMessage.kind == "gift_card")).all())


def run_due_tasks(app) -> int:
    """What a worker does when the clock reaches a scheduled task: run it (huey keeps it in its schedule till then)."""
    huey = app.extensions["queue"]
    due = huey.read_schedule(datetime.now(UTC).replace(tzinfo=None))
    for task in due:
        huey.execute(task)
    return len(due)


# --- scheduled delivery ----------------------------------------------------------------------------


def test_a_scheduled_gift_is_charged_at_confirm_and_emailed_only_at_its_time(app, session, shop):
    deliver_at = utcnow() + timedelta(hours=5)
    order = place(session, shop, deliver_at=deliver_at)
    assert fresh(session, order).status == "scheduled"
    assert general(session, shop.consumer) == 75_00  # charged now
    assert gift_emails(session) == []
    assert run_due_tasks(app) == 0  # not yet: the task waits in the queue's schedule
    with time_machine.travel(deliver_at - timedelta(minutes=1)):
        assert run_due_tasks(app) == 0
        orders.sweep_stale_orders(db_session())
        assert fresh(session, order).status == "scheduled" and gift_emails(session) == []
    with time_machine.travel(deliver_at + timedelta(seconds=1)):
        assert run_due_tasks(app) == 1
    order = fresh(session, order)
    assert order.status == "completed" and len(gift_emails(session)) == 1
    assert general(session, shop.consumer) == 75_00  # charged once
    assert ledger.ledger_problems(session) == []


def test_a_scheduled_gift_whose_task_was_lost_is_delivered_by_the_sweep(app, session, shop):
    deliver_at = utcnow() + timedelta(days=2)
    order = place(session, shop, deliver_at=deliver_at)
    app.extensions["queue"].flush()  # a restart with an emptied queue: the scheduled task is gone
    grace = timedelta(seconds=app.extensions["settings"].ORDER_SWEEP_AFTER_SECONDS)
    with time_machine.travel(deliver_at + grace - timedelta(seconds=5)):
        orders.sweep_stale_orders(db_session())  # the queue's schedule still has its chance
        assert fresh(session, order).status == "scheduled"
    with time_machine.travel(deliver_at + grace + timedelta(seconds=5)):
        assert orders.sweep_stale_orders(db_session()) == 1
    assert fresh(session, order).status == "completed" and len(gift_emails(session)) == 1


def test_a_delivery_time_in_the_past_or_beyond_a_year_is_refused(app, session, shop):
    from app.domain.errors import InvalidInput
    from app.domain.orders import check_deliver_at

    with pytest.raises(InvalidInput):
        check_deliver_at(utcnow() - timedelta(minutes=1), utcnow())
    with pytest.raises(InvalidInput):
        check_deliver_at(utcnow() + timedelta(days=366), utcnow())


# --- unsend --------------------------------------------------------------------------------------


def test_cancel_refunds_exactly_the_wallet_and_campaign_balances_charged_and_only_before_delivery(app, session, shop):
    campaign = campaigns.create_campaign(
        session,
        partner=shop.partner,
        name="Wellness",
        currency="USD",
        budget=Money.parse("100", "USD"),
        per_consumer_amount=Money.parse("20", "USD"),
        idempotency_key="create-wellness-1",
    ).campaign
    campaigns.add_members(session, campaign=campaign, consumer_ids=[shop.consumer.id])
    campaign_account = ledger.find_account(
        session, AccountKind.CAMPAIGN, "USD", partner_id=shop.partner.id, consumer_id=shop.consumer.id, campaign_id=campaign.id
    )
    balance = lambda: session.get(Account, campaign_account.id, populate_existing=True).balance  # noqa: E731
    session.rollback()
    assert balance() == 20_00
    order = place(session, shop, deliver_at=utcnow() + timedelta(days=1), amount="50")
    session.rollback()
    assert balance() == 0 and general(session, shop.consumer) == 70_00  # $20 campaign + $30 general
    cancelled = orders.cancel(session, order.id, actor="test")
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    session.rollback()
    assert balance() == 20_00 and general(session, shop.consumer) == 100_00
    again = orders.cancel(session, order.id, actor="test")  # idempotent: no second refund
    assert again.status == "cancelled"
    session.rollback()
    refunds = session.exec(select(Transaction).where(Transaction.order_id == order.id, Transaction.type == "refund")).all()
    assert len(refunds) == 1
    assert general(session, shop.consumer) == 100_00 and ledger.ledger_problems(session) == []
    # The delivery job finds a cancelled order and leaves it: no card, no email.
    with time_machine.travel(utcnow() + timedelta(days=2)):
        assert orders.fulfil(db_session(), order.id) == "skipped"
    assert fresh(session, order).status == "cancelled" and gift_emails(session) == []


def test_a_delivered_gift_cannot_be_cancelled(app, session, shop):
    order = place(session, shop)  # immediate: completed in the test queue
    assert fresh(session, order).status == "completed"
    with pytest.raises(orders.AlreadyDelivered):
        orders.cancel(session, order.id, actor="test")
    assert fresh(session, order).status == "completed" and general(session, shop.consumer) == 75_00


def test_the_unsend_window_holds_an_immediate_store_gift_so_it_can_be_cancelled(app, session, shop):
    with write_transaction(session):
        partner = session.get(Partner, shop.partner.id)
        partner.unsend_window_minutes = 10
        session.add(partner)
    order = fresh(session, place(session, shop))
    assert order.status == "scheduled"
    assert (
        timedelta(minutes=9) < order.deliver_at.replace(tzinfo=order.deliver_at.tzinfo or UTC) - utcnow() <= timedelta(minutes=10)
    )
    assert fresh(session, place(session, shop, channel="api")).status == "completed"  # the window is the store's
    assert orders.cancel(session, order.id, actor="test").status == "cancelled"
    assert general(session, shop.consumer) == 75_00


def test_a_cancel_racing_the_delivery_job_has_exactly_one_winner(app, session, shop):
    outcomes = []
    for _ in range(3):
        deliver_at = utcnow() + timedelta(minutes=5)
        order = place(session, shop, deliver_at=deliver_at)
        order_id = order.id
        start = threading.Barrier(2)
        results: dict[str, object] = {}

        def deliver(start=start, results=results, order_id=order_id):
            with app.app_context():
                start.wait()
                results["deliver"] = orders.fulfil(db_session(), order_id)

        def cancel(start=start, results=results, order_id=order_id):
            with app.app_context():
                start.wait()
                try:
                    results["cancel"] = orders.cancel(db_session(), order_id, actor="test").status
                except orders.AlreadyDelivered:
                    results["cancel"] = "refused"

        with time_machine.travel(deliver_at + timedelta(seconds=1), tick=True):
            threads = [threading.Thread(target=deliver), threading.Thread(target=cancel)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
        status = fresh(session, order).status
        assert (results["deliver"], results["cancel"], status) in {
            ("completed", "refused", "completed"),
            ("skipped", "cancelled", "cancelled"),
        }, results
        refunds = session.exec(select(Transaction).where(Transaction.order_id == order_id, Transaction.type == "refund")).all()
        assert len(refunds) == (1 if status == "cancelled" else 0)
        outcomes.append(status)
    assert ledger.ledger_problems(session) == []


# --- the API ---------------------------------------------------------------------------------------


def test_the_api_schedules_with_deliver_at_and_cancels(app, client, session, partner_with_key, make_consumer, make_brand):
    partner, credentials = partner_with_key(funds="1000")
    consumer = make_consumer(partner, funds="100")
    brand = make_brand("Cobalt Coffee")
    catalog.make_available(session, partner=partner, brand=brand)
    body = {
        "customerId": consumer.id,
        "brand": brand.slug,
        "amount": 25,
        "currency": "USD",
        "externalRefId": "PO-SCHED-1",
        "recipient": {"email": FRIEND, "name": "Pat"},
        "deliverAt": (utcnow() + timedelta(days=3)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    }
    for bad in ("tomorrow", "2030-01-01T09:00:00", (utcnow() - timedelta(hours=1)).isoformat()):
        refused = call(client, credentials, "POST", "/orders", body | {"deliverAt": bad, "externalRefId": "PO-BAD"})
        assert refused.status_code == 400, refused.get_json()
        assert (
            refused.get_json()["error"]["error"] == "VALIDATION_ERROR" and "deliverAt" in refused.get_json()["error"]["message"]
        )
    created = ok(call(client, credentials, "POST", "/orders", body))
    assert created["status"] == "scheduled" and created["deliverAt"].endswith("Z") and created["card"] is None
    assert ok(call(client, credentials, "POST", "/orders", body))["id"] == created["id"]  # same reference, same order
    assert ok(call(client, credentials, "GET", f"/orders/{created['id']}"))["status"] == "scheduled"
    cancelled = ok(call(client, credentials, "POST", f"/orders/{created['id']}/cancel"))
    assert cancelled["status"] == "cancelled" and cancelled["cancelledAt"]
    assert ok(call(client, credentials, "POST", f"/orders/{created['id']}/cancel"))["status"] == "cancelled"
    assert general(session, consumer) == 100_00
    delivered = ok(call(client, credentials, "POST", "/orders", body | {"externalRefId": "PO-NOW", "deliverAt": None}))
    refused = call(client, credentials, "POST", f"/orders/{delivered['id']}/cancel")
    assert refused.status_code == 402 and refused.get_json() == {
        "success": False,
        "error": {"error": "BUSINESS_RULE_ERROR", "message": orders.ALREADY_DELIVERED},
    }
    assert call(client, credentials, "POST", "/orders/ord_0000000000000000/cancel").status_code == 404
    document = client.get("/api/partner/v1/openapi.json").get_json()
    assert "/api/partner/v1/orders/{publicId}/cancel" in document["paths"]
    assert "deliverAt" in document["components"]["schemas"]["OrderCreate"]["properties"]
    assert "scheduled" in str(document["components"]["schemas"]["Order"]["properties"]["status"])


def test_an_api_retry_after_the_delivery_time_passed_returns_the_first_order(
    app, client, session, partner_with_key, make_consumer, make_brand
):
    partner, credentials = partner_with_key(funds="1000")
    consumer = make_consumer(partner, funds="100")
    brand = make_brand("Cobalt Coffee")
    catalog.make_available(session, partner=partner, brand=brand)
    deliver_at = utcnow() + timedelta(hours=1)
    body = {
        "customerId": consumer.id,
        "brand": brand.slug,
        "amount": 25,
        "currency": "USD",
        "externalRefId": "PO-LATE-RETRY",
        "recipient": {"email": FRIEND, "name": "Pat"},
        "deliverAt": deliver_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    }
    created = ok(call(client, credentials, "POST", "/orders", body))
    with time_machine.travel(deliver_at + timedelta(hours=1)):
        again = ok(call(client, credentials, "POST", "/orders", body))  # the client never saw the first answer
        assert again["id"] == created["id"] and again["deliverAt"] == created["deliverAt"]
        fresh_ref = call(client, credentials, "POST", "/orders", body | {"externalRefId": "PO-LATE-NEW"})
        assert fresh_ref.status_code == 400 and "deliverAt" in fresh_ref.get_json()["error"]["message"]
    assert general(session, consumer) == 75_00  # charged once


# --- the store: schedule, cancel, resend, correct ----------------------------------------------------


def checkout(store, brand, **extra) -> str:
    form = page(store.get(f"/brands/{brand.slug}/checkout?amount=25"))
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    fields = {"amount": "25", "send_to": "someone", "email": FRIEND, "name": "Friend", "sender_name": "Casey", "message": ""}
    placed = store.post(f"/brands/{brand.slug}/orders", {**fields, "idempotency_key": key, **extra})
    assert placed.status_code == 303, page(placed)
    return redirect_path(placed).removeprefix(f"/s/{store.partner.slug}")


@pytest.fixture
def brand_in_store(session, store, make_brand):
    brand = make_brand("Harvest Lane Grocers", denominations="1000,2500")
    catalog.make_available(session, partner=store.partner, brand=brand)
    return brand


def test_the_store_schedules_in_the_senders_time_zone_and_the_sender_cancels(app, session, store, signed_in, brand_in_store):
    local = (utcnow() + timedelta(days=10)).replace(second=0, microsecond=0)
    shown_in_paris = (local + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    form = {"deliver_on": shown_in_paris, "deliver_offset": "60", "deliver_zone": "Europe/Paris"}
    review = store.post(f"/brands/{brand_in_store.slug}/checkout/review", {"amount": "25", "send_to": "me", **form})
    assert review.status_code == 200 and "(Europe/Paris)" in page(review)
    path = checkout(store, brand_in_store, **form)
    order = session.exec(select(Order).where(Order.consumer_id == signed_in.id)).one()
    assert order.status == "scheduled" and order.deliver_at.replace(tzinfo=UTC) == local.replace(tzinfo=UTC)
    assert "Scheduled" in page(store.get(path)) and "Cancel this gift" in page(store.get(path))
    past = store.post(
        f"/brands/{brand_in_store.slug}/checkout/review",
        {"amount": "25", "send_to": "me", "deliver_on": "2001-01-01T09:00", "deliver_offset": "0"},
    )
    assert past.status_code == 422 and "has passed" in page(past)
    cancelled = store.post(f"{path}/cancel", {}, headers={"HX-Request": "true"})
    assert cancelled.status_code == 200 and "Cancelled" in page(cancelled)
    assert cancelled.headers["HX-Trigger"] == "wallet-changed"
    assert fresh(session, order).status == "cancelled" and general(session, signed_in.model) == 100_00
    late = store.post(f"{path}/cancel", {})
    assert late.status_code == 200  # cancelled already: the same page, nothing refunded twice
    assert general(session, signed_in.model) == 100_00


def test_the_sender_resends_and_corrects_the_address_once_before_it_is_opened(
    app, session, store, signed_in, brand_in_store, mailbox
):
    path = checkout(store, brand_in_store)
    order = session.exec(select(Order).where(Order.consumer_id == signed_in.id)).one()
    assert fresh(session, order).status == "completed"
    resent = store.post(f"{path}/resend", {})
    assert resent.status_code == 200 and "sent again" in page(resent)
    assert len(gift_emails(session)) == 2
    old_links = session.exec(select(GiftPageLink).where(GiftPageLink.order_id == order.id)).all()
    corrected = store.post(f"{path}/recipient", {"email": "friend@example.org"})
    assert corrected.status_code == 200 and "friend@example.org" in page(corrected)
    order = fresh(session, order)
    assert order.recipient_email == "friend@example.org" and order.delivery_changes == 2 and order.sender_corrected_at
    assert all(session.get(GiftPageLink, link.id, populate_existing=True).revoked_at for link in old_links)
    session.rollback()
    assert session.exec(select(EmailMessage).where(EmailMessage.to == "friend@example.org")).first() is not None
    notice = mailbox.last_to(signed_in.email)  # the account's owner hears of it, whoever was signed in
    assert notice["Subject"].endswith("now goes to friend@example.org")
    assert "You corrected the recipient" in body_text(notice) and FRIEND in body_text(notice)
    trail = session.exec(select(AuditEvent.action, AuditEvent.actor).where(AuditEvent.subject_id == order.public_id)).all()
    assert sorted(trail) == [
        ("order.sender_correct_recipient", f"consumer:{signed_in.id}"),
        ("order.sender_resend", f"consumer:{signed_in.id}"),
    ]
    again = store.post(f"{path}/recipient", {"email": "friend@example.net"})
    assert again.status_code == 422 and "already corrected" in page(again), page(again)
    assert fresh(session, order).recipient_email == "friend@example.org"


def test_no_correction_once_the_gift_page_was_opened(app, session, store, signed_in, brand_in_store):
    path = checkout(store, brand_in_store)
    order = session.exec(select(Order).where(Order.consumer_id == signed_in.id)).one()
    with write_transaction(session):
        session.get(Order, order.id).opened_at = utcnow()
    refused = store.post(f"{path}/recipient", {"email": "friend@example.org"})
    assert refused.status_code == 422 and "already opened" in page(refused)
    assert fresh(session, order).recipient_email == FRIEND


def test_an_entry_of_the_cancel_refund_mirrors_each_debit_entry(app, session, shop):
    order = place(session, shop, deliver_at=utcnow() + timedelta(hours=1))
    orders.cancel(session, order.id, actor="test")
    order = fresh(session, order)
    debit = sorted(
        (e.account_id, e.amount) for e in session.exec(select(Entry).where(Entry.transaction_id == order.debit_transaction_id))
    )
    refund = session.exec(select(Transaction).where(Transaction.order_id == order.id, Transaction.type == "refund")).one()
    back = sorted((e.account_id, -e.amount) for e in session.exec(select(Entry).where(Entry.transaction_id == refund.id)))
    assert debit == back
